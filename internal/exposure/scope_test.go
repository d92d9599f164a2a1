package exposure

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestParseScopeErrors(t *testing.T) {
	tests := []struct {
		specs []string
		want  []string
	}{
		{nil, []string{"no targets"}},
		{[]string{"10.0.0.0/33"}, []string{`"10.0.0.0/33"`}},
		{[]string{"intranet"}, []string{`"intranet"`, "with a dot"}},
		{[]string{"bad host!", "300.1.1.1"}, []string{`"bad host!"`, `"300.1.1.1"`}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.specs, ","), func(t *testing.T) {
			_, err := ParseScope(tt.specs)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestScopeContains(t *testing.T) {
	sc, err := ParseScope([]string{"198.51.100.0/28", "203.0.113.5-203.0.113.9", "192.0.2.1:8443", "example.com", "https://mcp.example.org/mcp", "2001:db8::/126"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ip        string
		port      int
		hostnames []string
		in        bool
		byAddr    bool
		target    string
	}{
		{"198.51.100.7", 8000, nil, true, true, "198.51.100.0/28"},
		{"198.51.100.16", 8000, nil, false, false, ""},
		{"203.0.113.9", 80, nil, true, true, "203.0.113.5-203.0.113.9"},
		{"203.0.113.10", 80, nil, false, false, ""},
		{"192.0.2.1", 8443, nil, true, true, "192.0.2.1:8443"},
		{"192.0.2.1", 80, nil, false, false, ""},
		{"192.0.2.50", 80, []string{"tools.example.com"}, true, false, "example.com"},
		{"192.0.2.50", 80, []string{"EXAMPLE.COM."}, true, false, "example.com"},
		{"192.0.2.50", 80, []string{"notexample.com", "example.com.evil.test"}, false, false, ""},
		{"192.0.2.51", 443, []string{"mcp.example.org"}, true, false, "https://mcp.example.org/mcp"},
		{"192.0.2.51", 80, []string{"mcp.example.org"}, false, false, ""},
		{"2001:db8::3", 80, nil, true, true, "2001:db8::/126"},
		{"2001:db8::4", 80, nil, false, false, ""},
		{"::ffff:198.51.100.1", 80, nil, true, true, "198.51.100.0/28"},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			s := &Service{IP: netip.MustParseAddr(tt.ip), Port: tt.port, Hostnames: tt.hostnames}
			m, ok := sc.Contains(s)
			if ok != tt.in || m.ByAddress != tt.byAddr || m.Target != tt.target {
				t.Errorf("Contains = %+v, %v; want in=%v byAddr=%v target=%q", m, ok, tt.in, tt.byAddr, tt.target)
			}
		})
	}
}

func TestRangePrefixes(t *testing.T) {
	tests := []struct{ first, last, want string }{
		{"10.0.0.0", "10.0.0.255", "10.0.0.0/24"},
		{"10.0.0.1", "10.0.0.6", "10.0.0.1/32 10.0.0.2/31 10.0.0.4/31 10.0.0.6/32"},
		{"0.0.0.0", "255.255.255.255", "0.0.0.0/0"},
		{"255.255.255.254", "255.255.255.255", "255.255.255.254/31"},
		{"2001:db8::", "2001:db8::3", "2001:db8::/126"},
	}
	for _, tt := range tests {
		t.Run(tt.first+"-"+tt.last, func(t *testing.T) {
			var got []string
			for _, p := range rangePrefixes(netip.MustParseAddr(tt.first), netip.MustParseAddr(tt.last)) {
				got = append(got, p.String())
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestQueries(t *testing.T) {
	sc, err := ParseScope([]string{"198.51.100.7", "198.51.100.16-198.51.100.23", "203.0.113.0/24", "example.com", "Example.COM"})
	if err != nil {
		t.Fatal(err)
	}
	sp := sc.Shodan()
	if !slices.Equal(sp.Lookups, []string{"198.51.100.7"}) {
		t.Errorf("lookups %q", sp.Lookups)
	}
	wantS := []string{"net:198.51.100.16/29,203.0.113.0/24", "hostname:example.com"}
	if !slices.Equal(sp.Searches, wantS) {
		t.Errorf("searches %q, want %q", sp.Searches, wantS)
	}
	cq := sc.Censys(false)
	wantC := `(ip: "198.51.100.7" or ip: [198.51.100.16 to 198.51.100.23] or ip: [203.0.113.0 to 203.0.113.255] or dns.names: "example.com" or dns.reverse_dns.names: "example.com")`
	if len(cq) != 1 || cq[0] != wantC {
		t.Errorf("censys %q, want %q", cq, wantC)
	}
	if q := sc.Censys(true)[0]; !strings.HasPrefix(q, wantC+" and (") || !strings.Contains(q, `services.http.response.body: "protocolVersion"`) {
		t.Errorf("censys with signals %q", q)
	}

	// Many targets split into several queries.
	var many []string
	for i := range 45 {
		many = append(many, netip.AddrFrom4([4]byte{10, 1, byte(i), 0}).String()+"/24")
	}
	sc, err = ParseScope(many)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(sc.Shodan().Searches); n != 3 {
		t.Errorf("%d shodan searches, want 3", n)
	}
	if n := len(sc.Censys(true)); n != 3 {
		t.Errorf("%d censys queries, want 3", n)
	}
}
