package report

import "testing"

// TestTableRichGolden renders the fixtures with risk tags, Origin/Host
// checks, TLS and Inspector findings: the sections a security engineer acts
// on (tools by risk, browser reachability, how to fix).
func TestTableRichGolden(t *testing.T) {
	out, err := renderRich(FormatTable, Options{}, richSummary())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "table_rich.golden", out)
}
