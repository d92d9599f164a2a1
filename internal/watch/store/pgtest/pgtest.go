//go:build unix

// Package pgtest starts a private PostgreSQL server for tests of packages
// that use the watch store: a fresh cluster in a temporary directory,
// listening on a Unix socket only (never TCP), stopped when the test ends.
package pgtest

import (
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

	// The driver the store uses.
	_ "github.com/jackc/pgx/v5/stdlib"
)

// Server is a running private PostgreSQL server.
type Server struct {
	bin   string
	dir   string
	cred  *syscall.Credential
	seq   atomic.Int64
	admin *sql.DB
}

// binDir returns the directory holding initdb, pg_ctl and postgres.
func binDir() (string, error) {
	ok := func(dir string) bool {
		for _, p := range []string{"initdb", "pg_ctl", "postgres"} {
			if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
				return false
			}
		}
		return true
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		if ok(filepath.Dir(p)) {
			return filepath.Dir(p), nil
		}
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	major := func(p string) int {
		n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
		return n
	}
	slices.SortFunc(found, func(a, b string) int { return major(b) - major(a) })
	for _, p := range found {
		if ok(filepath.Dir(p)) {
			return filepath.Dir(p), nil
		}
	}
	return "", fmt.Errorf("initdb, pg_ctl and postgres not found on PATH or under /usr/lib/postgresql/*/bin")
}

// Start starts a server that stops when t ends. Without the PostgreSQL
// programs the test is skipped, or fails when the CI variable is "true".
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := binDir()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pgtest: %v (CI=true: install the postgresql package)", err)
		}
		t.Skipf("pgtest: %v", err)
	}
	// A short path: Unix socket paths are limited to about 100 bytes.
	dir, err := os.MkdirTemp("/tmp", "mwpgt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &Server{bin: bin, dir: dir}
	if os.Geteuid() == 0 {
		// postgres refuses to run as root.
		u, err := user.Lookup("nobody")
		if err != nil {
			t.Fatalf("pgtest: running as root and no user nobody: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	data := filepath.Join(dir, "data")
	s.run(t, "initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "--encoding=UTF8", "--locale=C")
	s.run(t, "pg_ctl", "start", "-w", "-t", "30", "-D", data, "-l", filepath.Join(dir, "log"),
		"-o", "-c listen_addresses='' -k "+dir+" -F -c max_connections=50")
	t.Cleanup(func() {
		if s.admin != nil {
			s.admin.Close()
		}
		s.run(t, "pg_ctl", "stop", "-w", "-m", "fast", "-D", data)
	})
	s.admin, err = sql.Open("pgx", s.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.admin.PingContext(context.Background()); err != nil {
		t.Fatalf("pgtest: connect: %v\n%s", err, s.Log())
	}
	return s
}

// DSN returns the address of database db on the server.
func (s *Server) DSN(db string) string {
	return "postgres://postgres@/" + db + "?host=" + s.dir + "&sslmode=disable"
}

// Log returns the server log.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "log"))
	return string(b)
}

func (s *Server) run(t testing.TB, prog string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, prog), args...)
	cmd.Dir = s.dir
	cmd.Env = []string{"PATH=" + s.bin + ":/usr/bin:/bin", "LC_ALL=C", "TZ=UTC"}
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pgtest: %s %v: %v\n%s\n%s", prog, args, err, out, s.Log())
	}
}

// NewDB creates an empty database and returns its address.
func (s *Server) NewDB(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("watch_%d", s.seq.Add(1))
	if _, err := s.admin.ExecContext(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	return s.DSN(name)
}
