package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/lab"
	"github.com/mcpwarden/mcpwarden/internal/watch/model"
	"github.com/mcpwarden/mcpwarden/internal/watch/store"
)

// runCLI runs the command line in-process.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(t.Context(), args, &Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWatchUsageErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.yaml", "groups: [{name: a, targets: [127.0.0.1]}]\n")
	badCfg := writeFile(t, dir, "bad.yaml", "groups: [{name: a}]\nalerts: [{name: x, type: pager}]\n")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"no targets", []string{"watch", "--once"}, []string{"no targets"}},
		{"bad flag", []string{"watch", "--bogus"}, []string{"flag provided but not defined: -bogus"}},
		{"many problems", []string{"watch", "127.0.0.1", "-p", "0-99999", "--paths", "mcp", "--interval", "10ms", "--rate", "-1", "--db", "mysql://x"},
			[]string{"-p:", `--paths: "mcp"`, "--interval: 10ms is shorter", "--rate: must not be negative", "--db: want sqlite:PATH"}},
		{"bad target", []string{"watch", "10.0.0.0/33"}, []string{`target "10.0.0.0/33"`}},
		{"stdin list", []string{"watch", "-iL", "-"}, []string{"stdin cannot be read twice"}},
		{"interval and cron", []string{"watch", "127.0.0.1", "--interval", "1m", "--cron", "@hourly"}, []string{"--interval and --cron"}},
		{"bad cron", []string{"watch", "127.0.0.1", "--cron", "* *"}, []string{"--cron: bad cron expression"}},
		{"host with targets", []string{"watch", "--host", "127.0.0.1"}, []string{"--host audits this machine"}},
		{"public listen without auth", []string{"watch", "127.0.0.1", "--listen", "0.0.0.0:8080"},
			[]string{"--listen 0.0.0.0:8080 is not loopback: protect the dashboard with --api-keys or --jwt-issuer, or pass --allow-unauthenticated"}},
		{"bad listen", []string{"watch", "127.0.0.1", "--listen", "8080"}, []string{`--listen "8080": want host:port`}},
		{"listen with once", []string{"watch", "127.0.0.1", "--once", "--listen", "127.0.0.1:0"}, []string{"not --once"}},
		{"auth without listen", []string{"watch", "127.0.0.1", "--api-keys", "k.txt"}, []string{"give --listen"}},
		{"missing key file", []string{"watch", "127.0.0.1", "--listen", "127.0.0.1:0", "--api-keys", filepath.Join(dir, "none.txt")}, []string{"--api-keys:"}},
		{"audience without issuer", []string{"watch", "127.0.0.1", "--listen", "127.0.0.1:0", "--audience", "x"}, []string{"--audience needs --jwt-issuer"}},
		{"config with targets", []string{"watch", "--config", good, "127.0.0.1", "-p", "80"}, []string{"-p: targets and scan options go in the config file", "put them in the config file"}},
		{"bad config", []string{"watch", "--config", badCfg}, []string{`group "a": no targets`, `alert "x": unknown type "pager"`}},
		{"missing config", []string{"watch", "--config", filepath.Join(dir, "nope.yaml")}, []string{"no such file"}},
		{"check needs one file", []string{"watch", "check"}, []string{"want exactly one config file"}},
		{"events bad format", []string{"watch", "events", "-o", "xml", "--since", "yesterday"}, []string{`-o "xml"`, `--since: "yesterday"`}},
		{"events far future", []string{"watch", "events", "--since", "2999-01-01"}, []string{"out of range"}},
		{"events no db", []string{"watch", "events", "--db", "sqlite:" + filepath.Join(dir, "none.db")}, []string{"no watch database at"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			if code != ExitError {
				t.Errorf("exit %d, want 2\n%s", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

func TestWatchHelpAndCommandList(t *testing.T) {
	code, out, _ := runCLI(t, "watch", "--help")
	if code != 0 || !strings.Contains(out, "mcpwarden watch check CONFIG") {
		t.Errorf("help: %d %s", code, out)
	}
	_, out, _ = runCLI(t, "--help")
	if !strings.Contains(out, "  watch     scan on a schedule") {
		t.Errorf("main usage lacks watch:\n%s", out)
	}
}

func TestWatchCheck(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "w.yaml", `groups:
  - name: lab
    targets: [127.0.0.10-17]
    interval: 1m
  - name: me
    host: true
    cron: "@hourly"
alerts:
  - {name: log, type: log}
`)
	code, out, stderr := runCLI(t, "watch", "check", p)
	if code != 0 || !strings.Contains(out, "ok: 2 target groups (1 host audits), 1 alert routes") ||
		!strings.Contains(out, "group lab: every 1m0s") || !strings.Contains(out, "group me: cron @hourly") {
		t.Errorf("check: %d\n%s\n%s", code, out, stderr)
	}
	bad := writeFile(t, dir, "bad.yaml", "groups:\n  - name: a\n    targets: [300.1.1.1]\n    ports: x\n")
	code, _, stderr = runCLI(t, "watch", "check", bad)
	if code != ExitError || !strings.Contains(stderr, `target "300.1.1.1"`) || !strings.Contains(stderr, "ports:") {
		t.Errorf("check bad: %d\n%s", code, stderr)
	}
}

// receiver is a webhook endpoint on loopback. When block is set, the
// first request waits until released (or the client goes away) and is not
// acknowledged.
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	acked   []map[string]any
	started chan struct{}
	release chan struct{}
	block   bool
}

func newReceiver(t *testing.T, block bool) *receiver {
	r := &receiver{started: make(chan struct{}, 100), release: make(chan struct{}), block: block}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.started <- struct{}{}
		r.mu.Lock()
		blocking := r.block
		r.block = false
		r.mu.Unlock()
		if blocking {
			select {
			case <-r.release:
			case <-req.Context().Done():
				return // the sender died: never acknowledged
			}
			http.Error(w, "too late", http.StatusServiceUnavailable)
			return
		}
		var p map[string]any
		json.Unmarshal(b, &p)
		r.mu.Lock()
		r.acked = append(r.acked, p)
		r.mu.Unlock()
	}))
	t.Cleanup(func() {
		select {
		case <-r.release:
		default:
			close(r.release)
		}
		r.srv.Close()
	})
	return r
}

func (r *receiver) keys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, p := range r.acked {
		out = append(out, fmt.Sprint(p["type"], " ", p["key"]))
	}
	return out
}

func TestWatchOnceEndToEnd(t *testing.T) {
	dir := t.TempDir()
	srv := startLab(t, lab.KindOpenStreamable, "127.0.0.51")
	addr := srv.Addr
	rcv := newReceiver(t, false)
	db := "sqlite:" + filepath.Join(dir, "w.db")
	cfg := writeFile(t, dir, "w.yaml", fmt.Sprintf(`db: %s
groups:
  - name: lab
    targets: ["http://%s/mcp"]
    scan: {connect_timeout: 1s, timeout: 3s, service_timeout: 10s}
alerts:
  - name: hook
    type: webhook
    url: %s/hook
    events: [endpoint.new, auth.dropped, tool.changed]
`, db, addr, rcv.srv.URL))
	code, _, stderr := runCLI(t, "watch", "--config", cfg, "--once")
	if code != 0 || !strings.Contains(stderr, "1 of 1 groups scanned") {
		t.Fatalf("watch --once: %d\n%s", code, stderr)
	}
	if k := rcv.keys(); len(k) != 1 || !strings.HasPrefix(k[0], "endpoint.new ") {
		t.Errorf("webhook got %q", k)
	}
	// A second cycle: nothing changed, nothing new.
	if code, _, stderr := runCLI(t, "watch", "--config", cfg, "--once"); code != 0 || !strings.Contains(stderr, "0 new events") {
		t.Errorf("second --once: %d\n%s", code, stderr)
	}
	if k := rcv.keys(); len(k) != 1 {
		t.Errorf("webhook got %q after the second cycle", k)
	}

	code, out, stderr := runCLI(t, "watch", "events", "--db", db, "-o", "jsonl")
	if code != 0 {
		t.Fatalf("events: %d %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 {
		t.Fatalf("events jsonl: %q", out)
	}
	types := map[string]bool{}
	for _, l := range lines {
		var e map[string]any
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		for _, f := range []string{"time", "type", "url", "detail"} {
			if _, ok := e[f]; !ok {
				t.Errorf("event lacks %s: %s", f, l)
			}
		}
		if e["url"] != "http://"+addr+"/mcp" {
			t.Errorf("event url %v", e["url"])
		}
		types[e["type"].(string)] = true
	}
	if !types["endpoint.new"] || !types["finding.new"] {
		t.Errorf("event types %v", types)
	}
	code, out, _ = runCLI(t, "watch", "events", "--config", cfg, "-o", "table", "--since", "1h")
	if code != 0 || !strings.HasPrefix(out, "TIME") || !strings.Contains(out, "endpoint.new") ||
		!strings.Contains(out, "[high] new MCP endpoint http://"+addr+"/mcp without authentication") {
		t.Errorf("events table: %d\n%s", code, out)
	}
	if code, out, _ := runCLI(t, "watch", "events", "--db", db, "--since", "2200-01-01"); code != 0 || out != "" {
		t.Errorf("events in the future: %d %q", code, out)
	}

	// The flag form: one group from targets and scan flags.
	db2 := "sqlite:" + filepath.Join(dir, "flags.db")
	code, _, stderr = runCLI(t, "watch", "http://"+addr+"/mcp", "--once", "--db", db2, "--timeout", "3s", "--name", "adhoc")
	if code != 0 {
		t.Fatalf("flag form: %d\n%s", code, stderr)
	}
	st, err := store.Open(t.Context(), db2, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, _ := st.Runs(t.Context(), 0)
	if len(runs) != 1 || runs[0].Group != "adhoc" || runs[0].Status != store.RunComplete {
		t.Errorf("runs %+v", runs)
	}
}

func TestDefaultDB(t *testing.T) {
	dir := t.TempDir()
	env := &Env{Getenv: func(k string) string {
		if k == "XDG_DATA_HOME" {
			return dir
		}
		return ""
	}}
	got, err := defaultDB(env)
	if err != nil || got != "sqlite:"+filepath.Join(dir, "mcpwarden", "watch.db") {
		t.Errorf("defaultDB = %q, %v", got, err)
	}
	env.Getenv = func(k string) string {
		if k == "HOME" {
			return dir
		}
		return ""
	}
	if got, _ := defaultDB(env); got != "sqlite:"+filepath.Join(dir, ".local", "share", "mcpwarden", "watch.db") {
		t.Errorf("defaultDB from HOME = %q", got)
	}
}

// TestWatchDashboard starts watch with --listen on loopback and reads the
// dashboard, its API and the metrics.
func TestWatchDashboard(t *testing.T) {
	dir := t.TempDir()
	srv := startLab(t, lab.KindOpenStreamable, "127.0.0.52")
	addr := srv.Addr
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int)
	go func() {
		code := Run(ctx, []string{"watch", "http://" + addr + "/mcp", "--db", "sqlite:" + filepath.Join(dir, "w.db"),
			"--listen", "127.0.0.1:0", "--interval", "1h"}, &Env{Stdout: io.Discard, Stderr: pw, Getenv: func(string) string { return "" }})
		pw.Close()
		done <- code
	}()
	var base string
	var logs bytes.Buffer
	buf := make([]byte, 4096)
	deadline := time.Now().Add(20 * time.Second)
	for base == "" && time.Now().Before(deadline) {
		n, err := pr.Read(buf)
		logs.Write(buf[:n])
		if i := strings.Index(logs.String(), "dashboard on "); i >= 0 {
			rest := logs.String()[i+len("dashboard on "):]
			if j := strings.Index(rest, "\n"); j >= 0 {
				base = strings.TrimSuffix(rest[:j], "/")
			}
		}
		if err != nil {
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if base == "" {
		t.Fatalf("no dashboard address in:\n%s", logs.String())
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// The first cycle runs at start; wait for its endpoint.
	var page string
	for time.Now().Before(deadline) {
		var code int
		code, page = get("/")
		if code == 200 && strings.Contains(page, addr) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(page, addr) {
		t.Errorf("inventory page does not show %s", addr)
	}
	if code, m := get("/metrics"); code != 200 || !strings.Contains(m, `mcpwarden_watch_endpoints{auth="none",severity="high"} 1`) {
		t.Errorf("metrics: %d\n%s", code, m)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("watch exit %d", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("watch did not stop")
	}
}

// Crash tests: the watch runs in a child process (this test binary,
// re-executed), killed with SIGKILL midway.
const watchHelperEnv = "MCPW_WATCH_HELPER_ARGS"

func TestWatchHelper(t *testing.T) {
	raw := os.Getenv(watchHelperEnv)
	if raw == "" {
		t.Skip("helper process for the crash tests")
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		t.Fatal(err)
	}
	os.Exit(Run(context.Background(), args, &Env{Stdout: os.Stdout, Stderr: os.Stderr}))
}

// child starts `mcpwarden watch args...` in a child process.
func child(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(append([]string{"watch"}, args...))
	cmd := exec.Command(exe, "-test.run=^TestWatchHelper$")
	cmd.Env = append(os.Environ(), watchHelperEnv+"="+string(raw))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, &out
}

func childOnce(t *testing.T, args ...string) string {
	t.Helper()
	cmd, out := child(t, args...)
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("watch %v: %v\n%s", args, err, out)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("watch %v did not finish\n%s", args, out)
	}
	return out.String()
}

func kill9(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
}

func openDB(t *testing.T, db string) interface {
	store.Store
	store.Outbox
} {
	t.Helper()
	st, err := store.Open(t.Context(), db, &store.Options{NoRecover: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st.(interface {
		store.Store
		store.Outbox
	})
}

// hangServer accepts connections and never answers, announcing each.
func hangServer(t *testing.T, ip string) (addr string, accepted chan struct{}, stop func()) {
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = make(chan struct{}, 100)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			accepted <- struct{}{}
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			ln.Close()
			mu.Lock()
			for _, c := range conns {
				c.Close()
			}
			mu.Unlock()
		})
	}
	t.Cleanup(stop)
	return ln.Addr().String(), accepted, stop
}

// A watch killed in the middle of a run leaves nothing half-applied: the
// restarted watch discards the run, stores the events once and alerts once.
func TestWatchCrashDuringRun(t *testing.T) {
	dir := t.TempDir()
	srv := startLab(t, lab.KindOpenStreamable, "127.0.0.53")
	addr := srv.Addr
	hang, accepted, stopHang := hangServer(t, "127.0.0.54")
	rcv := newReceiver(t, false)
	db := "sqlite:" + filepath.Join(dir, "w.db")
	cfg := writeFile(t, dir, "w.yaml", fmt.Sprintf(`db: %s
groups:
  - name: lab
    targets: ["http://%s/mcp", "http://%s/mcp"]
    scan: {connect_timeout: 1s, timeout: 30s, service_timeout: 60s}
alerts:
  - {name: hook, type: webhook, url: "%s/hook"}
`, db, addr, hang, rcv.srv.URL))
	cmd, out := child(t, "--config", cfg, "--once")
	select {
	case <-accepted:
	case <-time.After(30 * time.Second):
		t.Fatalf("the scan never reached the hanging server\n%s", out)
	}
	// The lab server answers at once; give its record time to be made.
	time.Sleep(300 * time.Millisecond)
	kill9(t, cmd)
	st := openDB(t, db)
	runs, _ := st.Runs(t.Context(), 0)
	if len(runs) != 1 || runs[0].Status != store.RunRunning {
		t.Fatalf("after kill: runs %+v\n%s", runs, out)
	}
	if evs, _ := st.Events(t.Context(), time.Time{}, 0); len(evs) != 0 {
		t.Fatalf("a killed run stored events: %+v", evs)
	}
	if len(rcv.keys()) != 0 {
		t.Fatal("alerts sent for a killed run")
	}

	stopHang()
	for range 2 {
		childOnce(t, "--config", cfg, "--once")
	}
	runs, _ = st.Runs(t.Context(), 0)
	status := map[string]int{}
	for _, r := range runs {
		status[r.Status]++
	}
	if status[store.RunDiscarded] != 1 || status[store.RunComplete] != 2 || status[store.RunRunning] != 0 {
		t.Errorf("runs after restart: %v", status)
	}
	evs, _ := st.Events(t.Context(), time.Time{}, 0)
	seen := map[string]int{}
	for _, e := range evs {
		seen[string(e.Type)+" "+e.Subject]++
	}
	if seen["endpoint.new "] != 1 {
		t.Errorf("events %v", seen)
	}
	keys := rcv.keys()
	if len(keys) != len(evs) {
		t.Errorf("receiver acknowledged %d alerts for %d events: %q", len(keys), len(evs), keys)
	}
	dup := map[string]bool{}
	for _, k := range keys {
		if dup[k] {
			t.Errorf("alert %s delivered twice", k)
		}
		dup[k] = true
	}
}

// A watch killed while a webhook receiver holds its request loses no
// alert: after restart every alert is acknowledged exactly once.
func TestWatchCrashDuringDelivery(t *testing.T) {
	dir := t.TempDir()
	srv := startLab(t, lab.KindOpenStreamable, "127.0.0.55")
	addr := srv.Addr
	rcv := newReceiver(t, true)
	db := "sqlite:" + filepath.Join(dir, "w.db")
	const timeout = 2 * time.Second
	cfg := writeFile(t, dir, "w.yaml", fmt.Sprintf(`db: %s
groups:
  - name: lab
    targets: ["http://%s/mcp"]
    scan: {connect_timeout: 1s, timeout: 3s, service_timeout: 10s}
alerts:
  - {name: hook, type: webhook, url: "%s/hook", timeout: %v}
`, db, addr, rcv.srv.URL, timeout))
	cmd, out := child(t, "--config", cfg, "--once")
	select {
	case <-rcv.started:
	case <-time.After(30 * time.Second):
		t.Fatalf("no delivery started\n%s", out)
	}
	claimed := time.Now()
	kill9(t, cmd)
	close(rcv.release)

	st := openDB(t, db)
	evs, _ := st.Events(t.Context(), time.Time{}, 0)
	if len(evs) == 0 {
		t.Fatal("no events stored before the delivery")
	}
	pending, _ := st.Alerts(t.Context(), store.AlertPending, 0)
	if len(pending) != len(evs) {
		t.Fatalf("%d alerts pending for %d events", len(pending), len(evs))
	}
	if len(rcv.keys()) != 0 {
		t.Fatalf("acknowledged before the crash: %q", rcv.keys())
	}
	// The interrupted delivery holds its lease (timeout + margin); after it,
	// the restarted watch delivers everything.
	time.Sleep(time.Until(claimed.Add(timeout + 5*time.Second + 500*time.Millisecond)))
	childOnce(t, "--config", cfg, "--once")
	childOnce(t, "--config", cfg, "--once")
	keys := rcv.keys()
	if len(keys) != len(evs) {
		t.Errorf("acknowledged %d alerts for %d events: %q", len(keys), len(evs), keys)
	}
	dup := map[string]bool{}
	for _, k := range keys {
		if dup[k] {
			t.Errorf("alert %s delivered twice", k)
		}
		dup[k] = true
	}
	for _, e := range evs {
		if !dup[string(e.Type)+" "+e.Key] {
			t.Errorf("event %s %s never delivered", e.Type, e.Key)
		}
	}
	if p, _ := st.Alerts(t.Context(), store.AlertPending, 0); len(p) != 0 {
		t.Errorf("still pending: %+v", p)
	}
	if after, _ := st.Events(t.Context(), time.Time{}, 0); len(after) != len(evs) {
		t.Errorf("events went from %d to %d", len(evs), len(after))
	}
	var types []string
	for _, e := range evs {
		types = append(types, string(e.Type))
	}
	if !strings.Contains(strings.Join(types, ","), string(model.EndpointNew)) {
		t.Errorf("event types %v", types)
	}
}

// TestWatchHeaders: with -H the flag form lists the tools of the
// operator's own OAuth-protected server (the header goes only after the
// challenge); without it the same server is recorded as protected with no
// tools. The token never reaches the database or the output.
func TestWatchHeaders(t *testing.T) {
	const token = "watch-test-token-3f9a"
	s, err := lab.Start(t.Context(), lab.KindOAuth, "127.0.0.47:0", &lab.Options{BearerToken: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	dir := t.TempDir()
	for _, tt := range []struct {
		name  string
		args  []string
		tools int
	}{
		{"without", nil, 0},
		{"with", []string{"-H", "Authorization: Bearer " + token}, len(s.Tools)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dbPath := filepath.Join(dir, tt.name+".db")
			args := append([]string{"watch", s.URL, "--once", "--db", "sqlite:" + dbPath, "--timeout", "3s"}, tt.args...)
			code, out, stderr := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("watch: %d\n%s", code, stderr)
			}
			st := openDB(t, "sqlite:"+dbPath)
			inv, err := st.Inventory(t.Context())
			if err != nil || len(inv) != 1 || !inv[0].AuthRequired || inv[0].Tools != tt.tools {
				t.Fatalf("inventory %+v (%v): want the protected server with %d tools", inv, err, tt.tools)
			}
			raw, err := os.ReadFile(dbPath)
			if err != nil {
				t.Fatal(err)
			}
			wal, _ := os.ReadFile(dbPath + "-wal") // WAL mode: recent pages live here
			if strings.Contains(string(raw)+string(wal)+out+stderr, token) {
				t.Error("the token reached the database or the output")
			}
		})
	}
	if code, _, stderr := runCLI(t, "watch", s.URL, "--once", "-H", "no colon"); code != 2 || !strings.Contains(stderr, "Name: value") {
		t.Errorf("bad -H: %d %s", code, stderr)
	}
}
