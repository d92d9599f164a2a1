package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// migrations holds the schema, one directory per dialect, one numbered
// file per version: NNNN_name.sql. Versions are applied in order and never
// edited once released.
//
//go:embed migrations/*/*.sql
var migrations embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the migrations of dialect in version order.
func loadMigrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, fmt.Errorf("store: migrations of %s: %w", dialect, err)
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("store: migration file %q: want NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(migrations, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("store: migration %s: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("store: two migrations with version %d", ms[i].version)
		}
	}
	return ms, nil
}

// migrate applies the migrations the database lacks, all in one
// transaction, and records each in schema_version.
func (s *sqlStore) migrate(ctx context.Context) error {
	ms, err := loadMigrations(s.dialect)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if s.dialect == dialectPostgres {
			// Serialise concurrent migrations of several processes.
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7419235)`); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
	version INTEGER PRIMARY KEY,
	name    TEXT NOT NULL,
	applied BIGINT NOT NULL
)`); err != nil {
			return err
		}
		var cur sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_version`).Scan(&cur); err != nil {
			return err
		}
		if last := ms[len(ms)-1].version; int(cur.Int64) > last {
			return fmt.Errorf("database schema version %d is newer than this program's %d", cur.Int64, last)
		}
		for _, m := range ms {
			if m.version <= int(cur.Int64) {
				continue
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_version (version, name, applied) VALUES (?, ?, ?)`),
				m.version, m.name, s.now().UnixNano()); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			s.log.Info("store migrated", "version", m.version, "name", m.name)
		}
		return nil
	})
}

// SchemaVersion returns the highest applied migration version.
func (s *sqlStore) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_version`).Scan(&v); err != nil {
		return 0, s.wrap(err)
	}
	return int(v.Int64), nil
}
