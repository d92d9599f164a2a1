package diff

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/watch/model"
)

// stateOf builds a state from records as if each had been stored once,
// the MCP ones present.
func stateOf(eps []*result.Endpoint) model.State {
	st := model.State{Endpoints: map[string]*model.EndpointState{}}
	for _, e := range model.Dedupe(eps) {
		o := model.ObservationOf(e, t0)
		es := &model.EndpointState{URL: e.URL, Latest: o, Present: e.Status == result.StatusMCP, PresentSince: t0}
		if e.Status == result.StatusMCP {
			es.MCP = o
		}
		if model.ToolsListed(e) {
			es.Listed = o
		}
		if model.Conclusive(e.Status) {
			es.Conclusive = o
		}
		st.Endpoints[e.URL] = es
	}
	return st
}

// FuzzDiff feeds arbitrary JSON records, as a previous and a current run,
// to Diff: it must not panic, must be deterministic, and every event must
// be well formed.
func FuzzDiff(f *testing.F) {
	f.Add([]byte(`[{"url":"http://127.0.0.1:1/mcp","status":"mcp","tools":[{"name":"a","description":"x"}]}]`),
		[]byte(`[{"url":"http://127.0.0.1:1/mcp","status":"mcp","tools":[{"name":"a","description":"x\ny","input_schema":{"b":1,"a":[2]}}]}]`))
	f.Add([]byte(`[{"url":"u","status":"mcp","auth":{"required":true,"scheme":"oauth"}}]`),
		[]byte(`[{"url":"u","status":"mcp","findings":[{"rule":"MCPW-001","severity":"high"}]}]`))
	f.Add([]byte(`[{"url":"https://h:8443/","status":"not-mcp","tls":{"not_after":"2026-03-02T00:00:00Z"}}]`),
		[]byte(`[{"url":"https://h:8443/","status":"timeout"},null,{"url":""}]`))
	f.Add([]byte(`[]`), []byte(`[{"url":"u","status":"closed","listing":{"truncated":true,"errors":["tools/list: x"]}}]`))
	f.Fuzz(func(t *testing.T, prevJSON, curJSON []byte) {
		var prev, cur []*result.Endpoint
		if json.Unmarshal(prevJSON, &prev) != nil || json.Unmarshal(curJSON, &cur) != nil {
			return
		}
		st := stateOf(prev)
		for _, o := range []*Options{nil, {GoneGrace: -1, TLSExpiryDays: 400}} {
			a := Diff(st, cur, now, o)
			b := Diff(st, cur, now, o)
			if len(a) != len(b) {
				t.Fatalf("Diff is not deterministic: %d then %d events", len(a), len(b))
			}
			keys := map[string]bool{}
			for i, e := range a {
				if e.Key != b[i].Key || e.Type != b[i].Type {
					t.Fatalf("Diff is not deterministic at event %d", i)
				}
				if !e.Type.Valid() || e.Key == "" || e.URL == "" || !json.Valid(e.Detail) || !e.Time.Equal(now.UTC()) {
					t.Fatalf("malformed event %+v", e)
				}
				if keys[e.Key] {
					t.Fatalf("two events with key %s", e.Key)
				}
				keys[e.Key] = true
			}
			_ = Fill(st, cur, now.Add(time.Second), o)
		}
	})
}
