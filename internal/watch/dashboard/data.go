package dashboard

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/watch/diff"
	"github.com/mcpwarden/mcpwarden/internal/watch/model"
	"github.com/mcpwarden/mcpwarden/internal/watch/store"
)

// Bounds of what one request reads from the store.
const (
	// defaultEventPage is how many events are read per store call.
	defaultEventPage = 1000
	// defaultMaxEventScan caps the events one request looks at.
	defaultMaxEventScan = 100_000
	// maxHistoryEndpoints caps the endpoints the history chart reads.
	maxHistoryEndpoints = 5000
	// maxHistoryObservations caps the observations per endpoint it reads.
	maxHistoryObservations = 2000
)

// endpointRow is one endpoint of the inventory.
type endpointRow struct {
	store.InventoryItem
	// Exposed is true for a present endpoint whose last MCP answer needed
	// no authentication.
	Exposed bool `json:"exposed"`
	// Risk are the risk categories of the last MCP answer.
	Risk []string `json:"risk"`
	// TopSeverity is the highest severity of the latest findings, "" when
	// there are none.
	TopSeverity string `json:"top_severity,omitempty"`
	Server      string `json:"server,omitempty"`
	Transport   string `json:"transport,omitempty"`
}

// severities lists the severities, highest first.
var severities = []finding.Severity{finding.Critical, finding.High, finding.Medium, finding.Low, finding.Info}

func topSeverity(counts map[string]int) string {
	for _, s := range severities {
		if counts[s.String()] > 0 {
			return s.String()
		}
	}
	return ""
}

func severityRank(name string) int {
	s, err := finding.ParseSeverity(name)
	if err != nil || s > finding.Critical {
		return -1
	}
	return int(s)
}

func rowOf(it store.InventoryItem, es *model.EndpointState) endpointRow {
	row := endpointRow{InventoryItem: it, Risk: []string{}, TopSeverity: topSeverity(it.Findings)}
	if es == nil || es.MCP == nil {
		return row
	}
	row.Exposed = it.Present && !es.MCP.AuthRequired
	if ep := es.MCP.Endpoint; ep != nil {
		if ep.Risk != nil {
			row.Risk = append(row.Risk, ep.Risk.Categories...)
		}
		if ep.MCP != nil {
			row.Server = strings.TrimSpace(ep.MCP.Server.Name + " " + ep.MCP.Server.Version)
			row.Transport = ep.MCP.Transport
		}
	}
	return row
}

// inventory returns every endpoint: present before gone, then the most
// severe first, then by URL. The state is returned for further use.
func (s *server) inventory(ctx context.Context) ([]endpointRow, model.State, error) {
	items, err := s.store.Inventory(ctx)
	if err != nil {
		return nil, model.State{}, err
	}
	st, err := s.store.LatestState(ctx, "")
	if err != nil {
		return nil, model.State{}, err
	}
	rows := make([]endpointRow, 0, len(items))
	for _, it := range items {
		rows = append(rows, rowOf(it, st.Endpoints[it.URL]))
	}
	slices.SortStableFunc(rows, func(a, b endpointRow) int {
		if a.Present != b.Present {
			if a.Present {
				return -1
			}
			return 1
		}
		if a.Exposed != b.Exposed {
			if a.Exposed {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(severityRank(b.TopSeverity), severityRank(a.TopSeverity)); c != 0 {
			return c
		}
		return cmp.Compare(a.URL, b.URL)
	})
	return rows, st, nil
}

// summary counts the inventory at a glance.
type summary struct {
	Endpoints int            `json:"endpoints"`
	Present   int            `json:"present"`
	Gone      int            `json:"gone"`
	Exposed   int            `json:"exposed"`
	Protected int            `json:"protected"`
	Findings  map[string]int `json:"findings"`
}

func summarize(rows []endpointRow) summary {
	sum := summary{Endpoints: len(rows), Findings: map[string]int{}}
	for _, s := range severities {
		sum.Findings[s.String()] = 0
	}
	for _, r := range rows {
		if !r.Present {
			sum.Gone++
			continue
		}
		sum.Present++
		if r.Exposed {
			sum.Exposed++
		} else if r.Status == result.StatusMCP && r.AuthRequired {
			sum.Protected++
		}
		for sev, n := range r.Findings {
			sum.Findings[sev] += n
		}
	}
	return sum
}

// toolView is one tool of an endpoint.
type toolView struct {
	Name        string          `json:"name"`
	Title       string          `json:"title,omitempty"`
	Description string          `json:"description,omitempty"`
	Risk        []string        `json:"risk"`
	InputSchema json.RawMessage `json:"input_schema,omitempty"`
}

// toolChange is one tool.changed event with its diff.
type toolChange struct {
	EventID int64              `json:"event_id"`
	Time    time.Time          `json:"time"`
	Detail  *diff.ChangeDetail `json:"detail"`
	Lines   []diffLine         `json:"-"`
}

// diffLine is one line of a unified diff with its kind: "add", "del",
// "hunk", "file" or "ctx".
type diffLine struct {
	Kind string
	Text string
}

func diffLines(unified string) []diffLine {
	var out []diffLine
	for _, l := range strings.Split(strings.TrimSuffix(unified, "\n"), "\n") {
		k := "ctx"
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
			k = "file"
		case strings.HasPrefix(l, "@@"):
			k = "hunk"
		case strings.HasPrefix(l, "+"):
			k = "add"
		case strings.HasPrefix(l, "-"):
			k = "del"
		}
		out = append(out, diffLine{Kind: k, Text: l})
	}
	return out
}

// endpointView is everything the endpoint page shows.
type endpointView struct {
	Endpoint endpointRow `json:"endpoint"`
	// Tools come from the last observation that listed them.
	Tools         []toolView `json:"tools"`
	ToolsObserved time.Time  `json:"tools_observed,omitzero"`
	// Findings are the unsuppressed findings of the latest observation.
	Findings     []finding.Finding   `json:"findings"`
	Observations []model.Observation `json:"observations"`
	// Events are the endpoint's events, newest first.
	Events      []model.Event `json:"events"`
	ToolChanges []toolChange  `json:"tool_changes"`
	// Truncated is true when older events were not looked at.
	Truncated bool `json:"truncated,omitempty"`
	// Listener and Peers are set for a listener of a host audit whose
	// connections watch samples (see peers.go).
	Listener string             `json:"listener,omitempty"`
	Peers    []store.PeerRecord `json:"peers,omitempty"`
}

// maxEndpointEvents caps the events listed on an endpoint page.
const maxEndpointEvents = 500

func (s *server) endpoint(ctx context.Context, url string, observations int) (*endpointView, error) {
	hist, err := s.store.EndpointHistory(ctx, url, observations)
	if err != nil {
		return nil, err
	}
	rows, st, err := s.inventory(ctx)
	if err != nil {
		return nil, err
	}
	v := &endpointView{Observations: hist, Tools: []toolView{}, Findings: []finding.Finding{},
		Events: []model.Event{}, ToolChanges: []toolChange{}}
	if v.Observations == nil {
		v.Observations = []model.Observation{}
	}
	for _, r := range rows {
		if r.URL == url {
			v.Endpoint = r
		}
	}
	if v.Endpoint.URL == "" {
		v.Endpoint = endpointRow{InventoryItem: store.InventoryItem{URL: url}, Risk: []string{}}
	}
	es := st.Endpoints[url]
	if es != nil {
		src := es.Listed
		if src == nil {
			src = es.MCP
		}
		if src != nil && src.Endpoint != nil {
			v.ToolsObserved = src.Observed
			for _, t := range src.Endpoint.Tools {
				tv := toolView{Name: t.Name, Title: t.Title, Description: t.Description, Risk: t.Risk, InputSchema: t.InputSchema}
				if tv.Risk == nil {
					tv.Risk = []string{}
				}
				v.Tools = append(v.Tools, tv)
			}
		}
		if es.Latest != nil && es.Latest.Endpoint != nil {
			for _, f := range es.Latest.Endpoint.Findings {
				if f.Suppressed == nil {
					v.Findings = append(v.Findings, f)
				}
			}
			slices.SortStableFunc(v.Findings, func(a, b finding.Finding) int { return cmp.Compare(b.Severity, a.Severity) })
		}
	}
	since := v.Endpoint.FirstSeen
	if es != nil && !es.FirstSeen.IsZero() {
		since = es.FirstSeen
	}
	// Event times come from the watch cycle, the first sighting from the
	// scan: allow for a long scan between them.
	evs, truncated, err := s.newestEvents(ctx, since.Add(-24*time.Hour), maxEndpointEvents, func(e model.Event) bool { return e.URL == url })
	if err != nil {
		return nil, err
	}
	v.Truncated = truncated
	v.Events = evs
	for _, e := range evs {
		if e.Type != model.ToolChanged {
			continue
		}
		var d diff.ChangeDetail
		if err := json.Unmarshal(e.Detail, &d); err != nil {
			s.log.Warn("dashboard: bad tool.changed detail", "event", e.ID, "err", err)
			continue
		}
		tc := toolChange{EventID: e.ID, Time: e.Time, Detail: &d}
		if d.DescriptionDiff != "" {
			tc.Lines = diffLines(d.DescriptionDiff)
		}
		v.ToolChanges = append(v.ToolChanges, tc)
	}
	if err := s.addPeers(ctx, v, es); err != nil {
		return nil, err
	}
	return v, nil
}

// newestEvents returns the newest keep events at or after since that
// match, newest first. The store lists events oldest first only, so it
// finds the highest event id by bisection and reads backwards in pages of
// ids; it reads at most s.maxEventScan events, and truncated says whether
// it stopped before reaching since.
func (s *server) newestEvents(ctx context.Context, since time.Time, keep int, match func(model.Event) bool) (out []model.Event, truncated bool, err error) {
	out = []model.Event{}
	first, err := s.store.Events(ctx, since, 1)
	if err != nil || len(first) == 0 {
		return out, false, err
	}
	low := first[0].ID - 1 // every wanted event has an id above low
	last, err := s.lastEventID(ctx, low)
	if err != nil {
		return nil, false, err
	}
	scanned := 0
	for cur := last; cur > low; {
		from := max(low, cur-int64(s.eventPage))
		page, err := s.store.EventsAfter(ctx, from, s.eventPage)
		if err != nil {
			return nil, false, err
		}
		scanned += s.eventPage
		for i := len(page) - 1; i >= 0; i-- {
			e := page[i]
			if e.ID > cur || e.Time.Before(since) || !match(e) {
				continue
			}
			out = append(out, e)
			if len(out) == keep {
				return out, false, nil
			}
		}
		cur = from
		if scanned >= s.maxEventScan && cur > low {
			return out, true, nil
		}
	}
	return out, false, nil
}

// lastEventID returns the highest event id, knowing that one is above
// low: the smallest x for which no event has an id above x, found by
// galloping and bisection on EventsAfter(x, 1).
func (s *server) lastEventID(ctx context.Context, low int64) (int64, error) {
	above := func(x int64) (int64, bool, error) {
		evs, err := s.store.EventsAfter(ctx, x, 1)
		if err != nil || len(evs) == 0 {
			return 0, false, err
		}
		return evs[0].ID, true, nil
	}
	lo, step := low, int64(s.eventPage) // an event has an id above lo
	hi := lo + step
	for {
		id, ok, err := above(hi)
		if err != nil {
			return 0, err
		}
		if !ok {
			break // none above hi
		}
		lo, step = id-1, step*2
		hi = lo + step
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		id, ok, err := above(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = id - 1
		} else {
			hi = mid
		}
	}
	return hi, nil
}

// findingRow is one finding of the latest observation of an endpoint.
type findingRow struct {
	URL      string    `json:"url"`
	Present  bool      `json:"present"`
	Observed time.Time `json:"observed"`
	Rule     string    `json:"rule"`
	Severity string    `json:"severity"`
	Title    string    `json:"title,omitempty"`
	Evidence string    `json:"evidence,omitempty"`
}

// severityGroup is the findings of one severity.
type severityGroup struct {
	Severity string       `json:"severity"`
	Findings []findingRow `json:"findings"`
}

// findings returns the unsuppressed findings of the latest observation of
// every endpoint at or above min, grouped by severity, highest first.
func (s *server) findings(ctx context.Context, min finding.Severity) ([]severityGroup, error) {
	rows, st, err := s.inventory(ctx)
	if err != nil {
		return nil, err
	}
	by := map[finding.Severity][]findingRow{}
	for _, r := range rows {
		es := st.Endpoints[r.URL]
		if es == nil || es.Latest == nil || es.Latest.Endpoint == nil {
			continue
		}
		for _, f := range es.Latest.Endpoint.Findings {
			if f.Suppressed != nil || f.Severity < min {
				continue
			}
			by[f.Severity] = append(by[f.Severity], findingRow{URL: r.URL, Present: r.Present, Observed: es.Latest.Observed,
				Rule: f.Rule, Severity: f.Severity.String(), Title: f.Title, Evidence: f.Evidence})
		}
	}
	out := []severityGroup{}
	for _, sev := range severities {
		if sev < min {
			continue
		}
		fs := by[sev]
		if fs == nil {
			fs = []findingRow{}
		}
		slices.SortStableFunc(fs, func(a, b findingRow) int {
			if a.Present != b.Present {
				if a.Present {
					return -1
				}
				return 1
			}
			return cmp.Or(cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.URL, b.URL))
		})
		out = append(out, severityGroup{Severity: sev.String(), Findings: fs})
	}
	return out, nil
}

// historyPoint is the count of MCP endpoints by auth state after one run.
type historyPoint struct {
	Time  time.Time `json:"time"`
	RunID int64     `json:"run"`
	Group string    `json:"group"`
	// Exposed counts MCP endpoints answering without authentication.
	Exposed int `json:"exposed"`
	// Protected counts MCP endpoints that demand authentication.
	Protected int `json:"protected"`
}

// history computes, for each of the last runs complete runs, how many
// endpoints were exposed and protected when it finished: each endpoint
// counts by its latest conclusive observation at that time (a timeout
// keeps the earlier state). The store has no query for this; it is
// computed from Runs and EndpointHistory, within the bounds above, and
// cached until another run completes.
func (s *server) history(ctx context.Context, runs int) ([]historyPoint, error) {
	done, err := s.completeRuns(ctx, runs)
	if err != nil {
		return nil, err
	}
	var newest int64
	for _, r := range done {
		newest = max(newest, r.ID)
	}
	s.histMu.Lock()
	c, ok := s.histCache[runs]
	s.histMu.Unlock()
	if ok && c.newest == newest && c.count == len(done) {
		return slices.Clone(c.points), nil
	}
	points, err := s.computeHistory(ctx, done, runs)
	if err != nil {
		return nil, err
	}
	s.histMu.Lock()
	if len(s.histCache) >= 8 {
		clear(s.histCache)
	}
	s.histCache[runs] = historyCache{newest: newest, count: len(done), points: points}
	s.histMu.Unlock()
	return slices.Clone(points), nil
}

type historyCache struct {
	newest int64
	count  int
	points []historyPoint
}

// maxRunScan caps the runs history looks through for complete ones.
const maxRunScan = 100_000

// completeRuns returns the last n complete runs (newest first), reading
// more runs while discarded or running ones are in the way.
func (s *server) completeRuns(ctx context.Context, n int) ([]store.Run, error) {
	limit := n + 16
	for {
		all, err := s.store.Runs(ctx, limit)
		if err != nil {
			return nil, err
		}
		var done []store.Run
		for _, r := range all {
			if r.Status == store.RunComplete {
				done = append(done, r)
				if len(done) == n {
					break
				}
			}
		}
		if len(done) == n || len(all) < limit || limit >= maxRunScan {
			return done, nil
		}
		limit = min(limit*4, maxRunScan)
	}
}

func (s *server) computeHistory(ctx context.Context, done []store.Run, runs int) ([]historyPoint, error) {
	at := func(r store.Run) time.Time {
		if r.Finished.IsZero() {
			return r.Started
		}
		return r.Finished
	}
	done = slices.Clone(done)
	slices.SortStableFunc(done, func(a, b store.Run) int {
		return cmp.Or(at(a).Compare(at(b)), cmp.Compare(a.ID, b.ID))
	})
	points := make([]historyPoint, len(done))
	for i, r := range done {
		points[i] = historyPoint{Time: at(r).UTC(), RunID: r.ID, Group: r.Group}
	}
	if len(points) == 0 {
		return points, nil
	}
	items, err := s.store.Inventory(ctx)
	if err != nil {
		return nil, err
	}
	if len(items) > maxHistoryEndpoints {
		items = items[:maxHistoryEndpoints]
	}
	oldest := points[0].Time
	for _, it := range items {
		if it.LastObserved.Before(oldest) && model.Conclusive(it.Status) && it.Status != result.StatusMCP {
			continue // gone before the window and never back
		}
		// An endpoint has at most one observation per run: the window
		// and a few before it hold its baseline.
		hist, err := s.store.EndpointHistory(ctx, it.URL, min(runs+8, maxHistoryObservations))
		if err != nil {
			return nil, err
		}
		// hist is newest first; walk it oldest first along the points.
		slices.Reverse(hist)
		j := 0
		var cur *model.Observation
		for i := range points {
			for j < len(hist) && !hist[j].Observed.After(points[i].Time) {
				if model.Conclusive(hist[j].Status) {
					cur = &hist[j]
				}
				j++
			}
			if cur == nil || cur.Status != result.StatusMCP {
				continue
			}
			if cur.AuthRequired {
				points[i].Protected++
			} else {
				points[i].Exposed++
			}
		}
	}
	return points, nil
}
