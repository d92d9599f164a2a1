package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/watch/model"
)

// Alert statuses.
const (
	AlertPending   = "pending"
	AlertDelivered = "delivered"
	AlertFailed    = "failed"
)

// Alert is one event to deliver to one route: a row of the outbox.
type Alert struct {
	ID    int64  `json:"id"`
	Route string `json:"route"`
	// Group is the target group of the run that stored the event.
	Group string `json:"group"`
	// Event is the event as it was when enqueued (its ID is the event id).
	Event  model.Event `json:"event"`
	Status string      `json:"status"`
	// Attempts counts the deliveries started, including one in progress.
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt"`
	LastError   string    `json:"last_error,omitempty"`
	Created     time.Time `json:"created"`
	Delivered   time.Time `json:"delivered,omitzero"`
}

// Outbox is the alert outbox: alerts are enqueued once per event and
// route, kept until delivered or given up, and survive restarts. Both
// stores implement it.
type Outbox interface {
	// AlertCursor returns the id of the last event whose alerts were
	// enqueued; events after it are still to be routed.
	AlertCursor(ctx context.Context) (int64, error)
	// EnqueueAlerts stores the alerts, due at once, skipping any whose event and route
	// are already stored, and moves the cursor to upTo (never back), in one
	// transaction. It returns how many alerts were new.
	EnqueueAlerts(ctx context.Context, alerts []Alert, upTo int64) (int, error)
	// ClaimAlerts returns up to limit pending alerts of the given routes
	// that are due at now, oldest first, counting an attempt for each and
	// holding them for lease: until then no other claim returns them. An
	// alert whose delivery is never settled (the process died) is due
	// again when its lease ends.
	ClaimAlerts(ctx context.Context, routes []string, now time.Time, lease time.Duration, limit int) ([]Alert, error)
	// AlertDelivered marks an alert delivered.
	AlertDelivered(ctx context.Context, id int64) error
	// AlertFailed records a failed attempt: the alert is due again at next,
	// or, when final, kept as failed and not retried.
	AlertFailed(ctx context.Context, id int64, reason string, next time.Time, final bool) error
	// Alerts returns alerts in id order, those of one status unless status
	// is ""; limit <= 0 means all.
	Alerts(ctx context.Context, status string, limit int) ([]Alert, error)
}

var (
	_ Outbox = (*SQLite)(nil)
	_ Outbox = (*Postgres)(nil)
)

// alertCursorName is the cursor row of the outbox.
const alertCursorName = "alerts"

// maxReason bounds the stored error of an attempt.
const maxReason = 1000

func (s *sqlStore) AlertCursor(ctx context.Context) (int64, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT event_id FROM alert_cursor WHERE name = ?`), alertCursorName).Scan(&id)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	return id, s.wrap(err)
}

func (s *sqlStore) EnqueueAlerts(ctx context.Context, alerts []Alert, upTo int64) (int, error) {
	for i, a := range alerts {
		switch {
		case a.Route == "":
			return 0, fmt.Errorf("store: alert %d: no route", i)
		case a.Event.ID <= 0:
			return 0, fmt.Errorf("store: alert %d (%s): event has no id", i, a.Route)
		}
	}
	now := s.now().UnixNano()
	n := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		n = 0
		for _, a := range alerts {
			payload, err := json.Marshal(a.Event)
			if err != nil {
				return fmt.Errorf("alert %s event %d: %w", a.Route, a.Event.ID, err)
			}
			res, err := tx.ExecContext(ctx, s.q(`INSERT INTO alerts (event_id, route, grp, payload, status, attempts, next_attempt, created)
VALUES (?, ?, ?, ?, ?, 0, 0, ?) ON CONFLICT (event_id, route) DO NOTHING`),
				a.Event.ID, a.Route, a.Group, string(payload), AlertPending, now)
			if err != nil {
				return fmt.Errorf("alert %s event %d: %w", a.Route, a.Event.ID, err)
			}
			c, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += int(c)
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO alert_cursor (name, event_id) VALUES (?, ?)
ON CONFLICT (name) DO UPDATE SET event_id = CASE WHEN excluded.event_id > alert_cursor.event_id
	THEN excluded.event_id ELSE alert_cursor.event_id END`), alertCursorName, upTo)
		return err
	})
	return n, err
}

const alertCols = `id, route, grp, payload, status, attempts, next_attempt, last_error, created, delivered`

func scanAlert(sc interface{ Scan(...any) error }) (Alert, error) {
	var a Alert
	var payload string
	var next, created int64
	var delivered sql.NullInt64
	if err := sc.Scan(&a.ID, &a.Route, &a.Group, &payload, &a.Status, &a.Attempts, &next, &a.LastError, &created, &delivered); err != nil {
		return a, err
	}
	if err := json.Unmarshal([]byte(payload), &a.Event); err != nil {
		return a, fmt.Errorf("alert %d: payload: %w", a.ID, err)
	}
	a.NextAttempt, a.Created = fromNanos(next), fromNanos(created)
	if delivered.Valid {
		a.Delivered = fromNanos(delivered.Int64)
	}
	return a, nil
}

func (s *sqlStore) queryAlerts(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) ([]Alert, error) {
	rows, err := q.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func (s *sqlStore) ClaimAlerts(ctx context.Context, routes []string, now time.Time, lease time.Duration, limit int) ([]Alert, error) {
	if len(routes) == 0 {
		return nil, nil
	}
	if len(routes) > maxInList {
		return nil, fmt.Errorf("store: claim: more than %d routes", maxInList)
	}
	if lease <= 0 {
		return nil, fmt.Errorf("store: claim: lease %v must be above zero", lease)
	}
	args := []any{now.Add(lease).UnixNano(), AlertPending, now.UnixNano()}
	for _, r := range routes {
		args = append(args, r)
	}
	args = append(args, sqlLimit(limit))
	lock := ""
	if s.dialect == dialectPostgres {
		// Two watchers never claim the same row; SQLite's write lock
		// serialises claims already.
		lock = " FOR UPDATE SKIP LOCKED"
	}
	query := `UPDATE alerts SET next_attempt = ?, attempts = attempts + 1 WHERE id IN (
	SELECT id FROM alerts WHERE status = ? AND next_attempt <= ? AND route IN (` +
		strings.TrimSuffix(strings.Repeat("?, ", len(routes)), ", ") + `) ORDER BY id LIMIT ?` + lock + `)
RETURNING ` + alertCols
	var out []Alert
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.queryAlerts(ctx, tx, query, args...)
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Alert) int { return int(a.ID - b.ID) })
	return out, nil
}

// settle updates one alert and says so when it does not exist.
func (s *sqlStore) settle(ctx context.Context, id int64, query string, args ...any) error {
	res, err := s.db.ExecContext(ctx, s.q(query), args...)
	if err != nil {
		return s.wrap(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.wrap(err)
	}
	if n == 0 {
		return fmt.Errorf("store: alert %d: %w", id, ErrNotFound)
	}
	return nil
}

func (s *sqlStore) AlertDelivered(ctx context.Context, id int64) error {
	return s.settle(ctx, id, `UPDATE alerts SET status = ?, delivered = ?, last_error = '' WHERE id = ?`,
		AlertDelivered, s.now().UnixNano(), id)
}

func (s *sqlStore) AlertFailed(ctx context.Context, id int64, reason string, next time.Time, final bool) error {
	if len(reason) > maxReason {
		reason = strings.ToValidUTF8(reason[:maxReason], "")
	}
	status := AlertPending
	if final {
		status = AlertFailed
	}
	return s.settle(ctx, id, `UPDATE alerts SET status = ?, next_attempt = ?, last_error = ? WHERE id = ? AND status = ?`,
		status, next.UnixNano(), reason, id, AlertPending)
}

func (s *sqlStore) Alerts(ctx context.Context, status string, limit int) ([]Alert, error) {
	out, err := s.queryAlerts(ctx, s.db, `SELECT `+alertCols+` FROM alerts WHERE ? = '' OR status = ? ORDER BY id LIMIT ?`,
		status, status, sqlLimit(limit))
	return out, s.wrap(err)
}
