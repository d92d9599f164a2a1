//go:build unix

package runner

import (
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/mcptest"
	"github.com/mcpwarden/mcpwarden/internal/watch/config"
	"github.com/mcpwarden/mcpwarden/internal/watch/model"
	"github.com/mcpwarden/mcpwarden/internal/watch/store"
)

// TestScenarioEverything watches the official TypeScript reference server
// (@modelcontextprotocol/server-everything from npm, pinned) over
// streamable HTTP: the first cycle reports it new and open with its
// findings, a second cycle with nothing changed reports nothing, and once
// the node process is killed the third reports it gone and its findings
// resolved; the alerts follow the events.
func TestScenarioEverything(t *testing.T) {
	e := mcptest.StartEverythingProcess(t, mcptest.TransportStreamableHTTP, "127.0.0.44")
	ctx := t.Context()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "watch.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	hk := newHook(t)
	g := config.Group{Name: "everything", Targets: []string{e.Host}, Ports: []int{e.Port},
		Schedule: config.Schedule{Interval: time.Minute}, Scan: fastScan()}
	r, err := New(Options{Store: st, Groups: []config.Group{g}, Routes: []config.Route{
		{Name: "all", Kind: config.RouteWebhook, URL: hk.srv.URL + "/hook"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	mcpURL := e.URL + "/mcp"
	cycle := func(name string) []model.Event {
		t.Helper()
		res, err := r.Cycle(ctx, g)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, ev := range res.Events {
			if ev.URL != mcpURL {
				t.Errorf("%s: event %s about %s, want %s", name, ev.Type, ev.URL, mcpURL)
			}
		}
		if ok, failed, err := r.Alerts(ctx); err != nil || failed != 0 || ok != len(res.Events) {
			t.Errorf("%s: alerts delivered %d failed %d err %v; want %d", name, ok, failed, err, len(res.Events))
		}
		ps, _ := hk.take()
		if got, want := strings.Join(payloadKeys(ps), "|"), strings.Join(evKeys(res.Events), "|"); got != want {
			t.Errorf("%s: webhook got %q, want %q", name, got, want)
		}
		return res.Events
	}

	// The findings of an open loopback server-everything, as the scanner's
	// interop test pins them.
	findings := []string{"MCPW-001", "MCPW-009", "MCPW-010", "MCPW-011"}
	want := []string{"endpoint.new"}
	for _, f := range findings {
		want = append(want, "finding.new "+f)
	}
	if got := evKeys(cycle("appears")); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("appears: events %q, want %q", got, want)
	}
	inv, err := st.Inventory(ctx)
	if err != nil || len(inv) != 1 || inv[0].AuthRequired || inv[0].Tools < 10 {
		t.Fatalf("inventory %+v (%v): want server-everything open with its tools", inv, err)
	}

	if got := cycle("unchanged"); len(got) != 0 {
		t.Errorf("unchanged: events %q, want none", evKeys(got))
	}

	if err := syscall.Kill(-e.PID, syscall.SIGKILL); err != nil {
		t.Fatalf("kill node %d: %v", e.PID, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(e.PID, 0) == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	want = []string{"endpoint.gone"}
	for _, f := range findings {
		want = append(want, "finding.resolved "+f)
	}
	got := evKeys(cycle("disappears"))
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("disappears: events %q, want %q (node pid %s)", got, want, strconv.Itoa(e.PID))
	}
}
