package target

import (
	"reflect"
	"strings"
	"testing"
)

func TestParsePorts(t *testing.T) {
	tests := []struct {
		in   string
		want []int
	}{
		{"80", []int{80}},
		{"3000,8000-8003", []int{3000, 8000, 8001, 8002, 8003}},
		{" 443 , 80 ", []int{443, 80}},
		{"80,80,79-81", []int{80, 79, 81}},
		{"1,65535", []int{1, 65535}},
		{"5-5", []int{5}},
		{"default", DefaultPorts},
		{"DEFAULT", DefaultPorts},
		{"9000,default,80", append([]int{9000}, DefaultPorts...)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePorts(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParsePorts(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
	t.Run("all", func(t *testing.T) {
		got, err := ParsePorts("1-65535")
		if err != nil || len(got) != 65535 || got[0] != 1 || got[65534] != 65535 {
			t.Fatalf("ParsePorts(1-65535) = %d ports, %v", len(got), err)
		}
	})
	t.Run("default is a copy", func(t *testing.T) {
		got, _ := ParsePorts("default")
		got[0] = -1
		if DefaultPorts[0] == -1 {
			t.Fatal("ParsePorts returned DefaultPorts itself")
		}
	})
}

func TestParsePortsErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty port list"},
		{"  ", "empty port list"},
		{"80,,443", `ports "80,,443": empty entry`},
		{"80,", "empty entry"},
		{"0", `ports: "0": port 0 out of range (1-65535)`},
		{"65536", `"65536": port 65536 out of range`},
		{"99999999999999999999", "out of range"},
		{"http", `"http": invalid port "http"`},
		{"-80", `"-80": missing port number`},
		{"80-", `"80-": missing port number`},
		{"90-80", `"90-80": range end 80 is below its start 90`},
		{"1-2-3", `invalid port "2-3"`},
		{"+80", `invalid port "+80"`},
		{"8 0", `invalid port "8 0"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePorts(tt.in)
			if err == nil {
				t.Fatalf("ParsePorts(%q) = %v, want error", tt.in, got)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParsePorts(%q) error %q, want it to contain %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestNormalizePorts(t *testing.T) {
	got, err := normalizePorts(nil)
	if err != nil || !reflect.DeepEqual(got, DefaultPorts) {
		t.Fatalf("normalizePorts(nil) = %v, %v", got, err)
	}
	got, err = normalizePorts([]int{8080, 80, 8080})
	if err != nil || !reflect.DeepEqual(got, []int{8080, 80}) {
		t.Fatalf("normalizePorts dedupe = %v, %v", got, err)
	}
	for _, bad := range []int{0, -1, 65536} {
		if _, err := normalizePorts([]int{80, bad}); err == nil {
			t.Errorf("normalizePorts accepted %d", bad)
		}
	}
}

func FuzzParsePorts(f *testing.F) {
	for _, s := range []string{"80", "3000,8000-8100", "default,9000", "1-65535", "0", "90-80", ",", "8 0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ports, err := ParsePorts(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "ports") {
				t.Fatalf("error %q lacks the ports prefix", err)
			}
			return
		}
		if len(ports) == 0 {
			t.Fatalf("%q: no ports and no error", s)
		}
		var seen portSet
		for _, p := range ports {
			if !validPort(p) || seen.has(p) {
				t.Fatalf("%q: bad or duplicate port %d", s, p)
			}
			seen.add(p)
		}
	})
}
