package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	// The maintained pure-Go SQLite: no cgo, so the binary stays static.
	_ "modernc.org/sqlite"
)

// schema is the audit table: the whole record as JSON plus the columns
// queries filter on, indexed. time is Unix nanoseconds (UTC).
const schema = `
CREATE TABLE IF NOT EXISTS audit (
	id         INTEGER PRIMARY KEY,
	time       INTEGER NOT NULL,
	request_id TEXT NOT NULL,
	principal  TEXT NOT NULL,
	method     TEXT NOT NULL,
	name       TEXT NOT NULL,
	decision   TEXT NOT NULL,
	record     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_time ON audit(time);
CREATE INDEX IF NOT EXISTS audit_principal ON audit(principal, time);
CREATE INDEX IF NOT EXISTS audit_method ON audit(method, time);
CREATE INDEX IF NOT EXISTS audit_name ON audit(name, time);
CREATE INDEX IF NOT EXISTS audit_decision ON audit(decision, time);
`

const insertSQL = `INSERT INTO audit (time, request_id, principal, method, name, decision, record) VALUES (?, ?, ?, ?, ?, ?, ?)`

// maxSQLiteBatch caps the records committed in one transaction.
const maxSQLiteBatch = 1024

// SQLiteSink stores records in a SQLite database in WAL mode. One
// goroutine owns the connection and commits queued records in batches, one
// transaction each; in sync mode Write returns after the commit with
// synchronous=FULL, in batch mode after the commit with synchronous=NORMAL
// (in the operating system), in none mode at once.
type SQLiteSink struct {
	path string
	o    Options
	db   *sql.DB
	q    *queue
	done chan struct{}
	cerr error
}

var _ Sink = (*SQLiteSink)(nil)

// sqliteDSN builds a modernc.org/sqlite URI for path with params.
func sqliteDSN(path string, params ...string) string {
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + esc + "?" + strings.Join(params, "&")
}

// OpenSQLite opens (creating if needed) the SQLite audit database at path.
func OpenSQLite(path string, o *Options) (*SQLiteSink, error) {
	opts, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	syncMode := map[Durability]string{DurabilityNone: "OFF", DurabilityBatch: "NORMAL", DurabilitySync: "FULL"}[opts.Durability]
	db, err := sql.Open("sqlite", sqliteDSN(path,
		"_pragma=busy_timeout(5000)", "_pragma=journal_mode(WAL)", "_pragma=synchronous("+syncMode+")"))
	if err != nil {
		return nil, fmt.Errorf("audit: sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("audit: sqlite %s: %w", path, err)
	}
	s := &SQLiteSink{path: path, o: opts, db: db, q: newQueue(), done: make(chan struct{})}
	go s.run()
	return s, nil
}

// Write encodes r and queues it for the next transaction; see SQLiteSink
// for when it returns.
func (s *SQLiteSink) Write(ctx context.Context, r *Record) error {
	if r == nil {
		return errNilRecord
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("audit: encode record: %w", err)
	}
	// Copy what the insert needs so the caller may reuse r.
	p := &pending{line: line}
	p.rec = &Record{Time: r.Time, RequestID: r.RequestID, Principal: r.Principal, Method: r.Method, Name: r.Name, Decision: r.Decision}
	if s.o.Durability != DurabilityNone {
		p.done = make(chan error, 1)
	}
	return s.q.submit(ctx, p)
}

// Close commits everything queued and closes the database.
func (s *SQLiteSink) Close() error {
	s.q.close()
	<-s.done
	return s.cerr
}

func (s *SQLiteSink) run() {
	defer close(s.done)
	var batch []*pending
	for p := range s.q.ch {
		var open bool
		batch, open = s.q.drain(append(batch[:0], p), 0, maxSQLiteBatch*1024)
		if len(batch) > maxSQLiteBatch {
			// drain counts bytes; keep transactions bounded in rows too.
			for len(batch) > maxSQLiteBatch {
				s.commit(batch[:maxSQLiteBatch])
				batch = batch[maxSQLiteBatch:]
			}
		}
		s.commit(batch)
		clear(batch)
		if !open {
			break
		}
	}
	s.cerr = s.db.Close()
	if err := s.q.failed(); err != nil && s.cerr == nil {
		s.cerr = err
	}
}

// commit inserts batch in one transaction and answers its writers.
func (s *SQLiteSink) commit(batch []*pending) {
	if err := s.q.failed(); err != nil {
		ack(batch, err)
		return
	}
	err := s.insert(batch)
	if err != nil {
		err = fmt.Errorf("audit: sqlite %s: %w", s.path, err)
		s.o.Logger.Error("audit insert failed", "path", s.path, "err", err)
	}
	ack(batch, err)
}

func (s *SQLiteSink) insert(batch []*pending) error {
	// The owner goroutine's own context: queued records are stored even
	// when the writer that queued them has given up waiting.
	ctx := context.Background()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, insertSQL)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, p := range batch {
		r := p.rec
		if _, err := st.ExecContext(ctx, r.Time.UnixNano(), r.RequestID, r.Principal, r.Method, r.Name, r.Decision, string(p.line)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// sqliteTime converts a filter bound to the stored representation.
func sqliteTime(t time.Time) int64 { return t.UnixNano() }
