package risk

import (
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/finding"
)

func TestCategories(t *testing.T) {
	want := map[string]finding.Severity{
		CommandExec: finding.Critical, DBWrite: finding.Critical, FileWrite: finding.Critical,
		Secrets: finding.Critical, CloudInfra: finding.Critical, Payments: finding.Critical,
		Destructive: finding.Critical,
		DBQuery:     finding.High, FileRead: finding.High, NetworkFetch: finding.High, Messaging: finding.High,
	}
	cats := Categories()
	if len(cats) != len(want) {
		t.Fatalf("%d categories, want %d", len(cats), len(want))
	}
	seen := map[string]bool{}
	for _, c := range cats {
		if seen[c.ID] {
			t.Errorf("%s listed twice", c.ID)
		}
		seen[c.ID] = true
		if c.Description == "" {
			t.Errorf("%s has no description", c.ID)
		}
		if w, ok := want[c.ID]; !ok || c.Tier != w || Tier(c.ID) != w {
			t.Errorf("%s: tier %v (Tier() %v), want %v", c.ID, c.Tier, Tier(c.ID), w)
		}
		if !IsCategory(c.ID) {
			t.Errorf("IsCategory(%q) = false", c.ID)
		}
	}
	if IsCategory("nope") || Tier("nope") != finding.High {
		t.Error("unknown category: IsCategory true or Tier not High")
	}
	cats[0].ID = "changed"
	if Categories()[0].ID == "changed" {
		t.Error("Categories returns the package's slice, not a copy")
	}
}
