package store

import (
	"bytes"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/watch/model"
	"github.com/mcpwarden/mcpwarden/internal/watch/store/pgtest"
)

func TestPostgres(t *testing.T) {
	srv := pgtest.Start(t)
	pg := backend{name: "postgres", newAddr: func(t *testing.T) string { return srv.NewDB(t) }}
	runSuite(t, pg)

	t.Run("SameAsSQLite", func(t *testing.T) {
		want := scenario(t, sqliteBackend())
		got := scenario(t, pg)
		if len(got) != len(want) {
			t.Fatalf("postgres stored %d events, sqlite %d", len(got), len(want))
		}
		for i := range want {
			if !sameEvent(got[i], want[i]) {
				t.Errorf("event %d:\npostgres %+v\nsqlite   %+v", i, got[i], want[i])
			}
		}
	})
}

func sameEvent(a, b model.Event) bool {
	return a.ID == b.ID && a.Time.Equal(b.Time) && a.Type == b.Type && a.URL == b.URL && a.Subject == b.Subject &&
		bytes.Equal(a.Detail, b.Detail) && a.RunID == b.RunID && a.Key == b.Key
}
