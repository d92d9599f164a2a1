package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/exposure"
	"github.com/mcpwarden/mcpwarden/internal/exposure/censys"
	"github.com/mcpwarden/mcpwarden/internal/exposure/shodan"
	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/watch/config"
	"github.com/mcpwarden/mcpwarden/internal/watch/model"
)

// exposureCycle is the cycle of an exposure group: it reads the group's
// indexes (export files, then the APIs within the credit budget) for its
// own targets and stores an index.new event for every likely or possibly
// MCP endpoint of a source, keyed by (source, address, port), so that an
// endpoint raises the event once: when it first appears in that index.
// The run stores no observation. API keys are read from the environment
// at each cycle and never kept.
func (r *Runner) exposureCycle(ctx context.Context, g config.Group) (CycleResult, error) {
	res := CycleResult{Group: g.Name}
	x := g.Exposure
	if x.Scope == nil {
		return res, r.failed(g, fmt.Errorf("exposure: no targets"))
	}
	st := r.o.Store
	runID, err := st.BeginRun(ctx, g.Name)
	if err != nil {
		return res, r.failed(g, err)
	}
	res.RunID = runID
	discard := func(cause error) error {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := st.DiscardRun(dctx, runID); err != nil {
			r.log.Error("watch: discard run", "group", g.Name, "run", runID, "error", err)
		}
		return r.failed(g, cause)
	}
	start := time.Now()
	coll := exposure.NewCollector(x.Scope)
	if err := r.collectExposure(ctx, g, coll); err != nil {
		return res, discard(fmt.Errorf("exposure: %w", err))
	}
	if ctx.Err() != nil {
		return res, discard(context.Cause(ctx))
	}
	res.Duration = time.Since(start)
	r.metrics.duration.WithLabelValues(g.Name).Observe(res.Duration.Seconds())
	indexed := coll.Indexed()
	events := indexEvents(indexed, r.o.Now())
	stored, err := st.CompleteRun(ctx, runID, nil, events)
	if err != nil {
		return res, discard(err)
	}
	res.Records, res.Events = len(indexed), stored
	r.metrics.runs.WithLabelValues(g.Name, "complete").Inc()
	for _, e := range stored {
		r.metrics.events.WithLabelValues(string(e.Type)).Inc()
	}
	r.log.Info("watch: exposure cycle complete", "group", g.Name, "run", runID, "indexed", len(indexed),
		"events", len(stored), "elapsed", res.Duration.Round(time.Millisecond))
	if r.alerts != nil && len(stored) > 0 {
		r.alerts.Notify()
	}
	return res, nil
}

// indexEvents returns one index.new event per source of every indexed
// service classified likely or possibly MCP.
func indexEvents(indexed []*exposure.Indexed, now time.Time) []model.Event {
	var out []model.Event
	for _, ix := range indexed {
		if ix.Verdict.Class.Rank() == 0 {
			continue
		}
		sev := finding.Medium
		if ix.Verdict.Class == exposure.LikelyMCP {
			sev = finding.High
		}
		s := ix.Service
		for _, src := range ix.Sources {
			d := model.IndexDetail{Source: string(src), IP: s.IP.Unmap().String(), Port: s.Port, Transport: s.Transport,
				Class: string(ix.Verdict.Class), Signals: ix.Verdict.Signals, Saw: ix.Saw(), Hostnames: s.Hostnames,
				FirstSeen: ix.FirstSeen, LastSeen: ix.LastSeen, Severity: sev.String()}
			b, _ := json.Marshal(d)
			out = append(out, model.Event{Time: now, Type: model.IndexNew, URL: ix.URL(), Subject: string(src),
				Detail: b, Key: model.IndexKey(string(src), s.IP, s.Port)})
		}
	}
	return out
}

// collectExposure feeds coll from the group's export files and APIs.
func (r *Runner) collectExposure(ctx context.Context, g config.Group, coll *exposure.Collector) error {
	x := g.Exposure
	add := func(s *exposure.Service) error { coll.Add(s); return nil }
	read := func(name string, fn func(context.Context, io.Reader, func(*exposure.Service) error) (exposure.Counts, error)) error {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		n, err := fn(ctx, f, add)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		r.log.Debug("watch: exposure export read", "group", g.Name, "file", name, "records", n.Records, "malformed", n.Malformed)
		return nil
	}
	if x.ShodanExport != "" {
		if err := read(x.ShodanExport, shodan.ReadExport); err != nil {
			return err
		}
	}
	if x.CensysExport != "" {
		if err := read(x.CensysExport, censys.ReadExport); err != nil {
			return err
		}
	}
	budget := x.MaxCredits
	if x.Shodan {
		c, err := shodan.New(shodan.Options{BaseURL: x.ShodanURL, Key: os.Getenv(config.EnvShodanKey), Rate: x.APIRate, UserAgent: r.exposureUA(), Logger: r.log})
		if err != nil {
			return err
		}
		if err := r.watchShodan(ctx, g, c, &budget, add); err != nil {
			return err
		}
	}
	if x.Censys {
		c, err := censys.New(censys.Options{BaseURL: x.CensysURL, ID: os.Getenv(config.EnvCensysID),
			Secret: os.Getenv(config.EnvCensysSecret), Rate: x.APIRate, UserAgent: r.exposureUA(), Logger: r.log})
		if err != nil {
			return err
		}
		if err := r.watchCensys(ctx, g, c, &budget, add); err != nil {
			return err
		}
	}
	return nil
}

func (r *Runner) exposureUA() string {
	if r.o.UserAgent != "" {
		return r.o.UserAgent
	}
	return "mcpwarden-watch"
}

// watchShodan runs the free host lookups of the scope, then each search
// whose cost fits what is left of the cycle's budget and of the account's
// credits; the others are skipped with a warning.
func (r *Runner) watchShodan(ctx context.Context, g config.Group, c *shodan.Client, budget *int, add func(*exposure.Service) error) error {
	x := g.Exposure
	info, err := c.APIInfo(ctx)
	if err != nil {
		return err
	}
	credits := info.QueryCredits
	plan := x.Scope.Shodan()
	for _, a := range plan.Lookups {
		addr, err := netip.ParseAddr(a)
		if err != nil {
			return fmt.Errorf("shodan: lookup %q: %w", a, err)
		}
		if _, err := c.Host(ctx, addr, add); err != nil {
			return err
		}
	}
	for _, q := range plan.Searches {
		total, err := c.Count(ctx, q)
		if err != nil {
			return err
		}
		pages := shodan.Pages(total, x.MaxPages)
		if pages == 0 {
			continue
		}
		cost := shodan.Cost(q, pages)
		if cost > *budget || cost > credits {
			r.log.Warn("watch: exposure: shodan search skipped: its cost is above the credits left",
				"group", g.Name, "query", q, "cost", cost, "max_credits_left", *budget, "account_credits", credits)
			continue
		}
		n, err := c.Search(ctx, q, pages, add)
		*budget -= n.Credits
		credits -= n.Credits
		if err != nil {
			return err
		}
	}
	return nil
}

// watchCensys runs the scope's searches (one query per page) and looks up
// the hosts hit (one query each) while the budget lasts; hits left without
// a lookup are classified from the search alone.
func (r *Runner) watchCensys(ctx context.Context, g config.Group, c *censys.Client, budget *int, add func(*exposure.Service) error) error {
	x := g.Exposure
	q, err := c.Account(ctx)
	if err != nil {
		return err
	}
	left := q.Left()
	spend := func() bool {
		if *budget < 1 || left < 1 {
			return false
		}
		*budget--
		left--
		return true
	}
	var hits []*censys.Host
	seen := map[netip.Addr]bool{}
	for _, query := range x.Scope.Censys(true) {
		if !spend() {
			r.log.Warn("watch: exposure: censys search skipped: no query credit left", "group", g.Name, "query", query)
			continue
		}
		_, err := c.Search(ctx, query, x.MaxPages, func(page, total int) bool { return spend() }, func(h *censys.Host) error {
			if !seen[h.Addr()] {
				seen[h.Addr()] = true
				hits = append(hits, h)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, h := range hits {
		inScope := false
		svcs, _ := h.ServicesOf(true, "")
		for _, s := range svcs {
			if _, ok := x.Scope.Contains(s); ok {
				inScope = true
			}
		}
		if !inScope {
			continue // neither looked up nor kept
		}
		looked := false
		if spend() {
			full, err := c.Host(ctx, h.Addr())
			if err != nil {
				return err
			}
			if full != nil {
				svcs, _ = full.ServicesOf(false, "")
				looked = true
			}
		}
		if !looked {
			svcs, _ = h.ServicesOf(true, "MCP text in the HTTP response (Censys search)")
		}
		for _, s := range svcs {
			add(s)
		}
	}
	return nil
}
