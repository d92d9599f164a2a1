package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConnectionsAndExposure(t *testing.T) {
	export := filepath.Join(t.TempDir(), "shodan.jsonl")
	if err := os.WriteFile(export, []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{EnvShodanKey: "k", EnvCensysID: "id", EnvCensysSecret: "s"}
	getenv := func(k string) string { return env[k] }

	c, err := Parse(strings.NewReader(`
groups:
  - {name: box, host: true, connections: {}}
  - {name: box2, host: true, connections: {interval: 30s, gated: ["127.0.0.1:3000", "[::1]:3001"]}}
  - {name: plain, host: true}
  - name: idx
    interval: 6h
    exposure: {shodan: true, censys: true, shodan_export: `+export+`, targets: [198.51.100.0/24, example.com], max_credits: 5}
`), "t.yaml", getenv)
	if err != nil {
		t.Fatal(err)
	}
	if g := c.Groups[0]; g.Connections == nil || g.Connections.Interval != DefaultConnInterval {
		t.Errorf("default connections = %+v", g.Connections)
	}
	if g := c.Groups[1]; g.Connections.Interval != 30*time.Second || len(g.Connections.Gated) != 2 ||
		g.Connections.Gated[1] != netip.MustParseAddrPort("[::1]:3001") {
		t.Errorf("connections = %+v", g.Connections)
	}
	if c.Groups[2].Connections != nil {
		t.Error("sampling is on without a connections block")
	}
	x := c.Groups[3].Exposure
	if x == nil || !x.Shodan || !x.Censys || x.ShodanExport != export || x.MaxCredits != 5 || x.MaxPages != DefaultExposurePages ||
		x.Scope == nil || len(x.Scope.Domains()) != 1 || c.Groups[3].Schedule.Interval != 6*time.Hour {
		t.Errorf("exposure = %+v", x)
	}

	for name, tc := range map[string]struct{ yaml, want string }{
		"connections on a scan group": {`{name: g, targets: [127.0.0.1], connections: {}}`, "host: true groups only"},
		"short interval":              {`{name: g, host: true, connections: {interval: 100ms}}`, "shorter than 1s"},
		"bad interval":                {`{name: g, host: true, connections: {interval: soon}}`, `bad duration "soon"`},
		"bad gated":                   {`{name: g, host: true, connections: {gated: [localhost]}}`, `gated "localhost": want ADDR:PORT`},
		"exposure with targets":       {`{name: g, targets: [127.0.0.1], exposure: {shodan_export: ` + export + `, targets: [10.0.0.0/8]}}`, "takes its targets in exposure.targets"},
		"exposure without targets":    {`{name: g, exposure: {shodan_export: ` + export + `}}`, "exposure.targets: give your own"},
		"exposure without index":      {`{name: g, exposure: {targets: [10.0.0.0/8]}}`, "exposure: no index"},
		"missing export":              {`{name: g, exposure: {censys_export: /nonexistent/x.json, targets: [10.0.0.0/8]}}`, `export file "/nonexistent/x.json"`},
		"bad target":                  {`{name: g, exposure: {shodan_export: ` + export + `, targets: ["10.0.0.0/99"]}}`, "exposure.targets"},
		"negative credits":            {`{name: g, exposure: {shodan_export: ` + export + `, targets: [10.0.0.0/8], max_credits: -1}}`, "max_credits: must not be negative"},
		"bad pages":                   {`{name: g, exposure: {shodan_export: ` + export + `, targets: [10.0.0.0/8], max_pages: -3}}`, "max_pages: want 1..1000"},
		"negative rate":               {`{name: g, exposure: {shodan_export: ` + export + `, targets: [10.0.0.0/8], api_rate: -1}}`, "api_rate: must not be negative"},
		"bad url":                     {`{name: g, exposure: {shodan_export: ` + export + `, targets: [10.0.0.0/8], censys_url: "ftp://x"}}`, "censys_url: not an http(s) URL"},
		"unknown key":                 {`{name: g, exposure: {shodan_export: ` + export + `, targets: [10.0.0.0/8], shodan_key: abc}}`, "shodan_key"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(strings.NewReader("groups:\n  - "+tc.yaml+"\n"), "t.yaml", getenv)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse = %v, want an error with %q", err, tc.want)
			}
		})
	}

	// The keys come from the environment only.
	_, err = Parse(strings.NewReader("groups:\n  - {name: g, exposure: {shodan: true, censys: true, targets: [10.0.0.0/8]}}\n"), "t.yaml", nil)
	if err == nil || !strings.Contains(err.Error(), EnvShodanKey) || !strings.Contains(err.Error(), EnvCensysSecret) {
		t.Errorf("index APIs without keys = %v", err)
	}
}
