package target

import (
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

func TestExclusions(t *testing.T) {
	e, err := ParseExclusions([]string{
		"127.0.0.0/24, 127.1.0.5",
		"127.2.0.1-127.2.0.9 127.3.0.1-3",
		"fd00::/120",
		"::1",
		"DB.Example.com.",
		"*.internal.example",
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host string
		want bool
	}{
		{"127.0.0.0", true},
		{"127.0.0.255", true},
		{"127.0.1.0", false},
		{"126.255.255.255", false},
		{"127.1.0.5", true},
		{"127.1.0.4", false},
		{"127.2.0.1", true},
		{"127.2.0.9", true},
		{"127.2.0.10", false},
		{"127.3.0.3", true},
		{"127.3.0.4", false},
		{"::ffff:127.0.0.7", true}, // mapped form of an excluded IPv4
		{"fd00::ff", true},
		{"fd00::100", false},
		{"::1", true},
		{"::2", false},
		{"fe80::1", false},
		{"db.example.com", true},
		{"DB.EXAMPLE.COM.", true},
		{"www.example.com", false},
		{"a.internal.example", true},
		{"a.b.Internal.Example", true},
		{"internal.example", false}, // *.x does not match x itself
		{"xinternal.example", false},
		{"localhost", false},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			if got := e.ContainsHost(tt.host); got != tt.want {
				t.Errorf("ContainsHost(%q) = %v, want %v", tt.host, got, tt.want)
			}
			if got := e.Excludes(Service{Host: tt.host, Port: 80}); got != tt.want {
				t.Errorf("Excludes(%q) = %v, want %v", tt.host, got, tt.want)
			}
			if a, err := netip.ParseAddr(tt.host); err == nil {
				if got := e.ContainsAddr(a); got != tt.want {
					t.Errorf("ContainsAddr(%s) = %v, want %v", a, got, tt.want)
				}
			}
		})
	}
	if !e.ContainsAddr(netip.MustParseAddr("fd00::1%eth0")) {
		t.Error("zone should be ignored")
	}
	if e.ContainsAddr(netip.Addr{}) {
		t.Error("zero Addr excluded")
	}
}

func TestExclusionsFamiliesApart(t *testing.T) {
	e, err := ParseExclusions([]string{"::/1"})
	if err != nil {
		t.Fatal(err)
	}
	if e.ContainsAddr(netip.MustParseAddr("127.0.0.1")) {
		t.Error("an IPv6 exclusion covering ::ffff:0:0/96 excluded an IPv4 address")
	}
	if !e.ContainsAddr(netip.MustParseAddr("::2")) {
		t.Error("::2 not excluded by ::/1")
	}
}

func TestExclusionsErrors(t *testing.T) {
	tests := []struct {
		specs []string
		want  string
	}{
		{[]string{"10.0.0.0/33"}, `exclude "10.0.0.0/33": invalid CIDR prefix length`},
		{[]string{"127.0.0.1:80"}, `exclude "127.0.0.1:80": give an address, CIDR, range or host name (no ports or URLs)`},
		{[]string{"http://127.0.0.1/"}, `no ports or URLs`},
		{[]string{"*.bad_name"}, `exclude "*.bad_name": invalid host name`},
		{[]string{"*."}, `exclude "*.": empty host name`},
		{[]string{"**.example.com"}, `exclude "**.example.com"`},
		{[]string{"10.0.0.1-0"}, `range end 10.0.0.0 is before its start`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.specs, " "), func(t *testing.T) {
			_, err := ParseExclusions(tt.specs)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
	t.Run("all reported", func(t *testing.T) {
		_, err := ParseExclusions([]string{"bad_1", "127.0.0.1", "bad_2"})
		if err == nil || !strings.Contains(err.Error(), "bad_1") || !strings.Contains(err.Error(), "bad_2") {
			t.Errorf("error %v, want both bad specs named", err)
		}
	})
}

func TestReadExclusions(t *testing.T) {
	const file = "# keep away\n\n127.0.0.0/30 # lab\n*.corp.example, db.example\n\n::1\n"
	e, err := ReadExclusions("exclude.txt", strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"127.0.0.3": true, "127.0.0.4": false, "x.corp.example": true,
		"db.example": true, "::1": true, "lab": false,
	} {
		if got := e.ContainsHost(host); got != want {
			t.Errorf("ContainsHost(%q) = %v, want %v", host, got, want)
		}
	}

	_, err = ReadExclusions("exclude.txt", strings.NewReader("127.0.0.1\n\n10.0.0.0/99\nok.example\nbad_host\n"))
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{`exclude.txt:3: exclude "10.0.0.0/99": invalid CIDR prefix length`, `exclude.txt:5: exclude "bad_host"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q, want it to contain %q", err, want)
		}
	}

	_, err = ReadExclusions("big.txt", strings.NewReader(strings.Repeat("x", maxLine+1)))
	if err == nil || !strings.Contains(err.Error(), "big.txt:1: line longer than") {
		t.Errorf("long line: error %v", err)
	}
}

func TestExclusionsUnionAndNil(t *testing.T) {
	var none *Exclusions
	if none.ContainsAddr(netip.MustParseAddr("127.0.0.1")) || none.ContainsHost("x") || none.Excludes(Service{Host: "x"}) {
		t.Error("nil Exclusions excludes something")
	}
	if !none.Empty() {
		t.Error("nil not Empty")
	}
	a, _ := ParseExclusions([]string{"127.0.0.1", "a.example"})
	b, _ := ParseExclusions([]string{"127.0.0.2", "*.b.example"})
	if a.Empty() {
		t.Error("non-empty reported Empty")
	}
	u := a.Union(b)
	for _, h := range []string{"127.0.0.1", "127.0.0.2", "a.example", "x.b.example"} {
		if !u.ContainsHost(h) {
			t.Errorf("union lacks %s", h)
		}
	}
	if u.ContainsHost("127.0.0.3") {
		t.Error("union has 127.0.0.3")
	}
	if none.Union(a) != a || a.Union(nil) != a {
		t.Error("Union with nil should return the other")
	}
	if len(u.v4) != 1 {
		t.Errorf("adjacent addresses not merged: %v", u.v4)
	}
}

// TestExclusionsMatchBruteForce checks merged intervals against a plain
// membership table for random CIDRs and ranges inside 127.0.0.0/20.
func TestExclusionsMatchBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const space = 1 << 12
	base := netip.MustParseAddr("127.0.0.0")
	for round := 0; round < 50; round++ {
		var specs []string
		in := make([]bool, space)
		for i := rng.IntN(40); i >= 0; i-- {
			if rng.IntN(2) == 0 {
				bits := 20 + rng.IntN(13)
				size := 1 << (32 - bits)
				start := rng.IntN(space) &^ (size - 1)
				specs = append(specs, addrAt(base, uint64(start)).String()+"/"+strconv.Itoa(bits))
				for j := start; j < start+size; j++ {
					in[j] = true
				}
			} else {
				lo := rng.IntN(space)
				hi := lo + rng.IntN(min(300, space-lo))
				specs = append(specs, addrAt(base, uint64(lo)).String()+"-"+addrAt(base, uint64(hi)).String())
				for j := lo; j <= hi; j++ {
					in[j] = true
				}
			}
		}
		e, err := ParseExclusions(specs)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(e.v4); i++ {
			if e.v4[i].lo.cmp(e.v4[i-1].hi.add(1)) <= 0 {
				t.Fatalf("spans %d and %d overlap or touch", i-1, i)
			}
		}
		for j := 0; j < space; j++ {
			if got := e.ContainsAddr(addrAt(base, uint64(j))); got != in[j] {
				t.Fatalf("round %d, specs %v: address +%d: got %v want %v", round, specs, j, got, in[j])
			}
		}
		lo, hi := rng.IntN(space), 0
		hi = lo + rng.IntN(space-lo)
		want := true
		for j := lo; j <= hi; j++ {
			want = want && in[j]
		}
		if got := e.containsRange(addrAt(base, uint64(lo)), addrAt(base, uint64(hi))); got != want {
			t.Fatalf("containsRange(+%d, +%d) = %v, want %v", lo, hi, got, want)
		}
	}
}

func BenchmarkContainsAddr(b *testing.B) {
	specs := make([]string, 0, 10000)
	base := netip.MustParseAddr("10.0.0.0")
	for i := range 10000 {
		specs = append(specs, addrAt(base, uint64(i)*512).String()+"/24")
	}
	e, err := ParseExclusions(specs)
	if err != nil {
		b.Fatal(err)
	}
	a := netip.MustParseAddr("10.0.77.1")
	for b.Loop() {
		e.ContainsAddr(a)
	}
}

func FuzzExclusions(f *testing.F) {
	f.Add("127.0.0.0/8, *.example.com\n::1 # loopback\n127.0.0.1-5", "127.0.0.3")
	f.Add("::/0", "fd00::1")
	f.Fuzz(func(t *testing.T, file, host string) {
		e, err := ReadExclusions("fuzz", strings.NewReader(file))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, spans := range [][]span{e.v4, e.v6} {
			for i := range spans {
				if spans[i].hi.cmp(spans[i].lo) < 0 || i > 0 && spans[i].lo.cmp(spans[i-1].hi) <= 0 {
					t.Fatalf("spans not sorted and disjoint: %v", spans)
				}
			}
		}
		e.ContainsHost(host)
		if a, err := netip.ParseAddr(host); err == nil {
			e.ContainsAddr(a)
		}
	})
}
