package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/lab"
	"github.com/mcpwarden/mcpwarden/internal/target"
	"github.com/mcpwarden/mcpwarden/internal/watch/model"
	"github.com/mcpwarden/mcpwarden/internal/watch/store"
	"github.com/mcpwarden/mcpwarden/internal/watch/store/pgtest"
)

// workerArgsEnv carries the command line of a worker child process.
const workerArgsEnv = "MCPWARDEN_TEST_WORKER_ARGS"

// TestWorkerProcess is not a test: it is the body of the worker child
// processes that the scale-out tests start (the test binary run again).
func TestWorkerProcess(t *testing.T) {
	raw := os.Getenv(workerArgsEnv)
	if raw == "" {
		t.Skip("runs only as a worker child process")
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		fmt.Fprintf(os.Stderr, "worker args: %v\n", err)
		os.Exit(ExitError)
	}
	os.Exit(Run(context.Background(), args, &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Getenv: os.Getenv, IsTerminal: func(io.Writer) bool { return false }}))
}

// worker is a running worker child process.
type worker struct {
	cmd  *exec.Cmd
	out  *lockedBuf
	done chan error
}

type lockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startWorker(t *testing.T, args ...string) *worker {
	t.Helper()
	raw, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^TestWorkerProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), workerArgsEnv+"="+string(raw))
	w := &worker{cmd: cmd, out: &lockedBuf{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = w.out, w.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { w.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-w.done
	})
	return w
}

func (w *worker) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-w.done:
		w.done <- err
		return err
	case <-time.After(60 * time.Second):
		t.Fatalf("worker %v did not finish:\n%s", w.cmd.Args, w.out)
		return nil
	}
}

// tarpit accepts connections and never answers until closed.
type tarpit struct {
	ln       net.Listener
	accepted chan struct{}
	mu       sync.Mutex
	conns    []net.Conn
}

func startTarpit(t *testing.T, addr string) *tarpit {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tp := &tarpit{ln: ln, accepted: make(chan struct{}, 100)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tp.mu.Lock()
			tp.conns = append(tp.conns, c)
			tp.mu.Unlock()
			tp.accepted <- struct{}{}
		}
	}()
	t.Cleanup(tp.close)
	return tp
}

func (tp *tarpit) close() {
	tp.ln.Close()
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for _, c := range tp.conns {
		c.Close()
	}
	tp.conns = nil
}

// shardOf returns the shard of count that scans the service addr.
func shardOf(t *testing.T, targets []string, count int, addr string) int {
	t.Helper()
	for i := range count {
		st, err := target.NewStream(&target.Options{Shard: target.Shard{Index: i, Count: count}}, target.SpecInputs(targets...)...)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		err = st.Each(t.Context(), func(s target.Service) error {
			if net.JoinHostPort(s.Host, fmt.Sprint(s.Port)) == addr {
				found = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if found {
			return i
		}
	}
	t.Fatalf("no shard of %d scans %s", count, addr)
	return -1
}

// eventKeys sums up events as "type url", sorted.
func eventKeys(evs []model.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, string(e.Type)+" "+e.URL)
	}
	slices.Sort(out)
	return out
}

func storedEvents(t *testing.T, db string) []model.Event {
	t.Helper()
	st, err := store.Open(t.Context(), db, &store.Options{NoRecover: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, err := st.Events(t.Context(), time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func readyBatches(t *testing.T, db, group string) []store.Batch {
	t.Helper()
	st, err := store.Open(t.Context(), db, &store.Options{NoRecover: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b, err := st.(store.Workers).ReadyBatches(t.Context(), group)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestScaleOutSQLite(t *testing.T) {
	testScaleOut(t, "sqlite:"+filepath.Join(t.TempDir(), "watch.db"), "127.0.0.181")
}

func TestScaleOutPostgres(t *testing.T) {
	srv := pgtest.Start(t)
	testScaleOut(t, srv.NewDB(t), "127.0.0.191")
}

// testScaleOut runs sharded scan workers as separate processes against
// one database and derives events from their batches with watch.
func testScaleOut(t *testing.T, db, firstIP string) {
	const shards = 3
	ctx := t.Context()
	l, err := lab.StartLab(ctx, &lab.LabOptions{FirstIP: firstIP,
		Kinds: []lab.Kind{lab.KindOpenStreamable, lab.KindOAuth, lab.KindOpenStateless, lab.KindBasic, lab.KindWeb}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var targets []string
	for _, s := range l.Servers {
		targets = append(targets, s.Addr)
	}
	// A service that holds the connection open: the worker scanning it
	// is still busy when it is killed.
	last := l.Servers[len(l.Servers)-1].Addr
	host, _, _ := net.SplitHostPort(last)
	ip := net.ParseIP(host).To4()
	ip[3]++
	tp := startTarpit(t, net.JoinHostPort(ip.String(), "0"))
	tpAddr := tp.ln.Addr().String()
	targets = append(targets, tpAddr)
	slow := shardOf(t, targets, shards, tpAddr)

	scanArgs := func(batch string, shard int, extra ...string) []string {
		a := []string{"scan", "--db", db, "--batch", batch, "--group", "fleet", "--shard", fmt.Sprintf("%d/%d", shard, shards),
			"-o", "jsonl", "--output-file", os.DevNull, "--fail-on", "none", "--no-progress",
			"--connect-timeout", "2s", "--timeout", "20s", "--service-timeout", "40s"}
		return append(append(a, extra...), targets...)
	}
	watchOnce := func() (int, string) {
		code, _, errOut := run(t, ctx, "", "watch", "--workers", "--name", "fleet", "--db", db, "--once")
		return code, errOut
	}

	// Batch 1: every shard but the slow one completes; the slow one is
	// killed with SIGKILL in the middle of its scan.
	var ws []*worker
	for i := range shards {
		if i != slow {
			ws = append(ws, startWorker(t, scanArgs("job-1", i)...))
		}
	}
	for _, w := range ws {
		if err := w.wait(t); err != nil {
			t.Fatalf("worker: %v\n%s", err, w.out)
		}
		if !strings.Contains(w.out.String(), "stored shard") {
			t.Fatalf("worker did not store its shard:\n%s", w.out)
		}
	}
	killed := startWorker(t, scanArgs("job-1", slow)...)
	select {
	case <-tp.accepted:
	case <-time.After(30 * time.Second):
		t.Fatalf("the slow worker never reached the tarpit:\n%s", killed.out)
	}
	if err := killed.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed.wait(t)
	if strings.Contains(killed.out.String(), "stored shard") {
		t.Fatalf("the killed worker stored its shard:\n%s", killed.out)
	}
	if b := readyBatches(t, db, "fleet"); len(b) != 0 {
		t.Fatalf("batch ready with a shard missing: %+v", b)
	}
	if code, errOut := watchOnce(); code != ExitOK || !strings.Contains(errOut, "0 new events") {
		t.Fatalf("watch with an incomplete batch: exit %d\n%s", code, errOut)
	}
	if evs := storedEvents(t, db); len(evs) != 0 {
		t.Fatalf("events from an incomplete batch: %v", eventKeys(evs))
	}

	// The retry (the Job's next pod) completes the batch; the tarpit is
	// gone by then, so its service is closed.
	tp.close()
	retry := startWorker(t, scanArgs("job-1", slow)...)
	if err := retry.wait(t); err != nil {
		t.Fatalf("retry: %v\n%s", err, retry.out)
	}
	// A watch killed after claiming the batch and before completing its
	// run: the next watch process discards that run and derives the batch.
	crashedClaim(t, db, "fleet", "job-1")

	code, errOut := watchOnce()
	if code != ExitOK {
		t.Fatalf("watch: exit %d\n%s", code, errOut)
	}
	got := eventKeys(storedEvents(t, db))
	t.Logf("slow shard %d; events of batch 1:\n  %s", slow, strings.Join(got, "\n  "))

	// The same targets scanned by one unsharded watch give the same events.
	ref := "sqlite:" + filepath.Join(t.TempDir(), "ref.db")
	refArgs := append([]string{"watch", "--once", "--name", "fleet", "--db", ref, "--connect-timeout", "2s"}, targets...)
	if code, _, errOut := run(t, ctx, "", refArgs...); code != ExitOK {
		t.Fatalf("reference watch: exit %d\n%s", code, errOut)
	}
	want := eventKeys(storedEvents(t, ref))
	if !slices.Equal(got, want) {
		t.Fatalf("events from the workers:\n  %s\nwant (one unsharded watch):\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for _, s := range l.Servers {
		k := "endpoint.new " + s.URL
		if s.Kind.IsMCP() != slices.Contains(got, k) {
			t.Errorf("%s: endpoint.new stored = %v, want %v", s.Kind, !s.Kind.IsMCP(), s.Kind.IsMCP())
		}
	}

	// A restart of the watch derives nothing twice.
	if code, errOut := watchOnce(); code != ExitOK || !strings.Contains(errOut, "0 new events") {
		t.Fatalf("second watch: exit %d\n%s", code, errOut)
	}
	if again := eventKeys(storedEvents(t, db)); !slices.Equal(again, got) {
		t.Fatalf("events after a restart:\n%v\nwant\n%v", again, got)
	}
	// A late re-run of a shard of a consumed batch is refused.
	late := startWorker(t, scanArgs("job-1", 0)...)
	if err := late.wait(t); err == nil || !strings.Contains(late.out.String(), "batch already consumed") {
		t.Fatalf("re-run of a consumed batch: %v\n%s", err, late.out)
	}

	// Batch 2: one server is gone; all shards run at once.
	gone := l.Server(lab.KindOAuth)
	gone.Close()
	ws = nil
	for i := range shards {
		ws = append(ws, startWorker(t, scanArgs("job-2", i)...))
	}
	for _, w := range ws {
		if err := w.wait(t); err != nil {
			t.Fatalf("worker: %v\n%s", err, w.out)
		}
	}
	if code, errOut := watchOnce(); code != ExitOK {
		t.Fatalf("watch: exit %d\n%s", code, errOut)
	}
	all := storedEvents(t, db)
	newEvs := eventKeys(all[len(got):])
	if want := []string{"endpoint.gone " + gone.URL}; !slices.Equal(newEvs, want) {
		t.Fatalf("events of batch 2 = %v, want %v", newEvs, want)
	}
}

// crashedClaim leaves a run that claimed batch and never completed, as a
// watch process killed in the middle of deriving it would.
func crashedClaim(t *testing.T, db, group, batch string) {
	t.Helper()
	st, err := store.Open(t.Context(), db, &store.Options{NoRecover: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run, err := st.BeginRun(t.Context(), group)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.(store.Workers).ClaimBatch(t.Context(), batch, run); err != nil {
		t.Fatal(err)
	}
	if b := readyBatches(t, db, group); len(b) != 0 {
		t.Fatalf("claimed batch still ready: %+v", b)
	}
}

func TestScanWorkerFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"batch without db", []string{"--batch", "b1"}, []string{"--batch: needs --db"}},
		{"group without db", []string{"--group", "fleet"}, []string{"--group: needs --db"}},
		{"db without batch", []string{"--db", "sqlite:/nonexistent/x.db"}, []string{"--batch: required with --db"}},
		{"bad db and batch", []string{"--db", "mysql://x", "--batch", "a b", "--group", "no/slash"},
			[]string{"--db: want postgres://", `--batch: batch id "a b"`, `--group "no/slash"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"scan", "127.0.0.1:1"}, tc.args...)
			code, _, errOut := run(t, t.Context(), "", args...)
			if code != ExitError {
				t.Fatalf("exit %d, want %d\n%s", code, ExitError, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("missing %q in:\n%s", w, errOut)
				}
			}
		})
	}
	// A database that cannot be opened fails before any probe.
	code, _, errOut := run(t, t.Context(), "", "scan", "127.0.0.1:1", "--db", "sqlite:"+filepath.Join(t.TempDir(), "no", "dir", "x.db"), "--batch", "b")
	if code != ExitError || !strings.Contains(errOut, "--db:") {
		t.Fatalf("unopenable db: exit %d\n%s", code, errOut)
	}
}

func TestWatchWorkersFlag(t *testing.T) {
	code, _, errOut := run(t, t.Context(), "", "watch", "--workers", "127.0.0.1", "--once", "--db", "sqlite:"+filepath.Join(t.TempDir(), "w.db"))
	if code != ExitError || !strings.Contains(errOut, "--workers: the records come from") {
		t.Fatalf("--workers with targets: exit %d\n%s", code, errOut)
	}
	// No batch yet: a cycle that derives nothing.
	code, _, errOut = run(t, t.Context(), "", "watch", "--workers", "--once", "--db", "sqlite:"+filepath.Join(t.TempDir(), "w.db"))
	if code != ExitOK || !strings.Contains(errOut, "0 new events") {
		t.Fatalf("--workers without batches: exit %d\n%s", code, errOut)
	}
}
