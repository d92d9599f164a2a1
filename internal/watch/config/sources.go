package config

import (
	"net/netip"
	"net/url"
	"os"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/exposure"
	"github.com/mcpwarden/mcpwarden/internal/host"
)

// DefaultConnInterval is the connection sampling interval of a host group
// whose connections block sets none.
const DefaultConnInterval = 5 * time.Second

// DefaultExposurePages bounds the result pages of one index search.
const DefaultExposurePages = 10

// The environment variables the index credentials are read from. They are
// never part of the config file.
const (
	EnvShodanKey    = "SHODAN_API_KEY"
	EnvCensysID     = "CENSYS_API_ID"
	EnvCensysSecret = "CENSYS_API_SECRET"
)

// Connections is the connection sampling of a host group:
//
//	connections: {interval: 5s, gated: ["127.0.0.1:3000"]}
type Connections struct {
	// Interval between two samples (DefaultConnInterval when unset).
	Interval time.Duration
	// Gated declares listeners a gate fronts, besides those found from
	// the running gates (as host --gated).
	Gated []netip.AddrPort
}

// Exposure makes a group an exposure check: on its schedule, the indexes
// are read for the group's own targets and each endpoint of ours that
// newly appears in one raises index.new.
//
//	exposure: {shodan: true, censys: false, shodan_export: FILE, censys_export: FILE,
//	           targets: [203.0.113.0/24, example.com], max_credits: 0}
//
// The API keys come from SHODAN_API_KEY, CENSYS_API_ID and
// CENSYS_API_SECRET at each cycle; they are never stored.
type Exposure struct {
	// Shodan and Censys query the live APIs.
	Shodan, Censys bool
	// ShodanExport and CensysExport are export files read at each cycle.
	ShodanExport, CensysExport string
	// Targets are the operator's own addresses, ranges and domains.
	Targets []string
	// Scope is Targets parsed.
	Scope *exposure.Scope
	// MaxCredits bounds the query credits one cycle may spend (0: only
	// what costs none: Shodan host lookups, exports).
	MaxCredits int
	// MaxPages bounds the result pages of one search.
	MaxPages int
	// ShodanURL and CensysURL replace the APIs' base URLs ("": the real
	// services).
	ShodanURL, CensysURL string
	// APIRate is the requests per second sent to an API (0: each
	// service's published limit).
	APIRate float64
}

type connsFile struct {
	Interval string   `yaml:"interval"`
	Gated    []string `yaml:"gated"`
}

type exposureFile struct {
	Shodan       bool     `yaml:"shodan"`
	Censys       bool     `yaml:"censys"`
	ShodanExport string   `yaml:"shodan_export"`
	CensysExport string   `yaml:"censys_export"`
	Targets      []string `yaml:"targets"`
	MaxCredits   int      `yaml:"max_credits"`
	MaxPages     int      `yaml:"max_pages"`
	ShodanURL    string   `yaml:"shodan_url"`
	CensysURL    string   `yaml:"censys_url"`
	APIRate      float64  `yaml:"api_rate"`
}

// connections validates the connections block of a group (nil when absent).
func (v *validator) connections(what string, f *groupFile) *Connections {
	if f.Connections == nil {
		return nil
	}
	if !f.Host {
		v.add("%s: connections: sampling applies to host: true groups only", what)
	}
	c := &Connections{Interval: DefaultConnInterval}
	if f.Connections.Interval != "" {
		d := v.duration(what+": connections.interval", f.Connections.Interval)
		if _, err := ParseDuration(f.Connections.Interval); err == nil {
			if d < MinInterval {
				v.add("%s: connections.interval %q is shorter than %v", what, f.Connections.Interval, MinInterval)
			}
			c.Interval = d
		}
	}
	for _, s := range f.Connections.Gated {
		ap, err := host.ParseGated(s)
		if err != nil {
			v.add("%s: connections.%v", what, err)
			continue
		}
		c.Gated = append(c.Gated, ap)
	}
	return c
}

// exposure validates the exposure block of a group.
func (v *validator) exposure(what string, f *groupFile) *Exposure {
	x := f.Exposure
	if f.Host || len(f.Targets) > 0 || len(f.TargetFiles) > 0 || len(f.Exclude) > 0 || len(f.Paths) > 0 || f.Ports != "" {
		v.add("%s: an exposure group takes its targets in exposure.targets; host, targets, target_files, exclude, ports and paths do not apply", what)
	}
	e := &Exposure{Shodan: x.Shodan, Censys: x.Censys, ShodanExport: x.ShodanExport, CensysExport: x.CensysExport,
		Targets: x.Targets, MaxCredits: x.MaxCredits, MaxPages: x.MaxPages, ShodanURL: x.ShodanURL, CensysURL: x.CensysURL,
		APIRate: x.APIRate}
	if len(x.Targets) == 0 {
		v.add("%s: exposure.targets: give your own addresses, CIDRs, ranges or domains (there is no default)", what)
	} else if sc, err := exposure.ParseScope(x.Targets); err != nil {
		v.add("%s: exposure.targets: %v", what, err)
	} else {
		e.Scope = sc
	}
	if !x.Shodan && !x.Censys && x.ShodanExport == "" && x.CensysExport == "" {
		v.add("%s: exposure: no index: set shodan: true, censys: true, shodan_export or censys_export", what)
	}
	for _, file := range []string{x.ShodanExport, x.CensysExport} {
		if file == "" {
			continue
		}
		if st, err := os.Stat(file); err != nil {
			v.add("%s: exposure: export file %q: %v", what, file, unwrapPath(err))
		} else if st.IsDir() {
			v.add("%s: exposure: export file %q is a directory", what, file)
		}
	}
	if x.Shodan && v.getenv(EnvShodanKey) == "" {
		v.add("%s: exposure: shodan: true needs the key in %s", what, EnvShodanKey)
	}
	if x.Censys && (v.getenv(EnvCensysID) == "" || v.getenv(EnvCensysSecret) == "") {
		v.add("%s: exposure: censys: true needs %s and %s", what, EnvCensysID, EnvCensysSecret)
	}
	if x.APIRate < 0 {
		v.add("%s: exposure.api_rate: must not be negative", what)
	}
	if x.MaxCredits < 0 {
		v.add("%s: exposure.max_credits: must not be negative", what)
	}
	switch {
	case x.MaxPages == 0:
		e.MaxPages = DefaultExposurePages
	case x.MaxPages < 0 || x.MaxPages > 1000:
		v.add("%s: exposure.max_pages: want 1..1000", what)
	}
	for _, nu := range [][2]string{{"shodan_url", x.ShodanURL}, {"censys_url", x.CensysURL}} {
		name, u := nu[0], nu[1]
		if u == "" {
			continue
		}
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			v.add("%s: exposure.%s: not an http(s) URL", what, name)
		}
	}
	return e
}

// unwrapPath drops the operation and path of an *os.PathError (the
// message names the file already).
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
