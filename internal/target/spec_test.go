package target

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestParseSpec(t *testing.T) {
	ip := netip.MustParseAddr
	tests := []struct {
		in   string
		want Spec
	}{
		// URLs
		{"http://127.0.0.1:3000/mcp", Spec{Host: "127.0.0.1", First: ip("127.0.0.1"), Last: ip("127.0.0.1"), Port: 3000, Scheme: "http", Paths: []string{"/mcp"}}},
		{"https://mcp.example.com", Spec{Host: "mcp.example.com", Port: 443, Scheme: "https"}},
		{"http://mcp.example.com", Spec{Host: "mcp.example.com", Port: 80, Scheme: "http"}},
		{"http://mcp.example.com/", Spec{Host: "mcp.example.com", Port: 80, Scheme: "http", Paths: []string{"/"}}},
		{"HTTPS://Mcp.Example.com:8443/sse", Spec{Host: "Mcp.Example.com", Port: 8443, Scheme: "https", Paths: []string{"/sse"}}},
		{"http://[::1]:8080/mcp?key=v", Spec{Host: "::1", First: ip("::1"), Last: ip("::1"), Port: 8080, Scheme: "http", Paths: []string{"/mcp?key=v"}}},
		{"http://[::1]?x=1", Spec{Host: "::1", First: ip("::1"), Last: ip("::1"), Port: 80, Scheme: "http", Paths: []string{"/?x=1"}}},
		{"http://[fe80::1%25eth0]/", Spec{Host: "fe80::1%eth0", First: ip("fe80::1"), Last: ip("fe80::1"), Port: 80, Scheme: "http", Paths: []string{"/"}}},
		{"http://localhost/a%20b#frag", Spec{Host: "localhost", Port: 80, Scheme: "http", Paths: []string{"/a%20b"}}},
		// single hosts
		{"127.0.0.1", Spec{Host: "127.0.0.1", First: ip("127.0.0.1"), Last: ip("127.0.0.1")}},
		{"  127.0.0.1  ", Spec{Host: "127.0.0.1", First: ip("127.0.0.1"), Last: ip("127.0.0.1")}},
		{"::1", Spec{Host: "::1", First: ip("::1"), Last: ip("::1")}},
		{"[::1]", Spec{Host: "::1", First: ip("::1"), Last: ip("::1")}},
		{"FD00::0001", Spec{Host: "fd00::1", First: ip("fd00::1"), Last: ip("fd00::1")}},
		{"fe80::1%eth-0", Spec{Host: "fe80::1%eth-0", First: ip("fe80::1"), Last: ip("fe80::1")}},
		{"localhost", Spec{Host: "localhost"}},
		{"mcp-1.internal.example.com.", Spec{Host: "mcp-1.internal.example.com."}},
		{"xn--bcher-kva.example", Spec{Host: "xn--bcher-kva.example"}},
		// host:port
		{"127.0.0.1:8080", Spec{Host: "127.0.0.1", First: ip("127.0.0.1"), Last: ip("127.0.0.1"), Port: 8080}},
		{"localhost:3000", Spec{Host: "localhost", Port: 3000}},
		{"[::1]:65535", Spec{Host: "::1", First: ip("::1"), Last: ip("::1"), Port: 65535}},
		{"[fe80::1%lo]:1", Spec{Host: "fe80::1%lo", First: ip("fe80::1"), Last: ip("fe80::1"), Port: 1}},
		// CIDRs
		{"127.0.0.0/24", Spec{First: ip("127.0.0.0"), Last: ip("127.0.0.255")}},
		{"127.0.0.77/30", Spec{First: ip("127.0.0.76"), Last: ip("127.0.0.79")}},
		{"127.0.0.1/32", Spec{First: ip("127.0.0.1"), Last: ip("127.0.0.1")}},
		{"0.0.0.0/0", Spec{First: ip("0.0.0.0"), Last: ip("255.255.255.255")}},
		{"fd00::/120", Spec{First: ip("fd00::"), Last: ip("fd00::ff")}},
		{"2001:db8::/80", Spec{First: ip("2001:db8::"), Last: ip("2001:db8::ffff:ffff:ffff")}},
		{"::ffff:127.0.0.0/120", Spec{First: ip("::ffff:127.0.0.0"), Last: ip("::ffff:127.0.0.255")}},
		// ranges
		{"127.0.0.1-127.0.0.50", Spec{First: ip("127.0.0.1"), Last: ip("127.0.0.50")}},
		{"127.0.0.1-50", Spec{First: ip("127.0.0.1"), Last: ip("127.0.0.50")}},
		{"127.0.0.7-7", Spec{First: ip("127.0.0.7"), Last: ip("127.0.0.7")}},
		{"127.0.0.250-127.0.1.5", Spec{First: ip("127.0.0.250"), Last: ip("127.0.1.5")}},
		{"fd00::1-fd00::ff", Spec{First: ip("fd00::1"), Last: ip("fd00::ff")}},
		{"fd00::ffff:ffff:ffff:fff0-fd00:0:0:1::5", Spec{First: ip("fd00::ffff:ffff:ffff:fff0"), Last: ip("fd00:0:0:1::5")}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSpec(tt.in)
			if err != nil {
				t.Fatalf("ParseSpec(%q): %v", tt.in, err)
			}
			tt.want.Input = strings.TrimSpace(tt.in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseSpec(%q)\n got %+v\nwant %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseSpecErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `target "": empty target`},
		{"   ", `target "": empty target`},
		{"10.0.0.0/33", `target "10.0.0.0/33": invalid CIDR prefix length`},
		{"fd00::/129", `invalid CIDR prefix length`},
		{"10.0.0.0/", `invalid CIDR prefix length`},
		{"10.0.0.0/-1", `invalid CIDR prefix length`},
		{"10.0.0.0/x", `invalid CIDR prefix length`},
		{"10.0.0/8", `invalid CIDR address`},
		{"fd00::/64", `too many addresses (2^64, at most 2^48)`},
		{"fe80::%eth0/120", `zone not allowed in a CIDR`},
		{"example.com/mcp", `a path needs a URL`},
		{"localhost:8080/mcp", `target "localhost:8080/mcp": a path needs a URL (http://host/path)`},
		{"127.0.0.10-5", `range end 127.0.0.5 is before its start 127.0.0.10`},
		{"127.0.0.1-256", `last octet above 255`},
		{"127.0.0.1-", `invalid range end ""`},
		{"127.0.0.1-127.0.0", `invalid range end "127.0.0"`},
		{"127.0.0.1-::1", `range mixes IPv4 and IPv6`},
		{"::1-127.0.0.1", `range mixes IPv4 and IPv6`},
		{"fd00::-fd01::", `too many addresses`},
		{"127.0.0.1:0", `port 0 out of range (1-65535)`},
		{"127.0.0.1:65536", `port 65536 out of range (1-65535)`},
		{"127.0.0.1:http", `invalid port "http"`},
		{"127.0.0.1:", `missing port number`},
		{"localhost:-1", `invalid port "-1"`},
		{":80", `missing host`},
		{"[::1", `missing ']'`},
		{"[::1]x", `unexpected "x" after ']'`},
		{"[::1]:0", `port 0 out of range`},
		{"[127.0.0.1]:80", `brackets are for IPv6 addresses only`},
		{"[zz]:80", `invalid IPv6 address`},
		{"::1::2", `invalid IPv6 address`},
		{"fd00::1:80:", `invalid IPv6 address`},
		{"10.0.0.256", `target "10.0.0.256": invalid IP address`},
		{"1.2.3", `invalid IP address`},
		{"256.1.1.1-5", `invalid IP address range`},
		{"exa_mple.com", `character '_' not allowed`},
		{"-bad.example.com", `starts or ends with '-'`},
		{"bad-.example.com", `starts or ends with '-'`},
		{"a..b", `empty label`},
		{"bücher.example", `non-ASCII`},
		{strings.Repeat("a", 64) + ".example", `label longer than 63 bytes`},
		{strings.Repeat("abcdefghi.", 26) + "com", `host name longer than 253 bytes`},
		{"example.123", `last label has no letter`},
		{"*.example.com", `character '*' not allowed`},
		{"ftp://127.0.0.1/", `unsupported URL scheme "ftp" (want http or https)`},
		{"http://", `missing host`},
		{"http://user:pw@127.0.0.1/", `credentials in URL are not supported`},
		{"http://127.0.0.1:0/", `port 0 out of range`},
		{"http://127.0.0.1:99999/", `port 99999 out of range`},
		{"http://127.0.0.1:/", `missing port number after ':'`},
		{"http://exa_mple.com/", `character '_' not allowed`},
		{"http://[::1/", `invalid URL`},
		{"http://a b/", `invalid URL`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			sp, err := ParseSpec(tt.in)
			if err == nil {
				t.Fatalf("ParseSpec(%q) = %+v, want error containing %q", tt.in, sp, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseSpec(%q) error %q, want it to contain %q", tt.in, err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "target ") {
				t.Errorf("error %q does not name the target", err)
			}
		})
	}
}

func TestSpecAddrs(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
	}{
		{"localhost", 1},
		{"127.0.0.1", 1},
		{"127.0.0.0/24", 256},
		{"127.0.0.0/8", 1 << 24},
		{"0.0.0.0/0", 1 << 32},
		{"127.0.0.1-50", 50},
		{"fd00::/80", 1 << 48},
		{"fd00::-fd00::ffff:ffff:fffe", 1<<48 - 1},
		{"fd00::ffff:ffff:ffff:fff0-fd00:0:0:1::5", 22},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			sp, err := ParseSpec(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := sp.Addrs(); got != tt.want {
				t.Errorf("Addrs() = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestAddrAt(t *testing.T) {
	ip := netip.MustParseAddr
	tests := []struct {
		first string
		off   uint64
		want  string
	}{
		{"127.0.0.255", 1, "127.0.1.0"},
		{"0.0.0.0", 1<<32 - 1, "255.255.255.255"},
		{"::ffff:127.0.0.255", 1, "::ffff:127.0.1.0"},
		{"fd00::ffff:ffff:ffff:ffff", 1, "fd00:0:0:1::"},
		{"fd00::", 1 << 47, "fd00::8000:0:0"},
	}
	for _, tt := range tests {
		if got := addrAt(ip(tt.first), tt.off); got != ip(tt.want) {
			t.Errorf("addrAt(%s, %d) = %s, want %s", tt.first, tt.off, got, tt.want)
		}
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{
		"http://127.0.0.1:3000/mcp", "https://[::1]/", "127.0.0.1", "[::1]:80", "localhost:8080",
		"127.0.0.0/24", "fd00::/120", "127.0.0.1-50", "127.0.0.1-127.0.0.9", "fd00::1-fd00::ff",
		"fe80::1%eth0", "10.0.0.0/33", "a..b", "http://user@h/", "::ffff:127.0.0.1/120",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := ParseSpec(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "target ") {
				t.Fatalf("error %q does not name the target", err)
			}
			return
		}
		if sp.Port != 0 && !validPort(sp.Port) {
			t.Fatalf("%q: port %d", s, sp.Port)
		}
		if sp.Scheme != "" && sp.Scheme != "http" && sp.Scheme != "https" || sp.Scheme != "" && sp.Port == 0 {
			t.Fatalf("%q: scheme %q port %d", s, sp.Scheme, sp.Port)
		}
		if sp.First.IsValid() != sp.Last.IsValid() || sp.Host == "" && !sp.First.IsValid() {
			t.Fatalf("%q: incomplete spec %+v", s, sp)
		}
		if sp.First.IsValid() {
			if sp.Last.Less(sp.First) || sp.First.Is4() != sp.Last.Is4() || sp.Addrs() == 0 || sp.Addrs() > MaxAddrs {
				t.Fatalf("%q: bad range %+v (%d addresses)", s, sp, sp.Addrs())
			}
		}
		again, err := ParseSpec(sp.Input)
		if err != nil || !reflect.DeepEqual(again, sp) {
			t.Fatalf("%q: re-parse of %q gave %+v, %v", s, sp.Input, again, err)
		}
		checkBlock(t, specBlock(sp, []int{1, 65535}, "fuzz"))
	})
}
