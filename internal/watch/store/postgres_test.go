package store

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/watch/model"
)

// pgServer is a private PostgreSQL server for the tests: a fresh cluster in
// a temporary directory that listens on a Unix socket only (no TCP).
type pgServer struct {
	bin    string // directory of initdb, pg_ctl, postgres
	dir    string // cluster root: data/, the socket, the log
	cred   *syscall.Credential
	dbSeq  atomic.Int64
	admin  *sql.DB
	tb     testing.TB
	stderr bytes.Buffer
}

// findPGBin returns the directory holding initdb, pg_ctl and postgres.
func findPGBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if fileExists(filepath.Join(dir, "pg_ctl")) && fileExists(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	slices.SortFunc(found, func(a, b string) int { return pgMajor(b) - pgMajor(a) })
	for _, p := range found {
		dir := filepath.Dir(p)
		if fileExists(filepath.Join(dir, "pg_ctl")) && fileExists(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("initdb, pg_ctl and postgres not found on PATH or under /usr/lib/postgresql/*/bin")
}

func pgMajor(initdb string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return n
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// startPostgres starts a private server and stops it when t ends. Without
// the binaries the test is skipped, or fails when CI is "true".
func startPostgres(t *testing.T) *pgServer {
	t.Helper()
	bin, err := findPGBin()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("postgres: %v (CI=true: install the postgresql package)", err)
		}
		t.Skipf("postgres: %v", err)
	}
	// A short path: a Unix socket path is limited to about 100 bytes.
	dir, err := os.MkdirTemp("/tmp", "mwpg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &pgServer{bin: bin, dir: dir, tb: t}
	if os.Geteuid() == 0 {
		// postgres refuses to run as root: run the cluster as nobody,
		// owning the temporary directory.
		u, err := user.Lookup("nobody")
		if err != nil {
			t.Fatalf("postgres: running as root and no user nobody: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	data := filepath.Join(dir, "data")
	s.run(t, 60*time.Second, "initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync",
		"--encoding=UTF8", "--locale=C")
	s.run(t, 60*time.Second, "pg_ctl", "start", "-w", "-t", "30", "-D", data, "-l", filepath.Join(dir, "log"),
		"-o", "-c listen_addresses='' -k "+dir+" -F -c max_connections=50")
	t.Cleanup(func() {
		if s.admin != nil {
			s.admin.Close()
		}
		s.run(t, 60*time.Second, "pg_ctl", "stop", "-w", "-m", "fast", "-D", data)
	})
	s.admin, err = sql.Open("pgx", s.dsn("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.admin.PingContext(t.Context()); err != nil {
		t.Fatalf("postgres: connect: %v\n%s", err, s.log())
	}
	return s
}

func (s *pgServer) dsn(db string) string {
	return "postgres://postgres@/" + db + "?host=" + s.dir + "&sslmode=disable"
}

func (s *pgServer) log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "log"))
	return string(b)
}

// run runs one of the server programs, as the unprivileged user when the
// test runs as root.
func (s *pgServer) run(t *testing.T, timeout time.Duration, prog string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, prog), args...)
	cmd.Dir = s.dir
	cmd.Env = []string{"PATH=" + s.bin + ":/usr/bin:/bin", "LC_ALL=C", "TZ=UTC"}
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("postgres: %s %v: %v\n%s\n%s", prog, args, err, out, s.log())
	}
}

// newDB creates an empty database and returns its address.
func (s *pgServer) newDB(t *testing.T) string {
	name := fmt.Sprintf("watch_%d", s.dbSeq.Add(1))
	if _, err := s.admin.ExecContext(t.Context(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("postgres: create database: %v", err)
	}
	return s.dsn(name)
}

func TestPostgres(t *testing.T) {
	srv := startPostgres(t)
	pg := backend{name: "postgres", newAddr: srv.newDB}
	runSuite(t, pg)

	t.Run("SameAsSQLite", func(t *testing.T) {
		want := scenario(t, sqliteBackend())
		got := scenario(t, pg)
		if len(got) != len(want) {
			t.Fatalf("postgres stored %d events, sqlite %d", len(got), len(want))
		}
		for i := range want {
			if !sameEvent(got[i], want[i]) {
				t.Errorf("event %d:\npostgres %+v\nsqlite   %+v", i, got[i], want[i])
			}
		}
	})
}

func sameEvent(a, b model.Event) bool {
	return a.ID == b.ID && a.Time.Equal(b.Time) && a.Type == b.Type && a.URL == b.URL && a.Subject == b.Subject &&
		bytes.Equal(a.Detail, b.Detail) && a.RunID == b.RunID && a.Key == b.Key
}
