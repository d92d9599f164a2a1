package target

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeZmap(t *testing.T) {
	data, err := os.ReadFile("testdata/zmap.csv")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []Format{FormatAuto, FormatZmapCSV} {
		got, err := decodeAll(f, "zmap.csv", string(data), []int{1}, 100)
		if err != nil {
			t.Fatal(err)
		}
		checkServices(t, got)
		want := []string{
			"127.0.0.1|3000|||zmap.csv:2",
			// line 3: success=0 (RST); line 5: repeat=1
			"127.0.0.2|3000|||zmap.csv:4",
		}
		if keys := keysOf(got); !reflect.DeepEqual(keys, want) {
			t.Errorf("format %q: got %q, want %q", f, keys, want)
		}
	}
}

func TestDecodeZmapCases(t *testing.T) {
	tests := []struct {
		name, data string
		want       []string
	}{
		{"saddr only uses port list", "saddr\n127.0.0.1\n127.0.0.2\n",
			[]string{"127.0.0.1|80|||z:2", "127.0.0.1|443|||z:2", "127.0.0.2|80|||z:3", "127.0.0.2|443|||z:3"}},
		{"dport is not the target port", "saddr,dport\n127.0.0.1,40000\n",
			[]string{"127.0.0.1|80|||z:2", "127.0.0.1|443|||z:2"}},
		{"success false word", "saddr,sport,success\n127.0.0.1,80,false\n127.0.0.2,81,true\n",
			[]string{"127.0.0.2|81|||z:3"}},
		{"header only", "saddr,sport\n", nil},
		{"empty", "", nil},
		{"ipv6", "saddr,sport\n2001:db8::1,8080\n", []string{"2001:db8::1|8080|||z:2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeAll(FormatZmapCSV, "z", tt.data, []int{80, 443}, 100)
			if err != nil {
				t.Fatal(err)
			}
			if keys := keysOf(got); !reflect.DeepEqual(keys, tt.want) {
				t.Errorf("got %q, want %q", keys, tt.want)
			}
		})
	}
}

func TestDecodeZmapErrors(t *testing.T) {
	tests := []struct{ data, want string }{
		{"daddr,sport\n127.0.0.1,80\n", `z:1: zmap CSV: header has no saddr column`},
		{"saddr,sport\n127.0.0.1,0\n", `z:2: zmap CSV: sport: port 0 out of range`},
		{"saddr,sport\n127.0.0.1,\n", `z:2: zmap CSV: sport: missing port number`},
		{"saddr,sport\n127.0.0.1,80\nnope,81\n", `z:3: zmap CSV: invalid saddr "nope"`},
		{"saddr,sport\n127.0.0.1,80,extra\n", `z:2: zmap CSV: wrong number of fields`},
		{"saddr,sport\n\"127.0.0.1,80\n", `zmap CSV:`},
	}
	for _, tt := range tests {
		_, err := decodeAll(FormatZmapCSV, "z", tt.data, nil, 100)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want it to contain %q", tt.data, err, tt.want)
		}
	}
}

func TestZmapHeader(t *testing.T) {
	for line, want := range map[string]bool{
		"saddr":                      true,
		"saddr,sport,dport":          true,
		"classification, saddr":      true,
		"saddr,":                     false,
		"127.0.0.1":                  false,
		"daddr,sport":                false,
		"saddr,Sport":                false,
		"saddr,sport,127.0.0.1":      false,
		"saddr_raw,daddr":            false,
		"timestamp_str,saddr,repeat": true,
	} {
		if got := zmapHeader(line); got != want {
			t.Errorf("zmapHeader(%q) = %v, want %v", line, got, want)
		}
	}
}

func FuzzZmapCSV(f *testing.F) {
	if data, err := os.ReadFile("testdata/zmap.csv"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("saddr\n127.0.0.1\n"))
	f.Add([]byte("sport,saddr,success,repeat\n65535,::1,1,0\n0,127.0.0.1,1,0\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, FormatZmapCSV, data) })
}
