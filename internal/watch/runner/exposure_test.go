package runner

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/watch/config"
	"github.com/mcpwarden/mcpwarden/internal/watch/model"
	"github.com/mcpwarden/mcpwarden/internal/watch/store"
)

// exposureTestdata is the testdata of the index clients.
func exposureTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "exposure", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// parseGroup reads a one-group watch config.
func parseGroup(t *testing.T, yaml string, env map[string]string) config.Group {
	t.Helper()
	c, err := config.Parse(strings.NewReader(yaml), "test.yaml", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return c.Groups[0]
}

// indexKeys renders index.new events as "source ip:port", sorted.
func indexKeys(t *testing.T, evs []model.Event) []string {
	t.Helper()
	var out []string
	for _, e := range evs {
		if e.Type != model.IndexNew {
			t.Errorf("unexpected event %s", e.Type)
			continue
		}
		var d model.IndexDetail
		if err := json.Unmarshal(e.Detail, &d); err != nil {
			t.Fatal(err)
		}
		if d.Class != "likely-mcp" || d.Severity != "high" || e.Subject != d.Source {
			t.Errorf("index.new %s: detail %+v", e.URL, d)
		}
		out = append(out, d.Source+" "+e.URL)
	}
	slices.Sort(out)
	return out
}

func TestExposureCycleExports(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	shodanFile, censysFile := filepath.Join(dir, "shodan.jsonl"), filepath.Join(dir, "censys.json")
	shodanData := exposureTestdata(t, "shodan/testdata/export.jsonl")
	if err := os.WriteFile(shodanFile, shodanData, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(censysFile, exposureTestdata(t, "censys/testdata/export.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	g := parseGroup(t, `
groups:
  - name: indexed
    interval: 6h
    exposure:
      shodan_export: `+shodanFile+`
      censys_export: `+censysFile+`
      targets: [198.51.100.0/24]
`, nil)
	st := openSQLite(t)
	r, err := New(Options{Store: st, Groups: []config.Group{g},
		Routes: []config.Route{{Name: "pager", Kind: config.RouteLog, MaxAttempts: 1, Timeout: time.Second, Events: []model.Type{model.IndexNew}}}})
	if err != nil {
		t.Fatal(err)
	}

	// First cycle: every MCP endpoint of ours that an index lists, once
	// per index; not-mcp services and addresses outside the targets
	// (203.0.113.0/24 in both files) raise nothing.
	res, err := r.Cycle(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"censys http://198.51.100.21:8080/mcp",
		"censys https://198.51.100.21:443/",
		"censys http://198.51.100.30:8000/sse",
		"shodan http://198.51.100.7:8000/sse",
		"shodan http://198.51.100.9:3000/mcp",
		"shodan https://198.51.100.11:443/",
	}
	slices.Sort(want)
	if got := indexKeys(t, res.Events); !slices.Equal(got, want) {
		t.Fatalf("first cycle:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Second cycle, same data: nothing new.
	if res, err := r.Cycle(ctx, g); err != nil || len(res.Events) != 0 {
		t.Fatalf("second cycle = %+v, %v", res.Events, err)
	}

	// A new entry in the Shodan export fires once.
	var line2 string
	for _, l := range strings.Split(string(shodanData), "\n") {
		if strings.Contains(l, `"198.51.100.9"`) {
			line2 = strings.ReplaceAll(l, `"198.51.100.9"`, `"198.51.100.51"`)
		}
	}
	if line2 == "" {
		t.Fatal("no record of 198.51.100.9 in the Shodan export")
	}
	if err := os.WriteFile(shodanFile, append(append(shodanData, '\n'), line2+"\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err = r.Cycle(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	if got := indexKeys(t, res.Events); !slices.Equal(got, []string{"shodan http://198.51.100.51:3000/mcp"}) {
		t.Fatalf("third cycle = %v", got)
	}

	// The events went through the route, with their group; the runs
	// stored no observation.
	if _, _, err := r.Alerts(ctx); err != nil {
		t.Fatal(err)
	}
	alerts, err := st.(store.Outbox).Alerts(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 7 || alerts[0].Group != "indexed" {
		t.Errorf("%d alerts (want 7): %+v", len(alerts), alerts)
	}
	if inv, _ := st.Inventory(ctx); len(inv) != 0 {
		t.Errorf("exposure cycles stored endpoints: %+v", inv)
	}

	// An export that went missing fails the cycle and stores nothing.
	os.Remove(censysFile)
	if _, err := r.Cycle(ctx, g); err == nil || !strings.Contains(err.Error(), "censys.json") {
		t.Errorf("cycle with a missing export = %v", err)
	}
	runs, _ := st.Runs(ctx, 1)
	if len(runs) != 1 || runs[0].Status != store.RunDiscarded {
		t.Errorf("last run = %+v", runs)
	}
}

// The Shodan API, replayed on loopback: a host lookup of our address (free
// of credits) finds the endpoint once; the key comes from the environment
// and is sent to the API only.
func TestExposureCycleShodanAPI(t *testing.T) {
	ctx := t.Context()
	const key = "V2F0Y2hUZXN0S2V5MDEyMzQ1Njc4OQ"
	var calls, lookups atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("key") != key {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error": "Please provide a valid API key"}`))
			return
		}
		switch r.URL.Path {
		case "/api-info":
			w.Write(exposureTestdata(t, "shodan/testdata/api-info.json"))
		case "/shodan/host/198.51.100.7":
			lookups.Add(1)
			w.Write(exposureTestdata(t, "shodan/testdata/host-198.51.100.7.json"))
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error": "No information available for that IP."}`))
		}
	}))
	t.Cleanup(srv.Close)
	env := map[string]string{config.EnvShodanKey: key}
	yaml := `
groups:
  - name: indexed
    exposure:
      shodan: true
      shodan_url: ` + srv.URL + `
      api_rate: 1000
      targets: [198.51.100.7]
`
	if _, err := config.Parse(strings.NewReader(yaml), "x", nil); err == nil || !strings.Contains(err.Error(), config.EnvShodanKey) {
		t.Errorf("shodan: true without a key = %v", err)
	}
	g := parseGroup(t, yaml, env)
	t.Setenv(config.EnvShodanKey, key)
	st := openSQLite(t)
	r, err := New(Options{Store: st, Groups: []config.Group{g}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Cycle(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	if got := indexKeys(t, res.Events); !slices.Equal(got, []string{"shodan http://198.51.100.7:8000/sse"}) {
		t.Fatalf("first cycle = %v", got)
	}
	if res, err := r.Cycle(ctx, g); err != nil || len(res.Events) != 0 {
		t.Fatalf("second cycle = %+v, %v", res.Events, err)
	}
	if lookups.Load() != 2 {
		t.Errorf("%d host lookups in two cycles, want 2", lookups.Load())
	}
	// The key is never stored.
	evs, _ := st.Events(ctx, time.Time{}, 0)
	b, _ := json.Marshal(evs)
	if strings.Contains(string(b), key) {
		t.Error("an event holds the API key")
	}

	// A wrong key fails the cycle with the API's error, without the key.
	t.Setenv(config.EnvShodanKey, "V3JvbmdLZXkwMTIzNDU2Nzg5MDEyMw")
	_, err = r.Cycle(ctx, g)
	if err == nil || strings.Contains(err.Error(), "V3JvbmdLZXkw") {
		t.Errorf("cycle with a wrong key = %v", err)
	}
}

// The Censys API, replayed on loopback: searches page through their
// results within max_credits, the hosts hit inside the targets are looked
// up, and each MCP endpoint found fires once.
func TestExposureCycleCensysAPI(t *testing.T) {
	ctx := t.Context()
	const id, secret = "watch-test-id-0001", "watch-test-secret-0002"
	var hostLookups atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if u, p, ok := r.BasicAuth(); !ok || u != id || p != secret {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"code": 401, "status": "Unauthorized", "error": "You must authenticate with a valid API ID and secret."}`))
			return
		}
		q := r.URL.Query()
		switch {
		case r.URL.Path == "/api/v1/account":
			w.Write(exposureTestdata(t, "censys/testdata/account.json"))
		case r.URL.Path == "/api/v2/hosts/search" && q.Get("cursor") == "":
			w.Write(exposureTestdata(t, "censys/testdata/search-page1.json"))
		case r.URL.Path == "/api/v2/hosts/search":
			w.Write(exposureTestdata(t, "censys/testdata/search-page2.json"))
		case r.URL.Path == "/api/v2/hosts/198.51.100.21":
			hostLookups.Add(1)
			w.Write(exposureTestdata(t, "censys/testdata/host-198.51.100.21.json"))
		case strings.HasPrefix(r.URL.Path, "/api/v2/hosts/"):
			hostLookups.Add(1)
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"code": 404, "status": "Not Found", "error": "The requested host could not be found."}`))
		default:
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"code": 400, "status": "Bad Request", "error": "unexpected request"}`))
		}
	}))
	t.Cleanup(srv.Close)
	t.Setenv(config.EnvCensysID, id)
	t.Setenv(config.EnvCensysSecret, secret)
	g := parseGroup(t, `
groups:
  - name: indexed
    exposure:
      censys: true
      censys_url: `+srv.URL+`
      targets: [198.51.100.0/24]
      max_credits: 50
      api_rate: 1000
`, map[string]string{config.EnvCensysID: id, config.EnvCensysSecret: secret})
	st := openSQLite(t)
	r, err := New(Options{Store: st, Groups: []config.Group{g}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Cycle(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range res.Events {
		got = append(got, e.Subject+" "+e.URL)
		if strings.Contains(e.URL, "192.0.2.200") {
			t.Errorf("an address outside the targets fired: %s", e.URL)
		}
	}
	slices.Sort(got)
	for _, want := range []string{"censys http://198.51.100.21:8080/mcp", "censys https://198.51.100.21:443/"} {
		if !slices.Contains(got, want) {
			t.Errorf("events %v lack %q", got, want)
		}
	}
	// Each host hit is looked up once however many searches return it.
	if n := hostLookups.Load(); n != 2 {
		t.Errorf("%d host lookups, want 2 (198.51.100.21 and .22)", n)
	}
	if res, err := r.Cycle(ctx, g); err != nil || len(res.Events) != 0 {
		t.Fatalf("second cycle = %+v, %v", res.Events, err)
	}
}
