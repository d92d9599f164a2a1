package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/watch/model"
)

const (
	dialectSQLite   = "sqlite"
	dialectPostgres = "postgres"
)

// maxInList caps the ids of one IN (...) list.
const maxInList = 500

// sqlStore is the implementation both backends share: the schema and the
// queries are the same apart from placeholders and id columns.
type sqlStore struct {
	db      *sql.DB
	dialect string
	// name says which database an error is about, without credentials.
	name string
	now  func() time.Time
	log  *slog.Logger
	// readTx are the options of read transactions.
	readTx *sql.TxOptions
	// failAt, when set, is called at each stage of CompleteRun and aborts
	// the transaction when it returns an error (tests inject faults).
	failAt func(stage string) error
}

func (s *sqlStore) wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("store: %s: %w", s.name, err)
}

// q rewrites the ? placeholders of query for the dialect. Queries never
// hold a literal question mark.
func (s *sqlStore) q(query string) string {
	if s.dialect != dialectPostgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *sqlStore) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	return s.tx(ctx, nil, fn)
}

func (s *sqlStore) tx(ctx context.Context, opts *sql.TxOptions, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return s.wrap(err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrRunNotRunning) || strings.HasPrefix(err.Error(), "store:") {
			return err
		}
		return s.wrap(err)
	}
	return s.wrap(tx.Commit())
}

func (s *sqlStore) Close() error { return s.wrap(s.db.Close()) }

func (s *sqlStore) BeginRun(ctx context.Context, group string) (int64, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, s.q(`INSERT INTO runs (grp, started, status) VALUES (?, ?, ?) RETURNING id`),
		group, s.now().UnixNano(), RunRunning).Scan(&id)
	return id, s.wrap(err)
}

func (s *sqlStore) DiscardRun(ctx context.Context, runID int64) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		return s.finishRun(ctx, tx, runID, RunDiscarded)
	})
}

// finishRun moves a running run to status, or says why it cannot.
func (s *sqlStore) finishRun(ctx context.Context, tx *sql.Tx, runID int64, status string) error {
	res, err := tx.ExecContext(ctx, s.q(`UPDATE runs SET status = ?, finished = ? WHERE id = ? AND status = ?`),
		status, s.now().UnixNano(), runID, RunRunning)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	var cur string
	err = tx.QueryRowContext(ctx, s.q(`SELECT status FROM runs WHERE id = ?`), runID).Scan(&cur)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: run %d: %w", runID, ErrNotFound)
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("store: run %d is %s: %w", runID, cur, ErrRunNotRunning)
}

func (s *sqlStore) Recover(ctx context.Context, startedBefore time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE runs SET status = ?, finished = ? WHERE status = ? AND started < ?`),
		RunDiscarded, s.now().UnixNano(), RunRunning, startedBefore.UnixNano())
	if err != nil {
		return 0, s.wrap(err)
	}
	n, err := res.RowsAffected()
	if n > 0 {
		s.log.Warn("store: discarded interrupted runs", "runs", n)
	}
	return int(n), s.wrap(err)
}

const runCols = `id, grp, started, finished, status`

func scanRun(sc interface{ Scan(...any) error }) (Run, error) {
	var r Run
	var started int64
	var finished sql.NullInt64
	if err := sc.Scan(&r.ID, &r.Group, &started, &finished, &r.Status); err != nil {
		return r, err
	}
	r.Started = fromNanos(started)
	if finished.Valid {
		r.Finished = fromNanos(finished.Int64)
	}
	return r, nil
}

func (s *sqlStore) Run(ctx context.Context, runID int64) (Run, error) {
	r, err := scanRun(s.db.QueryRowContext(ctx, s.q(`SELECT `+runCols+` FROM runs WHERE id = ?`), runID))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("store: run %d: %w", runID, ErrNotFound)
	}
	return r, s.wrap(err)
}

func (s *sqlStore) Runs(ctx context.Context, limit int) ([]Run, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+runCols+` FROM runs ORDER BY id DESC LIMIT ?`), sqlLimit(limit))
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, s.wrap(err)
		}
		out = append(out, r)
	}
	return out, s.wrap(rows.Err())
}

// sqlLimit turns "<= 0 means all" into a LIMIT value.
func sqlLimit(limit int) int64 {
	if limit <= 0 {
		return 1<<62 - 1
	}
	return int64(limit)
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// prepared is one record ready to insert.
type prepared struct {
	ep       *result.Endpoint
	obs      *model.Observation
	record   string
	listed   bool
	observed int64
}

// validEvents checks events before the transaction starts.
func validEvents(events []model.Event) error {
	for i, e := range events {
		switch {
		case !e.Type.Valid():
			return fmt.Errorf("store: event %d: unknown type %q", i, e.Type)
		case e.URL == "":
			return fmt.Errorf("store: event %d (%s): no url", i, e.Type)
		case e.Key == "":
			return fmt.Errorf("store: event %d (%s %s): no dedup key", i, e.Type, e.URL)
		case e.Time.IsZero():
			return fmt.Errorf("store: event %d (%s %s): no time", i, e.Type, e.URL)
		case len(e.Detail) > 0 && !json.Valid(e.Detail):
			return fmt.Errorf("store: event %d (%s %s): detail is not valid JSON", i, e.Type, e.URL)
		}
	}
	return nil
}

func (s *sqlStore) CompleteRun(ctx context.Context, runID int64, endpoints []*result.Endpoint, events []model.Event) ([]model.Event, error) {
	for i, ep := range endpoints {
		if ep == nil {
			return nil, fmt.Errorf("store: run %d: record %d is nil", runID, i)
		}
		if ep.URL == "" {
			return nil, fmt.Errorf("store: run %d: record %d has no url", runID, i)
		}
	}
	if err := validEvents(events); err != nil {
		return nil, err
	}
	now := s.now()
	var recs []prepared
	for _, ep := range model.Dedupe(endpoints) {
		b, err := json.Marshal(ep)
		if err != nil {
			return nil, fmt.Errorf("store: record %s: %w", ep.URL, err)
		}
		o := model.ObservationOf(ep, now)
		if !ep.ScannedAt.IsZero() {
			o.Observed = ep.ScannedAt
		}
		recs = append(recs, prepared{ep: ep, obs: o, record: string(b), listed: model.ToolsListed(ep), observed: o.Observed.UnixNano()})
	}
	// One order for every writer: concurrent runs lock rows alike.
	slices.SortFunc(recs, func(a, b prepared) int { return strings.Compare(a.ep.URL, b.ep.URL) })

	var stored []model.Event
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.finishRun(ctx, tx, runID, RunComplete); err != nil {
			return err
		}
		for _, r := range recs {
			if err := s.insertObservation(ctx, tx, runID, r); err != nil {
				return fmt.Errorf("record %s: %w", r.ep.URL, err)
			}
		}
		if err := s.fault("observations"); err != nil {
			return err
		}
		stored = stored[:0]
		for _, e := range events {
			id, ok, err := s.insertEvent(ctx, tx, runID, e)
			if err != nil {
				return fmt.Errorf("event %s %s: %w", e.Type, e.URL, err)
			}
			if !ok {
				continue
			}
			e.ID, e.RunID = id, runID
			if len(e.Detail) == 0 {
				e.Detail = json.RawMessage("{}")
			}
			e.Time = e.Time.UTC()
			stored = append(stored, e)
		}
		if err := s.fault("events"); err != nil {
			return err
		}
		return s.fault("commit")
	})
	if err != nil {
		return nil, err
	}
	return stored, nil
}

func (s *sqlStore) fault(stage string) error {
	if s.failAt == nil {
		return nil
	}
	return s.failAt(stage)
}

func (s *sqlStore) insertObservation(ctx context.Context, tx *sql.Tx, runID int64, r prepared) error {
	answered := model.Answered(r.ep.Status)
	var endpointID int64
	if answered {
		err := tx.QueryRowContext(ctx, s.q(`INSERT INTO endpoints (url, first_seen, last_seen) VALUES (?, ?, ?)
ON CONFLICT (url) DO UPDATE SET
	first_seen = CASE WHEN excluded.first_seen < endpoints.first_seen THEN excluded.first_seen ELSE endpoints.first_seen END,
	last_seen = CASE WHEN excluded.last_seen > endpoints.last_seen THEN excluded.last_seen ELSE endpoints.last_seen END
RETURNING id`), r.ep.URL, r.observed, r.observed).Scan(&endpointID)
		if err != nil {
			return err
		}
	} else {
		err := tx.QueryRowContext(ctx, s.q(`SELECT id FROM endpoints WHERE url = ?`), r.ep.URL).Scan(&endpointID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // never answered: not worth a row
		}
		if err != nil {
			return err
		}
	}
	var obsID int64
	err := tx.QueryRowContext(ctx, s.q(`INSERT INTO observations
	(run_id, endpoint_id, observed, status, auth_required, auth_scheme, tools_listed, conclusive, record)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		runID, endpointID, r.observed, string(r.ep.Status), b2i(r.obs.AuthRequired), r.obs.AuthScheme,
		b2i(r.listed), b2i(model.Conclusive(r.ep.Status)), r.record).Scan(&obsID)
	if err != nil {
		return err
	}
	for i, t := range r.obs.Tools {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO tool_defs (hash, name, description, input_schema, annotations)
VALUES (?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`),
			t.Hash, t.Name, t.Description, string(model.CanonicalJSON(t.InputSchema)), string(model.CanonicalJSON(t.Annotations))); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO observation_tools (observation_id, position, hash) VALUES (?, ?, ?)`),
			obsID, i, t.Hash); err != nil {
			return err
		}
	}
	for i, f := range r.obs.Findings {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO findings (observation_id, position, rule, severity, suppressed) VALUES (?, ?, ?, ?, ?)`),
			obsID, i, f.Rule, f.Severity, b2i(f.Suppressed)); err != nil {
			return err
		}
	}
	return nil
}

// insertEvent stores e unless its key is stored already, and keeps the
// presence of the endpoint in step with endpoint.new and endpoint.gone.
func (s *sqlStore) insertEvent(ctx context.Context, tx *sql.Tx, runID int64, e model.Event) (int64, bool, error) {
	detail := string(e.Detail)
	if detail == "" {
		detail = "{}"
	}
	var id int64
	err := tx.QueryRowContext(ctx, s.q(`INSERT INTO events (time, type, url, subject, detail, run_id, dedup_key)
VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING RETURNING id`),
		e.Time.UnixNano(), string(e.Type), e.URL, e.Subject, detail, runID, e.Key).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	if e.Type == model.EndpointNew || e.Type == model.EndpointGone {
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE endpoints SET present = ?, present_since = ? WHERE url = ?`),
			b2i(e.Type == model.EndpointNew), e.Time.UnixNano(), e.URL); err != nil {
			return 0, false, err
		}
	}
	return id, true, nil
}

const eventCols = `id, time, type, url, subject, detail, run_id, dedup_key`

func (s *sqlStore) queryEvents(ctx context.Context, query string, args ...any) ([]model.Event, error) {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []model.Event
	for rows.Next() {
		var e model.Event
		var t int64
		var typ, detail string
		if err := rows.Scan(&e.ID, &t, &typ, &e.URL, &e.Subject, &detail, &e.RunID, &e.Key); err != nil {
			return nil, s.wrap(err)
		}
		e.Time, e.Type, e.Detail = fromNanos(t), model.Type(typ), json.RawMessage(detail)
		out = append(out, e)
	}
	return out, s.wrap(rows.Err())
}

func (s *sqlStore) Events(ctx context.Context, since time.Time, limit int) ([]model.Event, error) {
	var from int64
	if !since.IsZero() {
		from = since.UnixNano()
	}
	return s.queryEvents(ctx, `SELECT `+eventCols+` FROM events WHERE time >= ? ORDER BY time, id LIMIT ?`, from, sqlLimit(limit))
}

func (s *sqlStore) EventsAfter(ctx context.Context, afterID int64, limit int) ([]model.Event, error) {
	return s.queryEvents(ctx, `SELECT `+eventCols+` FROM events WHERE id > ? ORDER BY id LIMIT ?`, afterID, sqlLimit(limit))
}

// baselines are the observation ids LatestState loads for one endpoint.
type baselines struct {
	endpointID                      int64
	latest, mcp, listed, conclusive sql.NullInt64
}

func (s *sqlStore) LatestState(ctx context.Context, group string) (model.State, error) {
	st := model.State{Endpoints: map[string]*model.EndpointState{}}
	err := s.tx(ctx, s.readTx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, s.q(`SELECT o.endpoint_id, MAX(o.id),
	MAX(CASE WHEN o.status = 'mcp' THEN o.id END),
	MAX(CASE WHEN o.tools_listed = 1 THEN o.id END),
	MAX(CASE WHEN o.conclusive = 1 THEN o.id END)
FROM observations o
WHERE ? = '' OR o.endpoint_id IN (SELECT o2.endpoint_id FROM observations o2 JOIN runs r ON r.id = o2.run_id WHERE r.grp = ?)
GROUP BY o.endpoint_id`), group, group)
		if err != nil {
			return err
		}
		var bs []baselines
		for rows.Next() {
			var b baselines
			if err := rows.Scan(&b.endpointID, &b.latest, &b.mcp, &b.listed, &b.conclusive); err != nil {
				rows.Close()
				return err
			}
			bs = append(bs, b)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		var ids []int64
		for _, b := range bs {
			for _, id := range []sql.NullInt64{b.latest, b.mcp, b.listed, b.conclusive} {
				if id.Valid {
					ids = append(ids, id.Int64)
				}
			}
		}
		obs, err := s.loadObservations(ctx, tx, ids)
		if err != nil {
			return err
		}
		eps, err := s.loadEndpoints(ctx, tx)
		if err != nil {
			return err
		}
		for _, b := range bs {
			es, ok := eps[b.endpointID]
			if !ok {
				continue
			}
			pick := func(id sql.NullInt64) *model.Observation {
				if !id.Valid {
					return nil
				}
				return obs[id.Int64]
			}
			es.Latest, es.MCP, es.Listed, es.Conclusive = pick(b.latest), pick(b.mcp), pick(b.listed), pick(b.conclusive)
			st.Endpoints[es.URL] = es
		}
		return nil
	})
	if err != nil {
		return model.State{}, err
	}
	return st, nil
}

func (s *sqlStore) loadEndpoints(ctx context.Context, tx *sql.Tx) (map[int64]*model.EndpointState, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, url, first_seen, last_seen, present, present_since FROM endpoints`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]*model.EndpointState{}
	for rows.Next() {
		var id, first, last, since int64
		var present int
		es := &model.EndpointState{}
		if err := rows.Scan(&id, &es.URL, &first, &last, &present, &since); err != nil {
			return nil, err
		}
		es.FirstSeen, es.LastSeen, es.Present = fromNanos(first), fromNanos(last), present == 1
		if since != 0 {
			es.PresentSince = fromNanos(since)
		}
		out[id] = es
	}
	return out, rows.Err()
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// inList returns "?, ?, ..." for n values and the values as arguments.
func inList(ids []int64) (string, []any) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", "), args
}

// loadObservations loads the observations with the given ids, with their
// tools and findings.
func (s *sqlStore) loadObservations(ctx context.Context, q querier, ids []int64) (map[int64]*model.Observation, error) {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out := make(map[int64]*model.Observation, len(ids))
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), maxInList)]
		ids = ids[len(chunk):]
		list, args := inList(chunk)
		if err := s.loadChunk(ctx, q, list, args, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *sqlStore) loadChunk(ctx context.Context, q querier, list string, args []any, out map[int64]*model.Observation) error {
	rows, err := q.QueryContext(ctx, s.q(`SELECT o.id, o.run_id, e.url, o.observed, o.status, o.auth_required, o.auth_scheme, o.record
FROM observations o JOIN endpoints e ON e.id = o.endpoint_id WHERE o.id IN (`+list+`)`), args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		o := &model.Observation{}
		var observed int64
		var status, record string
		var auth int
		if err := rows.Scan(&o.ID, &o.RunID, &o.URL, &observed, &status, &auth, &o.AuthScheme, &record); err != nil {
			rows.Close()
			return err
		}
		o.Observed, o.Status, o.AuthRequired = fromNanos(observed), result.Status(status), auth == 1
		o.Endpoint = &result.Endpoint{}
		if err := json.Unmarshal([]byte(record), o.Endpoint); err != nil {
			rows.Close()
			return fmt.Errorf("observation %d: stored record: %w", o.ID, err)
		}
		out[o.ID] = o
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = q.QueryContext(ctx, s.q(`SELECT t.observation_id, d.hash, d.name, d.description, d.input_schema, d.annotations
FROM observation_tools t JOIN tool_defs d ON d.hash = t.hash WHERE t.observation_id IN (`+list+`)
ORDER BY t.observation_id, t.position`), args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id int64
		var d model.ToolDef
		var schema, ann string
		if err := rows.Scan(&id, &d.Hash, &d.Name, &d.Description, &schema, &ann); err != nil {
			rows.Close()
			return err
		}
		if schema != "null" {
			d.InputSchema = json.RawMessage(schema)
		}
		if ann != "null" {
			d.Annotations = json.RawMessage(ann)
		}
		if o := out[id]; o != nil {
			o.Tools = append(o.Tools, d)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = q.QueryContext(ctx, s.q(`SELECT observation_id, rule, severity, suppressed FROM findings
WHERE observation_id IN (`+list+`) ORDER BY observation_id, position`), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var f model.FindingRef
		var sup int
		if err := rows.Scan(&id, &f.Rule, &f.Severity, &sup); err != nil {
			return err
		}
		f.Suppressed = sup == 1
		if o := out[id]; o != nil {
			o.Findings = append(o.Findings, f)
		}
	}
	return rows.Err()
}

func (s *sqlStore) EndpointHistory(ctx context.Context, url string, limit int) ([]model.Observation, error) {
	var out []model.Observation
	err := s.tx(ctx, s.readTx, func(tx *sql.Tx) error {
		var eid int64
		err := tx.QueryRowContext(ctx, s.q(`SELECT id FROM endpoints WHERE url = ?`), url).Scan(&eid)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: endpoint %q: %w", url, ErrNotFound)
		}
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT id FROM observations WHERE endpoint_id = ? ORDER BY id DESC LIMIT ?`), eid, sqlLimit(limit))
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		obs, err := s.loadObservations(ctx, tx, slices.Clone(ids))
		if err != nil {
			return err
		}
		for _, id := range ids {
			if o := obs[id]; o != nil {
				out = append(out, *o)
			}
		}
		return nil
	})
	return out, err
}

func (s *sqlStore) Inventory(ctx context.Context) ([]InventoryItem, error) {
	var out []InventoryItem
	err := s.tx(ctx, s.readTx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT e.url, e.first_seen, e.last_seen, e.present, o.id, o.observed, o.status,
	o.auth_required, o.auth_scheme, (SELECT COUNT(*) FROM observation_tools t WHERE t.observation_id = o.id)
FROM endpoints e JOIN observations o ON o.id = (SELECT MAX(o2.id) FROM observations o2 WHERE o2.endpoint_id = e.id)
ORDER BY e.url`)
		if err != nil {
			return err
		}
		at := map[int64]int{}
		for rows.Next() {
			var it InventoryItem
			var first, last, observed, obsID int64
			var present, auth int
			var status string
			if err := rows.Scan(&it.URL, &first, &last, &present, &obsID, &observed, &status, &auth, &it.AuthScheme, &it.Tools); err != nil {
				rows.Close()
				return err
			}
			it.FirstSeen, it.LastSeen, it.LastObserved = fromNanos(first), fromNanos(last), fromNanos(observed)
			it.Present, it.AuthRequired, it.Status = present == 1, auth == 1, result.Status(status)
			it.Findings = map[string]int{}
			at[obsID] = len(out)
			out = append(out, it)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = tx.QueryContext(ctx, `SELECT f.observation_id, f.severity, COUNT(*) FROM findings f
WHERE f.suppressed = 0 AND f.observation_id IN (SELECT MAX(id) FROM observations GROUP BY endpoint_id)
GROUP BY f.observation_id, f.severity`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var sev string
			var n int
			if err := rows.Scan(&id, &sev, &n); err != nil {
				return err
			}
			if i, ok := at[id]; ok {
				out[i].Findings[sev] = n
			}
		}
		return rows.Err()
	})
	return out, err
}

func (s *sqlStore) Prune(ctx context.Context, r Retention) (PruneStats, error) {
	var st PruneStats
	if r.Observations < 0 || r.Events < 0 {
		return st, fmt.Errorf("store: negative retention (observations %v, events %v)", r.Observations, r.Events)
	}
	now := s.now()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		exec := func(n *int64, query string, args ...any) error {
			res, err := tx.ExecContext(ctx, s.q(query), args...)
			if err != nil {
				return err
			}
			c, err := res.RowsAffected()
			*n += c
			return err
		}
		if r.Observations > 0 {
			cut := now.Add(-r.Observations).UnixNano()
			if err := exec(&st.Observations, `DELETE FROM observations WHERE observed < ? AND id NOT IN (
	SELECT MAX(id) FROM observations GROUP BY endpoint_id
	UNION SELECT MAX(id) FROM observations WHERE status = 'mcp' GROUP BY endpoint_id
	UNION SELECT MAX(id) FROM observations WHERE tools_listed = 1 GROUP BY endpoint_id
	UNION SELECT MAX(id) FROM observations WHERE conclusive = 1 GROUP BY endpoint_id)`, cut); err != nil {
				return err
			}
			if err := exec(&st.Runs, `DELETE FROM runs WHERE status <> ? AND started < ?
	AND NOT EXISTS (SELECT 1 FROM observations o WHERE o.run_id = runs.id)`, RunRunning, cut); err != nil {
				return err
			}
			if err := exec(&st.ToolDefs, `DELETE FROM tool_defs WHERE NOT EXISTS
	(SELECT 1 FROM observation_tools t WHERE t.hash = tool_defs.hash)`); err != nil {
				return err
			}
		}
		if r.Events > 0 {
			if err := exec(&st.Events, `DELETE FROM events WHERE time < ?`, now.Add(-r.Events).UnixNano()); err != nil {
				return err
			}
			if err := exec(&st.Alerts, `DELETE FROM alerts WHERE status <> ? AND created < ?`, AlertPending, now.Add(-r.Events).UnixNano()); err != nil {
				return err
			}
		}
		return nil
	})
	return st, err
}

// base gives tests the shared implementation behind a Store.
func (s *sqlStore) base() *sqlStore { return s }
