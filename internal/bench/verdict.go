package bench

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/mcpwarden/mcpwarden/internal/lab"
	"github.com/mcpwarden/mcpwarden/internal/result"
)

// Observation is the part of one endpoint record that a verdict check
// needs. Records are reduced to it as they arrive, so that the benchmark
// does not hold thousands of full records and inflate the RSS it measures.
type Observation struct {
	Path         string
	Status       result.Status
	Transport    string
	AuthRequired bool
	AuthScheme   string
	Server       string
	Tools        int
	Resources    int
	Templates    int
	Prompts      int
	// Error is the record's error, or else its first listing error.
	Error string
}

// Observe reduces a record to an Observation.
func Observe(ep *result.Endpoint) Observation {
	o := Observation{
		Status: ep.Status, Error: capString(ep.Error, 200),
		Tools: len(ep.Tools), Resources: len(ep.Resources), Templates: len(ep.ResourceTemplates), Prompts: len(ep.Prompts),
	}
	if o.Error == "" && ep.Listing != nil && len(ep.Listing.Errors) > 0 {
		o.Error = capString(ep.Listing.Errors[0], 200)
	}
	if u, err := url.Parse(ep.URL); err == nil {
		o.Path = u.Path
	}
	if ep.MCP != nil {
		o.Transport = ep.MCP.Transport
		o.Server = ep.MCP.Server.Name
	}
	if ep.Auth != nil {
		o.AuthRequired = ep.Auth.Required
		o.AuthScheme = ep.Auth.Scheme
	}
	return o
}

func capString(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// Want is the correct verdict on one endpoint: the one record the scan
// must produce for it.
type Want struct {
	Status result.Status
	// The rest is checked for StatusMCP only.
	Path         string
	Transport    string
	AuthRequired bool
	AuthScheme   string
	// Server is the serverInfo name; "" for a protected server, which
	// does not tell.
	Server string
	// Listing: what tools/list, resources/list, resources/templates/list
	// and prompts/list must have returned (zero for protected servers).
	Tools, Resources, Templates, Prompts int
}

// Expected returns the correct verdict on e.
func Expected(e Endpoint) Want {
	switch e.Kind {
	case KindWeb:
		return Want{Status: result.StatusNotMCP}
	case KindClosed:
		return Want{Status: result.StatusClosed}
	case KindTarpit:
		return Want{Status: result.StatusTimeout}
	case KindOAuth:
		return Want{Status: result.StatusMCP, Path: e.Path, Transport: result.TransportStreamable,
			AuthRequired: true, AuthScheme: result.AuthOAuth}
	}
	w := Want{Status: result.StatusMCP, Path: e.Path, AuthScheme: result.AuthNone}
	lk, _ := e.Kind.labKind()
	w.Tools = len(lab.ToolNames(lk))
	if lab.HasResources(lk) {
		w.Resources, w.Templates, w.Prompts = 2, 1, 1
	}
	switch e.Kind {
	case KindOpenStreamable:
		w.Transport, w.Server = result.TransportStreamable, lab.OpenServerName
	case KindOpenStateless:
		// The SDK's stateless handler also serves 2026-07-28, which the
		// prober tries first.
		w.Transport, w.Server = result.TransportStateless, lab.StatelessServerName
	case KindModern:
		w.Transport, w.Server = result.TransportStateless, lab.ModernServerName
	case KindSSE:
		w.Transport, w.Server = result.TransportSSE, lab.SSEServerName
	}
	return w
}

// Check compares the records of one endpoint with its correct verdict and
// says what is wrong, or returns nil.
func Check(e Endpoint, obs []Observation) error {
	want := Expected(e)
	if len(obs) != 1 {
		var b strings.Builder
		for _, o := range obs {
			fmt.Fprintf(&b, " [%s %s %s %s]", o.Status, o.Path, o.Transport, o.Error)
		}
		return fmt.Errorf("%s %s: %d records, want 1:%s", e.Kind, e.Addr, len(obs), b.String())
	}
	o := obs[0]
	var bad []string
	add := func(field string, got, want any) {
		if got != want {
			bad = append(bad, fmt.Sprintf("%s %v, want %v", field, got, want))
		}
	}
	add("status", o.Status, want.Status)
	if want.Status == result.StatusMCP && o.Status == result.StatusMCP {
		add("path", o.Path, want.Path)
		add("transport", o.Transport, want.Transport)
		add("auth.required", o.AuthRequired, want.AuthRequired)
		add("auth.scheme", o.AuthScheme, want.AuthScheme)
		if want.Server != "" {
			add("server", o.Server, want.Server)
		}
		add("tools", o.Tools, want.Tools)
		add("resources", o.Resources, want.Resources)
		add("resource templates", o.Templates, want.Templates)
		add("prompts", o.Prompts, want.Prompts)
	}
	if len(bad) == 0 {
		return nil
	}
	msg := fmt.Sprintf("%s %s: %s", e.Kind, e.Addr, strings.Join(bad, "; "))
	if o.Error != "" {
		msg += " (error: " + o.Error + ")"
	}
	return errors.New(msg)
}

// CheckAll checks every endpoint against observed (records by Addr) and
// returns one error per wrong endpoint.
func CheckAll(eps []Endpoint, observed map[string][]Observation) []error {
	var errs []error
	for _, e := range eps {
		if err := Check(e, observed[e.Addr]); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
