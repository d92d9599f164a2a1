package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/watch/diff"
	"github.com/mcpwarden/mcpwarden/internal/watch/model"
	"github.com/mcpwarden/mcpwarden/internal/watch/store"
)

// pageNames are the templates of templates/, each rendered inside layout.
var pageNames = []string{"inventory", "endpoint", "events", "findings", "history", "error"}

type pageSet struct {
	t map[string]*template.Template
}

var funcs = template.FuncMap{
	"ts":      formatTime,
	"ago":     ago,
	"pretty":  prettyJSON,
	"summary": eventSummary,
	"join":    strings.Join,
	"plural":  plural,
	"sev":     func(s finding.Severity) string { return s.String() },
}

func loadPages() (*pageSet, error) {
	ps := &pageSet{t: map[string]*template.Template{}}
	for _, n := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+n+".html")
		if err != nil {
			return nil, fmt.Errorf("dashboard: template %s: %w", n, err)
		}
		ps.t[n] = t
	}
	return ps, nil
}

// view is what a page handler returns: the template, the title, the
// current navigation entry and the page's data.
type view struct {
	Template string
	Title    string
	Nav      string
	Now      time.Time
	Data     any
	Status   int
}

func (s *server) page(fn func(*http.Request) (*view, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := fn(r)
		if err != nil {
			status, msg := s.classify(r, err)
			s.renderError(w, r, status, msg)
			return
		}
		s.render(w, r, v)
	}
}

// classify turns an error into a status and a message safe to show.
func (s *server) classify(r *http.Request, err error) (int, string) {
	var br *badRequest
	switch {
	case errors.As(err, &br):
		return http.StatusBadRequest, "Bad request: " + br.msg
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "The store knows no such endpoint."
	case errors.Is(err, r.Context().Err()) && r.Context().Err() != nil:
		return http.StatusServiceUnavailable, "The request was cancelled."
	}
	s.log.Error("dashboard: request failed", "path", r.URL.Path, "err", err)
	return http.StatusInternalServerError, "The store could not be read; the server log has the details."
}

func (s *server) render(w http.ResponseWriter, r *http.Request, v *view) {
	v.Now = s.now().UTC()
	var buf bytes.Buffer
	if err := s.pages.t[v.Template].Execute(&buf, v); err != nil {
		s.log.Error("dashboard: render", "page", v.Template, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	status := v.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

func (s *server) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.render(w, r, &view{Template: "error", Title: http.StatusText(status), Status: status,
		Data: struct {
			Status  int
			Message string
		}{status, msg}})
}

type inventoryData struct {
	Summary   summary
	Endpoints []endpointRow
	Chart     *chart
}

func (s *server) inventoryPage(r *http.Request) (*view, error) {
	if _, err := parseParams(r.URL.RawQuery); err != nil {
		return nil, err
	}
	rows, _, err := s.inventory(r.Context())
	if err != nil {
		return nil, err
	}
	pts, err := s.history(r.Context(), 100)
	if err != nil {
		return nil, err
	}
	return &view{Template: "inventory", Title: "Inventory", Nav: "inventory",
		Data: inventoryData{Summary: summarize(rows), Endpoints: rows, Chart: newChart(pts, 720, 180)}}, nil
}

func (s *server) endpointPage(r *http.Request) (*view, error) {
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
	v, err := s.endpoint(r.Context(), u, n)
	if err != nil {
		return nil, err
	}
	return &view{Template: "endpoint", Title: u, Nav: "inventory", Data: v}, nil
}

type eventsData struct {
	Events    []model.Event
	Types     []model.Type
	Type      model.Type
	Since     string
	SinceOpts []string
	// SinceKnown is true when Since is one of SinceOpts.
	SinceKnown bool
	Limit      int
	Truncated  bool
}

func (s *server) eventsPage(r *http.Request) (*view, error) {
	p, err := parseParams(r.URL.RawQuery, "type", "since", "limit")
	if err != nil {
		return nil, err
	}
	typ := p.eventType("type")
	since := p.time("since", s.now())
	limit := p.intIn("limit", 200, 1, 1000)
	if err := p.err(); err != nil {
		return nil, err
	}
	evs, truncated, err := s.newestEvents(r.Context(), since, limit, func(e model.Event) bool { return typ == "" || e.Type == typ })
	if err != nil {
		return nil, err
	}
	d := eventsData{Events: evs, Types: model.Types, Type: typ, Since: p.q.Get("since"),
		SinceOpts: []string{"1h", "24h", "7d", "30d"}, Limit: limit, Truncated: truncated}
	d.SinceKnown = slices.Contains(d.SinceOpts, d.Since)
	return &view{Template: "events", Title: "Events", Nav: "events", Data: d}, nil
}

type findingsData struct {
	Groups []severityGroup
	Min    string
	Counts map[string]int
}

func (s *server) findingsPage(r *http.Request) (*view, error) {
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
	return &view{Template: "findings", Title: "Findings", Nav: "findings",
		Data: findingsData{Groups: groups, Min: p.q.Get("severity")}}, nil
}

type historyData struct {
	Points []historyPoint
	Chart  *chart
	Runs   int
}

func (s *server) historyPage(r *http.Request) (*view, error) {
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
	rev := make([]historyPoint, len(pts))
	for i, pt := range pts {
		rev[len(pts)-1-i] = pt
	}
	return &view{Template: "history", Title: "History", Nav: "history",
		Data: historyData{Points: rev, Chart: newChart(pts, 960, 320), Runs: n}}, nil
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// ago says how long before now t was, in one unit.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	if d < 0 {
		return "in the future"
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// prettyJSON indents raw JSON (capped) for a <pre>; bad JSON is shown as is.
func prettyJSON(v any) string {
	const max = 64 << 10
	var raw []byte
	switch x := v.(type) {
	case json.RawMessage:
		raw = x
	case []byte:
		raw = x
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return "unprintable: " + err.Error()
		}
		raw = b
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		buf.Reset()
		buf.Write(raw)
	}
	if buf.Len() > max {
		return buf.String()[:max] + "\n... (truncated)"
	}
	return buf.String()
}

// eventSummary says in one line what an event is about.
func eventSummary(e model.Event) string {
	switch e.Type {
	case model.EndpointNew:
		var d diff.NewDetail
		if json.Unmarshal(e.Detail, &d) == nil {
			s := "MCP server appeared"
			if d.Returning {
				s = "MCP server is back"
			}
			if d.Server != "" {
				s += " (" + strings.TrimSpace(d.Server+" "+d.Version) + ")"
			}
			s += ", " + authText(d.Auth)
			s += ", " + plural(len(d.Tools), "tool")
			if len(d.Risk) > 0 {
				s += "; risk: " + strings.Join(d.Risk, ", ")
			}
			return s
		}
	case model.EndpointGone:
		var d diff.GoneDetail
		if json.Unmarshal(e.Detail, &d) == nil {
			s := "gone: " + string(d.Status)
			if d.Error != "" {
				s += " (" + d.Error + ")"
			}
			return s
		}
	case model.AuthDropped, model.AuthAdded:
		var d diff.AuthDetail
		if json.Unmarshal(e.Detail, &d) == nil {
			s := "authentication dropped"
			if e.Type == model.AuthAdded {
				s = "authentication added"
			}
			s += ": " + authText(d.Before) + " → " + authText(d.After)
			if len(d.Tools) > 0 {
				s += "; tools now open: " + strings.Join(d.Tools, ", ")
			}
			return s
		}
	case model.ToolAdded, model.ToolRemoved:
		verb := "added"
		if e.Type == model.ToolRemoved {
			verb = "removed"
		}
		return "tool " + e.Subject + " " + verb
	case model.ToolChanged:
		var d diff.ChangeDetail
		if json.Unmarshal(e.Detail, &d) == nil {
			var what []string
			if d.DescriptionChanged {
				what = append(what, "description")
			}
			if d.SchemaChanged {
				what = append(what, "input schema")
			}
			if d.AnnotationsChanged {
				what = append(what, "annotations")
			}
			return "tool " + e.Subject + " changed: " + strings.Join(what, ", ")
		}
	case model.FindingNew, model.FindingResolved:
		var d diff.FindingDetail
		if json.Unmarshal(e.Detail, &d) == nil {
			verb := "new finding"
			if e.Type == model.FindingResolved {
				verb = "resolved"
			}
			return fmt.Sprintf("%s: %s [%s] %s", verb, d.Rule, d.Severity, d.Title)
		}
	case model.TLSExpiring:
		var d diff.TLSDetail
		if json.Unmarshal(e.Detail, &d) == nil {
			if d.DaysLeft < 0 {
				return fmt.Sprintf("certificate of %s expired on %s", d.HostPort, d.NotAfter.Format("2006-01-02"))
			}
			return fmt.Sprintf("certificate of %s expires in %d days (%s)", d.HostPort, d.DaysLeft, d.NotAfter.Format("2006-01-02"))
		}
	}
	if e.Subject != "" {
		return string(e.Type) + " " + e.Subject
	}
	return string(e.Type)
}

func authText(a diff.AuthState) string {
	if !a.Required {
		return "no authentication"
	}
	if a.Scheme != "" {
		return "auth " + a.Scheme
	}
	return "auth required"
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
