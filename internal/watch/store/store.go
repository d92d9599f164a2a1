// Package store keeps what mcpwarden watch has seen: runs, endpoints,
// observations (the whole scan record of an endpoint in a run), tool
// definitions with content hashes, findings and events. Two backends sit
// behind the Store interface: an embedded SQLite file (pure Go, WAL) and
// PostgreSQL, chosen by the address given to Open.
//
// A run is written in two steps: BeginRun records it as running, and
// CompleteRun stores all its observations and events in one transaction
// and marks it complete. A process killed between the two leaves a
// running row and nothing else; Recover (called by Open) marks it
// discarded. Events carry a deduplication key: storing an event whose key
// is already stored does nothing, so a repeated run does not repeat them.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/watch/model"
)

// Store is the watch database.
type Store interface {
	// BeginRun records a new running run of group and returns its id.
	BeginRun(ctx context.Context, group string) (int64, error)
	// CompleteRun stores the records and events of a running run and
	// marks it complete, all in one transaction. It returns the events
	// that were stored, with their ids; events whose key was already
	// stored are left out. Records are merged by URL (model.Dedupe).
	// Records of endpoints that did not answer (closed, timeout, error)
	// are stored only for endpoints already in the store. It fails with
	// ErrRunNotRunning when the run is complete or discarded.
	CompleteRun(ctx context.Context, runID int64, endpoints []*result.Endpoint, events []model.Event) ([]model.Event, error)
	// DiscardRun marks a running run discarded.
	DiscardRun(ctx context.Context, runID int64) error
	// Recover marks discarded every run still running that started before
	// the given time, and returns how many it marked.
	Recover(ctx context.Context, startedBefore time.Time) (int, error)
	// Run returns one run.
	Run(ctx context.Context, runID int64) (Run, error)
	// Runs returns the last runs, newest first; limit <= 0 means all.
	Runs(ctx context.Context, limit int) ([]Run, error)
	// LatestState returns the known state of the endpoints observed by a
	// run of group ("" for every endpoint), for diff.Diff.
	LatestState(ctx context.Context, group string) (model.State, error)
	// Events returns the events at or after since, oldest first;
	// limit <= 0 means all.
	Events(ctx context.Context, since time.Time, limit int) ([]model.Event, error)
	// EventsAfter returns the events with an id above afterID, in id
	// order; limit <= 0 means all.
	EventsAfter(ctx context.Context, afterID int64, limit int) ([]model.Event, error)
	// EndpointHistory returns the observations of url, newest first;
	// limit <= 0 means all. It fails with ErrNotFound for an unknown url.
	EndpointHistory(ctx context.Context, url string, limit int) ([]model.Observation, error)
	// Inventory returns every endpoint with its latest observation.
	Inventory(ctx context.Context) ([]InventoryItem, error)
	// Prune deletes what the retention policy no longer keeps.
	Prune(ctx context.Context, r Retention) (PruneStats, error)
	// Close closes the database.
	Close() error
}

// Errors returned by stores, checked with errors.Is.
var (
	ErrNotFound      = errors.New("not found")
	ErrRunNotRunning = errors.New("run is not running")
)

// Run statuses.
const (
	RunRunning   = "running"
	RunComplete  = "complete"
	RunDiscarded = "discarded"
)

// Run is one watch cycle of a target group.
type Run struct {
	ID      int64     `json:"id"`
	Group   string    `json:"group"`
	Started time.Time `json:"started"`
	// Finished is zero while the run is running.
	Finished time.Time `json:"finished,omitzero"`
	Status   string    `json:"status"`
}

// InventoryItem is one endpoint with its latest observation.
type InventoryItem struct {
	URL          string        `json:"url"`
	FirstSeen    time.Time     `json:"first_seen"`
	LastSeen     time.Time     `json:"last_seen"`
	Present      bool          `json:"present"`
	LastObserved time.Time     `json:"last_observed"`
	Status       result.Status `json:"status"`
	AuthRequired bool          `json:"auth_required"`
	AuthScheme   string        `json:"auth_scheme,omitempty"`
	// Tools counts the tools of the latest observation.
	Tools int `json:"tools"`
	// Findings counts the unsuppressed findings of the latest observation
	// by severity name.
	Findings map[string]int `json:"findings"`
}

// Retention says how long data is kept. Zero durations keep forever.
type Retention struct {
	// Observations older than this are deleted, except the ones the diff
	// still compares against: the latest observation of each endpoint and
	// its latest MCP, tool-listing and conclusive observations. Runs left
	// without observations and older than this go with them.
	Observations time.Duration
	// Events older than this are deleted.
	Events time.Duration
}

// PruneStats counts what Prune deleted.
type PruneStats struct {
	Observations int64 `json:"observations"`
	Runs         int64 `json:"runs"`
	ToolDefs     int64 `json:"tool_defs"`
	Events       int64 `json:"events"`
	// Alerts counts delivered and failed alerts older than the event
	// retention; pending alerts are never pruned.
	Alerts int64 `json:"alerts"`
}

// Options tunes Open. Nil means the defaults.
type Options struct {
	// Logger receives operational messages; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// NoRecover skips the Recover call of Open. Set it when several
	// processes write runs into one database, so that opening one does
	// not discard the runs the others are in the middle of; they then
	// call Recover with a cut-off of their choosing.
	NoRecover bool
	// BusyTimeout is how long SQLite waits for a lock; zero means 10s.
	BusyTimeout time.Duration
}

func (o *Options) withDefaults() Options {
	var v Options
	if o != nil {
		v = *o
	}
	if v.Logger == nil {
		v.Logger = slog.New(slog.DiscardHandler)
	}
	if v.Now == nil {
		v.Now = time.Now
	}
	if v.BusyTimeout <= 0 {
		v.BusyTimeout = 10 * time.Second
	}
	return v
}

// Open opens the store at addr, creating and migrating it as needed:
// "sqlite:PATH" for a SQLite file, "postgres://..." or "postgresql://..."
// for PostgreSQL. Unless opts.NoRecover is set, runs left running by a
// previous process are marked discarded.
func Open(ctx context.Context, addr string, opts *Options) (Store, error) {
	switch {
	case strings.HasPrefix(addr, "sqlite:"):
		return OpenSQLite(ctx, strings.TrimPrefix(addr, "sqlite:"), opts)
	case strings.HasPrefix(addr, "postgres://"), strings.HasPrefix(addr, "postgresql://"):
		return OpenPostgres(ctx, addr, opts)
	}
	scheme := addr
	if i := strings.Index(addr, ":"); i >= 0 {
		scheme = addr[:i+1]
	}
	if len(scheme) > 40 {
		scheme = scheme[:40] + "..."
	}
	return nil, fmt.Errorf("store: unsupported database %q: want sqlite:PATH or postgres://...", scheme)
}
