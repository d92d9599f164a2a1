package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"

	// pgx is the maintained PostgreSQL driver; its database/sql adapter
	// lets both backends share one implementation.
	_ "github.com/jackc/pgx/v5/stdlib"
)

// Postgres is the store in a PostgreSQL database, for several writers
// (sharded scan workers) and one or more watch processes. Reads that span
// several queries run in one REPEATABLE READ transaction so that they see
// one snapshot.
type Postgres struct {
	*sqlStore
}

var _ Store = (*Postgres)(nil)

// OpenPostgres connects to the PostgreSQL database at dsn (a
// postgres:// URL, as libpq and pgx read it), applies the missing
// migrations and, unless opts.NoRecover, recovers interrupted runs.
// Errors name the host and database, never the password.
func OpenPostgres(ctx context.Context, dsn string, opts *Options) (*Postgres, error) {
	o := opts.withDefaults()
	name := "postgres " + redactDSN(dsn)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", name, err)
	}
	s := &Postgres{sqlStore: &sqlStore{db: db, dialect: dialectPostgres, name: name, now: o.Now, log: o.Logger,
		readTx: &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}}}
	if err := s.start(ctx, o); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// redactDSN returns dsn without its password and query parameters.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable address)"
	}
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	if u.User != nil {
		r.User = url.User(u.User.Username())
	}
	if h := u.Query().Get("host"); h != "" && u.Host == "" {
		return r.String() + " (host " + h + ")"
	}
	return r.String()
}
