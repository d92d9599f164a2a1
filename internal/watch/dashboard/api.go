package dashboard

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/watch/model"
)

// api wraps a JSON handler: errors become {"error": "..."} with a status.
func (s *server) api(fn func(*http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := fn(r)
		if err != nil {
			status, msg := s.classify(r, err)
			writeJSONError(w, status, msg)
			return
		}
		b, err := json.Marshal(v)
		if err != nil {
			s.log.Error("dashboard: encode", "path", r.URL.Path, "err", err)
			writeJSONError(w, http.StatusInternalServerError, "could not encode the answer")
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if r.Method != http.MethodHead {
			w.Write(append(b, '\n'))
		}
	}
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"error": msg})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

type inventoryAnswer struct {
	Generated time.Time     `json:"generated"`
	Summary   summary       `json:"summary"`
	Endpoints []endpointRow `json:"endpoints"`
}

func (s *server) apiInventory(r *http.Request) (any, error) {
	if _, err := parseParams(r.URL.RawQuery); err != nil {
		return nil, err
	}
	rows, _, err := s.inventory(r.Context())
	if err != nil {
		return nil, err
	}
	return inventoryAnswer{Generated: s.now().UTC(), Summary: summarize(rows), Endpoints: rows}, nil
}

func (s *server) apiEndpoint(r *http.Request) (any, error) {
	p, err := parseParams(r.URL.RawQuery, "url", "observations")
	if err != nil {
		return nil, err
	}
	u := p.str("url", maxURLParam)
	n := p.intIn("observations", 50, 1, 500)
	if u == "" && p.err() == nil {
		p.fail("url: missing")
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return s.endpoint(r.Context(), u, n)
}

type eventsAnswer struct {
	Events []model.Event `json:"events"`
	// NextAfter is the id to pass as after= to poll for newer events.
	NextAfter int64 `json:"next_after"`
	// More is true when the limit cut the answer short.
	More bool `json:"more"`
}

// apiEvents lists events oldest first: at or after since (a time or a
// duration back from now), or with an id above after, of one type or all.
func (s *server) apiEvents(r *http.Request) (any, error) {
	p, err := parseParams(r.URL.RawQuery, "since", "after", "type", "limit")
	if err != nil {
		return nil, err
	}
	since := p.time("since", s.now())
	after := p.int64Min("after", 0)
	typ := p.eventType("type")
	limit := p.intIn("limit", 500, 1, 5000)
	if !since.IsZero() && after > 0 {
		p.fail("since and after: give one of them")
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	ans := eventsAnswer{Events: []model.Event{}, NextAfter: after}
	if after == 0 {
		first, err := s.store.Events(r.Context(), since, 1)
		if err != nil {
			return nil, err
		}
		if len(first) == 0 {
			return ans, nil
		}
		after = first[0].ID - 1
	}
	scanned := 0
	for {
		page, err := s.store.EventsAfter(r.Context(), after, s.eventPage)
		if err != nil {
			return nil, err
		}
		for _, e := range page {
			after = e.ID
			ans.NextAfter = e.ID
			if e.Time.Before(since) || (typ != "" && e.Type != typ) {
				continue
			}
			ans.Events = append(ans.Events, e)
			if len(ans.Events) == limit {
				ans.More = true
				return ans, nil
			}
		}
		scanned += len(page)
		if len(page) < s.eventPage {
			return ans, nil
		}
		if scanned >= s.maxEventScan {
			ans.More = true
			return ans, nil
		}
	}
}

type findingsAnswer struct {
	Counts map[string]int  `json:"counts"`
	Groups []severityGroup `json:"by_severity"`
}

func (s *server) apiFindings(r *http.Request) (any, error) {
	p, err := parseParams(r.URL.RawQuery, "severity")
	if err != nil {
		return nil, err
	}
	min, _ := p.severity("severity")
	if err := p.err(); err != nil {
		return nil, err
	}
	groups, err := s.findings(r.Context(), min)
	if err != nil {
		return nil, err
	}
	ans := findingsAnswer{Counts: map[string]int{}, Groups: groups}
	for _, g := range groups {
		ans.Counts[g.Severity] = len(g.Findings)
	}
	return ans, nil
}

type historyAnswer struct {
	Points []historyPoint `json:"points"`
}

func (s *server) apiHistory(r *http.Request) (any, error) {
	p, err := parseParams(r.URL.RawQuery, "runs")
	if err != nil {
		return nil, err
	}
	n := p.intIn("runs", 200, 1, 5000)
	if err := p.err(); err != nil {
		return nil, err
	}
	pts, err := s.history(r.Context(), n)
	if err != nil {
		return nil, err
	}
	return historyAnswer{Points: pts}, nil
}
