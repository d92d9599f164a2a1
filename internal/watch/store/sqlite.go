package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	// The maintained pure-Go SQLite: no cgo, so the binary stays static.
	_ "modernc.org/sqlite"
)

// SQLite is the store in one SQLite file, in WAL mode so that readers do
// not wait for the writer. Write transactions begin IMMEDIATE: concurrent
// writers queue on the database lock (up to Options.BusyTimeout) instead
// of failing when a read lock cannot be upgraded.
type SQLite struct {
	*sqlStore
	path string
}

var _ Store = (*SQLite)(nil)

// OpenSQLite opens (creating if needed) the SQLite store at path, applies
// the missing migrations and, unless opts.NoRecover, recovers interrupted
// runs.
func OpenSQLite(ctx context.Context, path string, opts *Options) (*SQLite, error) {
	o := opts.withDefaults()
	if path == "" {
		return nil, fmt.Errorf("store: sqlite: empty path (want sqlite:PATH)")
	}
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	dsn := "file:" + esc + "?" + strings.Join([]string{
		fmt.Sprintf("_pragma=busy_timeout(%d)", o.BusyTimeout.Milliseconds()),
		"_pragma=journal_mode(WAL)",
		// In WAL mode NORMAL loses no committed transaction to a crash of
		// the process, only possibly the last ones to a power failure.
		"_pragma=synchronous(NORMAL)",
		"_pragma=foreign_keys(1)",
		"_txlock=immediate",
	}, "&")
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite %s: %w", path, err)
	}
	s := &SQLite{path: path, sqlStore: &sqlStore{db: db, dialect: dialectSQLite, name: "sqlite " + path,
		now: o.Now, log: o.Logger}}
	if err := s.start(ctx, o); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Path returns the file of the store.
func (s *SQLite) Path() string { return s.path }

// start checks the connection, migrates and recovers.
func (s *sqlStore) start(ctx context.Context, o Options) error {
	if err := s.db.PingContext(ctx); err != nil {
		return s.wrap(err)
	}
	if err := s.migrate(ctx); err != nil {
		return err
	}
	if !o.NoRecover {
		if _, err := s.Recover(ctx, s.now()); err != nil {
			return err
		}
	}
	return nil
}
