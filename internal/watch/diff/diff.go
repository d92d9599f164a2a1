// Package diff compares a run of scan records with the last known state of
// the same endpoints and derives the watch events: endpoints that appeared
// or disappeared, authentication dropped or added, tools added, removed or
// changed (the rug-pull pattern), findings new or resolved, certificates
// about to expire.
//
// Diff is a pure function: the same state, records, time and options give
// the same events, with the same deduplication keys. The keys never depend
// on the run, only on the change and on the state it is relative to, so a
// repeated run (after a crash, or from a second watcher) yields keys the
// store already holds.
//
// # When an endpoint is gone
//
// An endpoint is present from the run in which it answered as an MCP
// server (endpoint.new) until endpoint.gone. It is gone when a run
// observes it conclusively without an MCP server: the connection was
// refused (closed), or something else answers there now (not-mcp). A
// timeout or an error is not conclusive (a busy server or a lossy network
// look the same), so an endpoint that times out or errors is gone only
// when its last MCP answer is at least Options.GoneGrace old. An endpoint
// missing from the run's records is treated as closed when the run covered
// it (Options.Covered), because the scanner does not report closed ports;
// Fill adds those closed records so that the store keeps them as well.
package diff

import (
	"cmp"
	"encoding/json"

	"net"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/watch/model"
)

// Defaults of Options.
const (
	DefaultGoneGrace     = time.Hour
	DefaultTLSExpiryDays = 14
	// DiffContext is the number of context lines of description diffs.
	DiffContext = 3
)

// MissingError is the Error of the closed records Fill adds.
const MissingError = "absent from the run's results: not answering"

// Options tunes Diff. The zero value (or nil) gives the defaults.
type Options struct {
	// GoneGrace is how long a present endpoint may time out or fail
	// before it is reported gone, counted from its last MCP answer. Zero
	// means DefaultGoneGrace; a negative value reports it gone at once.
	GoneGrace time.Duration
	// TLSExpiryDays is the window of tls.expiring: a certificate whose
	// not_after is at most this many days away. Zero means
	// DefaultTLSExpiryDays; a negative value disables the event.
	TLSExpiryDays int
	// Covered reports whether the run scanned url. Nil means that the run
	// covered every endpoint of the state. Endpoints that were not covered
	// and are missing from the run give no event.
	Covered func(url string) bool
}

func (o *Options) withDefaults() Options {
	var v Options
	if o != nil {
		v = *o
	}
	if v.GoneGrace == 0 {
		v.GoneGrace = DefaultGoneGrace
	}
	if v.TLSExpiryDays == 0 {
		v.TLSExpiryDays = DefaultTLSExpiryDays
	}
	return v
}

// Fill returns cur (deduplicated, see model.Dedupe) followed by a closed
// record, stamped now, for every endpoint of prev that the run covered but
// did not report and whose last observation was not already closed.
func Fill(prev model.State, cur []*result.Endpoint, now time.Time, opts *Options) []*result.Endpoint {
	o := opts.withDefaults()
	out := model.Dedupe(cur)
	seen := make(map[string]bool, len(out))
	for _, ep := range out {
		seen[ep.URL] = true
	}
	for _, u := range sortedKeys(prev.Endpoints) {
		p := prev.Endpoints[u]
		if seen[u] || p == nil || (o.Covered != nil && !o.Covered(u)) {
			continue
		}
		if p.Latest == nil || p.Latest.Status == result.StatusClosed {
			continue
		}
		ep := &result.Endpoint{Schema: result.Schema, URL: u, Status: result.StatusClosed,
			Error: MissingError, ScannedAt: now.UTC(), Findings: []finding.Finding{}}
		if p.Latest.Endpoint != nil {
			ep.Host, ep.IP, ep.Port = p.Latest.Endpoint.Host, p.Latest.Endpoint.IP, p.Latest.Endpoint.Port
		}
		out = append(out, ep)
	}
	return out
}

// Diff compares the records of a run with prev and returns the events, in
// a stable order: by URL, then endpoint, auth, tool, finding and TLS
// events. Records for the same URL are merged as model.Dedupe does;
// endpoints of prev that the run covered but did not report are handled
// as closed (see Fill). Every event has Time now.
func Diff(prev model.State, cur []*result.Endpoint, now time.Time, opts *Options) []model.Event {
	o := opts.withDefaults()
	now = now.UTC()
	all := Fill(prev, cur, now, opts)
	slices.SortStableFunc(all, func(a, b *result.Endpoint) int { return cmp.Compare(a.URL, b.URL) })
	d := &differ{o: o, now: now, keys: map[string]bool{}}
	for _, ep := range all {
		d.endpoint(prev.Endpoints[ep.URL], ep)
	}
	return d.out
}

type differ struct {
	o    Options
	now  time.Time
	out  []model.Event
	keys map[string]bool
}

func (d *differ) emit(t model.Type, url, subject, content, base string, detail any) {
	d.emitKey(model.Key(t, url, subject, content, base), t, url, subject, detail)
}

// emitKey adds an event with the given key unless the run has it already.
func (d *differ) emitKey(key string, t model.Type, url, subject string, detail any) {
	if d.keys[key] {
		return
	}
	d.keys[key] = true
	b, err := json.Marshal(detail)
	if err != nil {
		// Details are built from plain values; keep the event anyway.
		b, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	d.out = append(d.out, model.Event{Time: d.now, Type: t, URL: url, Subject: subject, Detail: b, Key: key})
}

func (d *differ) endpoint(p *model.EndpointState, ep *result.Endpoint) {
	d.presence(p, ep)
	d.auth(p, ep)
	d.tools(p, ep)
	d.findings(p, ep)
	d.tls(p, ep)
}

// AuthState is the auth part of event details.
type AuthState struct {
	Required bool   `json:"required"`
	Scheme   string `json:"scheme,omitempty"`
}

func authOf(ep *result.Endpoint) AuthState {
	if ep.Auth == nil {
		return AuthState{}
	}
	return AuthState{Required: ep.Auth.Required, Scheme: ep.Auth.Scheme}
}

// NewDetail is the detail of endpoint.new.
type NewDetail struct {
	Status    result.Status `json:"status"`
	Auth      AuthState     `json:"auth"`
	Transport string        `json:"transport,omitempty"`
	Server    string        `json:"server,omitempty"`
	Version   string        `json:"version,omitempty"`
	Tools     []string      `json:"tools"`
	Risk      []string      `json:"risk,omitempty"`
	// Returning is true when the endpoint was present before and gone.
	Returning bool `json:"returning,omitempty"`
}

// GoneDetail is the detail of endpoint.gone.
type GoneDetail struct {
	Status result.Status `json:"status"`
	Error  string        `json:"error,omitempty"`
	// LastMCP is the time of the last MCP answer, when known.
	LastMCP *time.Time `json:"last_mcp,omitempty"`
}

func (d *differ) presence(p *model.EndpointState, ep *result.Endpoint) {
	present := p != nil && p.Present
	base := ""
	if p != nil {
		base = model.TimeMarker(p.PresentSince)
	}
	if ep.Status == result.StatusMCP {
		if present {
			return
		}
		det := NewDetail{Status: ep.Status, Auth: authOf(ep), Tools: []string{},
			Returning: p != nil && !p.PresentSince.IsZero()}
		if ep.MCP != nil {
			det.Transport, det.Server, det.Version = ep.MCP.Transport, ep.MCP.Server.Name, ep.MCP.Server.Version
		}
		for _, t := range ep.Tools {
			det.Tools = append(det.Tools, t.Name)
		}
		if ep.Risk != nil {
			det.Risk = ep.Risk.Categories
		}
		d.emit(model.EndpointNew, ep.URL, "", "", base, det)
		return
	}
	if !present {
		return
	}
	det := GoneDetail{Status: ep.Status, Error: ep.Error}
	var last time.Time
	if p.MCP != nil {
		last = p.MCP.Observed
		det.LastMCP = &last
	} else {
		last = p.PresentSince
	}
	if !model.Conclusive(ep.Status) && d.o.GoneGrace > 0 && d.now.Sub(last) < d.o.GoneGrace {
		return
	}
	d.emit(model.EndpointGone, ep.URL, "", "", base, det)
}

// AuthDetail is the detail of auth.dropped and auth.added.
type AuthDetail struct {
	Before AuthState `json:"before"`
	After  AuthState `json:"after"`
	// Tools names the tools now listed without authentication (set on
	// auth.dropped).
	Tools []string `json:"tools,omitempty"`
}

func (d *differ) auth(p *model.EndpointState, ep *result.Endpoint) {
	if ep.Status != result.StatusMCP || p == nil || p.MCP == nil {
		return
	}
	before := AuthState{Required: p.MCP.AuthRequired, Scheme: p.MCP.AuthScheme}
	after := authOf(ep)
	var t model.Type
	switch {
	case before.Required && !after.Required:
		t = model.AuthDropped
	case !before.Required && after.Required:
		t = model.AuthAdded
	default:
		return
	}
	det := AuthDetail{Before: before, After: after}
	if t == model.AuthDropped {
		for _, tl := range ep.Tools {
			det.Tools = append(det.Tools, tl.Name)
		}
	}
	d.emit(t, ep.URL, "", before.Scheme+">"+after.Scheme, model.Marker(p.MCP), det)
}

// ToolDetail is the detail of tool.added and tool.removed.
type ToolDetail struct {
	Tool        string          `json:"tool"`
	Hash        string          `json:"hash"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema,omitempty"`
	Annotations json.RawMessage `json:"annotations,omitempty"`
}

// ChangeDetail is the detail of tool.changed: what differs between the
// two definitions, with a unified diff of the descriptions.
type ChangeDetail struct {
	Tool               string `json:"tool"`
	HashBefore         string `json:"hash_before"`
	HashAfter          string `json:"hash_after"`
	DescriptionChanged bool   `json:"description_changed"`
	DescriptionBefore  string `json:"description_before,omitempty"`
	DescriptionAfter   string `json:"description_after,omitempty"`
	DescriptionDiff    string `json:"description_diff,omitempty"`
	SchemaChanged      bool   `json:"schema_changed"`
	// SchemaBefore and SchemaAfter are the canonical input schemas, set
	// when they differ.
	SchemaBefore       json.RawMessage `json:"schema_before,omitempty"`
	SchemaAfter        json.RawMessage `json:"schema_after,omitempty"`
	AnnotationsChanged bool            `json:"annotations_changed"`
	AnnotationsBefore  json.RawMessage `json:"annotations_before,omitempty"`
	AnnotationsAfter   json.RawMessage `json:"annotations_after,omitempty"`
}

func toolMap(defs []model.ToolDef) (map[string]model.ToolDef, []string) {
	m := make(map[string]model.ToolDef, len(defs))
	var names []string
	for _, t := range defs {
		if _, dup := m[t.Name]; dup {
			continue
		}
		m[t.Name] = t
		names = append(names, t.Name)
	}
	return m, names
}

func (d *differ) tools(p *model.EndpointState, ep *result.Endpoint) {
	if !model.ToolsListed(ep) || p == nil || p.Listed == nil {
		return
	}
	base := model.Marker(p.Listed)
	before, bnames := toolMap(p.Listed.Tools)
	cur := make([]model.ToolDef, 0, len(ep.Tools))
	for _, t := range ep.Tools {
		cur = append(cur, model.ToolDefOf(t))
	}
	after, anames := toolMap(cur)
	names := append(slices.Clone(bnames), anames...)
	slices.Sort(names)
	names = slices.Compact(names)
	truncated := ep.Listing != nil && ep.Listing.Truncated
	for _, n := range names {
		b, inB := before[n]
		a, inA := after[n]
		switch {
		case inA && !inB:
			d.emit(model.ToolAdded, ep.URL, n, a.Hash, base, ToolDetail{Tool: n, Hash: a.Hash,
				Description: a.Description, InputSchema: canonicalOrNil(a.InputSchema), Annotations: canonicalOrNil(a.Annotations)})
		case inB && !inA:
			if truncated {
				continue // a capped listing may just not show it
			}
			d.emit(model.ToolRemoved, ep.URL, n, b.Hash, base, ToolDetail{Tool: n, Hash: b.Hash,
				Description: b.Description, InputSchema: canonicalOrNil(b.InputSchema), Annotations: canonicalOrNil(b.Annotations)})
		case a.Hash != b.Hash:
			d.emit(model.ToolChanged, ep.URL, n, b.Hash+">"+a.Hash, base, changeOf(n, b, a))
		}
	}
}

func changeOf(name string, b, a model.ToolDef) ChangeDetail {
	c := ChangeDetail{Tool: name, HashBefore: b.Hash, HashAfter: a.Hash}
	if b.Description != a.Description {
		c.DescriptionChanged = true
		c.DescriptionBefore, c.DescriptionAfter = b.Description, a.Description
		c.DescriptionDiff = Unified(b.Description, a.Description, "before", "after", DiffContext)
	}
	if sb, sa := model.CanonicalJSON(b.InputSchema), model.CanonicalJSON(a.InputSchema); string(sb) != string(sa) {
		c.SchemaChanged, c.SchemaBefore, c.SchemaAfter = true, sb, sa
	}
	if ab, aa := model.CanonicalJSON(b.Annotations), model.CanonicalJSON(a.Annotations); string(ab) != string(aa) {
		c.AnnotationsChanged, c.AnnotationsBefore, c.AnnotationsAfter = true, ab, aa
	}
	return c
}

func canonicalOrNil(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	return model.CanonicalJSON(raw)
}

// FindingDetail is the detail of finding.new and finding.resolved.
type FindingDetail struct {
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	Title    string `json:"title,omitempty"`
	Evidence string `json:"evidence,omitempty"`
}

// openFindings returns the unsuppressed findings of ep by rule, the most
// severe of each rule.
func openFindings(ep *result.Endpoint) map[string]FindingDetail {
	m := map[string]FindingDetail{}
	rank := map[string]int{}
	for _, f := range ep.Findings {
		if f.Suppressed != nil || f.Rule == "" {
			continue
		}
		if r, ok := rank[f.Rule]; ok && r >= int(f.Severity) {
			continue
		}
		rank[f.Rule] = int(f.Severity)
		m[f.Rule] = FindingDetail{Rule: f.Rule, Severity: f.Severity.String(), Title: f.Title, Evidence: f.Evidence}
	}
	return m
}

func (d *differ) findings(p *model.EndpointState, ep *result.Endpoint) {
	if !model.Conclusive(ep.Status) {
		return
	}
	before := map[string]FindingDetail{}
	base := ""
	if p != nil && p.Conclusive != nil {
		base = model.Marker(p.Conclusive)
		if p.Conclusive.Endpoint != nil {
			before = openFindings(p.Conclusive.Endpoint)
		} else {
			for _, f := range p.Conclusive.Findings {
				if !f.Suppressed {
					before[f.Rule] = FindingDetail{Rule: f.Rule, Severity: f.Severity}
				}
			}
		}
	}
	after := openFindings(ep)
	rules := append(sortedKeys(before), sortedKeys(after)...)
	slices.Sort(rules)
	rules = slices.Compact(rules)
	for _, r := range rules {
		b, inB := before[r]
		a, inA := after[r]
		switch {
		case inA && !inB:
			d.emit(model.FindingNew, ep.URL, r, a.Severity, base, a)
		case inB && !inA:
			d.emit(model.FindingResolved, ep.URL, r, b.Severity, base, b)
		}
	}
}

// TLSDetail is the detail of tls.expiring.
type TLSDetail struct {
	HostPort string    `json:"host_port"`
	Subject  string    `json:"subject,omitempty"`
	Issuer   string    `json:"issuer,omitempty"`
	NotAfter time.Time `json:"not_after"`
	// DaysLeft is negative when the certificate has expired.
	DaysLeft int    `json:"days_left"`
	Cert     string `json:"cert"`
}

func (d *differ) tls(p *model.EndpointState, ep *result.Endpoint) {
	t := ep.TLS
	if t == nil || t.NotAfter.IsZero() || d.o.TLSExpiryDays < 0 {
		return
	}
	window := time.Duration(d.o.TLSExpiryDays) * 24 * time.Hour
	from := t.NotAfter.Add(-window)
	if d.now.Before(from) {
		return
	}
	cert := model.CertHash(t)
	if p != nil {
		for _, o := range []*model.Observation{p.Latest, p.MCP, p.Conclusive, p.Listed} {
			// Already seen inside the window: the event fired then.
			if o != nil && o.Endpoint != nil && model.CertHash(o.Endpoint.TLS) == cert && !o.Observed.Before(from) {
				return
			}
		}
	}
	hp := hostPort(ep)
	det := TLSDetail{HostPort: hp, Subject: t.Subject, Issuer: t.Issuer, NotAfter: t.NotAfter.UTC(), Cert: cert,
		DaysLeft: int(t.NotAfter.Sub(d.now).Hours() / 24)}
	if t.NotAfter.Before(d.now) && det.DaysLeft == 0 {
		det.DaysLeft = -1
	}
	// Keyed by listener and certificate, not by URL: several paths on one
	// port share the certificate, and it expires once.
	d.emitKey(model.Key(model.TLSExpiring, "", hp, cert, ""), model.TLSExpiring, ep.URL, hp, det)
}

// hostPort names the listener of ep: its host and port, from the record or
// its URL.
func hostPort(ep *result.Endpoint) string {
	if ep.Host != "" && ep.Port > 0 {
		return net.JoinHostPort(ep.Host, strconv.Itoa(ep.Port))
	}
	u, err := url.Parse(ep.URL)
	if err != nil || u.Host == "" {
		return ep.URL
	}
	if u.Port() != "" {
		return u.Host
	}
	port := "80"
	if u.Scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
