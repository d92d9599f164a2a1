package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// --connections needs --host; with it, watch check of the equivalent
// config shows the sampling.
func TestWatchConnectionsFlag(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "w.db")
	code, _, errOut := run(t, t.Context(), "", "watch", "--connections", "127.0.0.1", "--once", "--db", db)
	if code != ExitError || !strings.Contains(errOut, "--connections samples this machine's listeners: it needs --host") {
		t.Fatalf("--connections without --host: exit %d\n%s", code, errOut)
	}
	cfg := &watchConfig{}
	fs := watchFlags(cfg)
	if err := fs.Parse([]string{"--host", "--connections", "--db", db}); err != nil {
		t.Fatal(err)
	}
	c, err := planWatch(cfg, map[string]bool{"host": true, "connections": true, "db": true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g := c.Groups[0]; !g.Host || g.Connections == nil || g.Connections.Interval.Seconds() != 5 {
		t.Errorf("group = %+v", g)
	}
}
