package target

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeNmap(t *testing.T) {
	data, err := os.ReadFile("testdata/nmap.xml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []Format{FormatAuto, FormatNmapXML} {
		got, err := decodeAll(f, "nmap.xml", string(data), []int{1}, 100)
		if err != nil {
			t.Fatal(err)
		}
		checkServices(t, got)
		var keys []string
		for _, s := range got {
			keys = append(keys, key(s))
		}
		want := []string{
			"127.0.0.1|80|||nmap.xml:14",
			"127.0.0.1|443|https||nmap.xml:14", // tunnel="ssl"
			"127.0.0.1|3000|||nmap.xml:14",     // 8443 is filtered
			"127.0.0.2|8000|||nmap.xml:29",
			"127.0.0.2|8443|https||nmap.xml:29", // name="https"
			"::1|3000|||nmap.xml:52",            // udp/53 skipped
			"::1|8443|||nmap.xml:52",
		}
		if !reflect.DeepEqual(keys, want) {
			t.Errorf("format %q: got\n%s\nwant\n%s", f, strings.Join(keys, "\n"), strings.Join(want, "\n"))
		}
	}
}

func TestDecodeNmapCases(t *testing.T) {
	const head = `<?xml version="1.0"?><nmaprun>`
	tests := []struct {
		name, data string
		want       []string
	}{
		{"no hosts", head + `</nmaprun>`, nil},
		{"ssl/http name", head + `<host><address addr="127.0.0.1" addrtype="ipv4"/><ports>` +
			`<port protocol="tcp" portid="9443"><state state="open"/><service name="ssl/http"/></port></ports></host></nmaprun>`,
			[]string{"127.0.0.1|9443|https||x.xml:1"}},
		{"duplicate port once", head + `<host><address addr="127.0.0.1" addrtype="ipv4"/>` +
			`<port protocol="tcp" portid="80"><state state="open"/></port><port protocol="tcp" portid="80"><state state="open"/></port></host></nmaprun>`,
			[]string{"127.0.0.1|80|||x.xml:1"}},
		{"two addresses", head + "\n<host>\n<address addr=\"127.0.0.1\" addrtype=\"ipv4\"/><address addr=\"::1\" addrtype=\"ipv6\"/>" +
			`<port protocol="tcp" portid="80"><state state="open"/></port></host></nmaprun>`,
			[]string{"127.0.0.1|80|||x.xml:2", "::1|80|||x.xml:2"}},
		{"port state after port closes is ignored", head + `<host><address addr="127.0.0.1" addrtype="ipv4"/>` +
			`<port protocol="tcp" portid="80"></port><state state="open"/></host></nmaprun>`, nil},
		{"open|filtered is not open", head + `<host><address addr="127.0.0.1" addrtype="ipv4"/>` +
			`<port protocol="tcp" portid="80"><state state="open|filtered"/></port></host></nmaprun>`, nil},
		{"ports reset between hosts", head +
			`<host><address addr="127.0.0.1" addrtype="ipv4"/><port protocol="tcp" portid="80"><state state="open"/></port></host>` +
			`<host><address addr="127.0.0.2" addrtype="ipv4"/><port protocol="tcp" portid="80"><state state="open"/></port></host></nmaprun>`,
			[]string{"127.0.0.1|80|||x.xml:1", "127.0.0.2|80|||x.xml:1"}},
		{"zone kept", head + `<host><address addr="fe80::1%eth0" addrtype="ipv6"/>` +
			`<port protocol="tcp" portid="80"><state state="open"/></port></host></nmaprun>`,
			[]string{"fe80::1%eth0|80|||x.xml:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeAll(FormatNmapXML, "x.xml", tt.data, nil, 100)
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, s := range got {
				keys = append(keys, key(s))
			}
			if !reflect.DeepEqual(keys, tt.want) {
				t.Errorf("got %q, want %q", keys, tt.want)
			}
		})
	}
}

func TestDecodeNmapErrors(t *testing.T) {
	const head = "<?xml version=\"1.0\"?>\n<nmaprun>\n"
	tests := []struct{ name, data, want string }{
		{"not nmap", "<html><body/></html>", `x.xml:1: not nmap XML: root element <html>, want <nmaprun>`},
		{"no root", `<?xml version="1.0"?>`, `x.xml: not nmap XML: no <nmaprun> element`},
		{"truncated", head + `<host><address addr="127.0.0.1" addrtype="ipv4"/>`, `x.xml:3: nmap XML: XML syntax error`},
		{"bad address", head + "<host>\n<address addr=\"999.1.1.1\" addrtype=\"ipv4\"/></host></nmaprun>", `x.xml:4: nmap XML: invalid ipv4 address "999.1.1.1"`},
		{"family mismatch", head + `<host><address addr="::1" addrtype="ipv4"/></host></nmaprun>`, `invalid ipv4 address "::1"`},
		{"port zero", head + `<host><port protocol="tcp" portid="0"/></host></nmaprun>`, `x.xml:3: nmap XML: port 0 out of range`},
		{"port text", head + `<host><port protocol="tcp" portid="http"/></host></nmaprun>`, `invalid port "http"`},
		{"port missing", head + `<host><port protocol="tcp"/></host></nmaprun>`, `missing port number`},
		{"mismatched tags", head + `<host></port></nmaprun>`, `XML syntax error`},
		{"too many addresses", head + "<host>" + strings.Repeat(`<address addr="127.0.0.1" addrtype="ipv4"/>`, maxHostAddrs+1), "more than 64 addresses"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeAll(FormatNmapXML, "x.xml", tt.data, nil, 100)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestDecodeNmapStreams checks the decoder hands over a host before it has
// read the rest of the file.
func TestDecodeNmapStreams(t *testing.T) {
	const host = `<host><address addr="127.0.0.1" addrtype="ipv4"/><port protocol="tcp" portid="80"><state state="open"/></port></host>` + "\n"
	pr := &chunkReader{chunks: []string{`<nmaprun>`, host}}
	got := 0
	err := decodeNmap(pr, &sink{name: "x", emit: func(b *block) error {
		got++
		if pr.exhausted() {
			t.Error("host emitted only after the whole input was read")
		}
		return errStop
	}})
	if err != errStop || got != 1 {
		t.Fatalf("err %v, got %d", err, got)
	}
}

func FuzzNmapXML(f *testing.F) {
	if data, err := os.ReadFile("testdata/nmap.xml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`<nmaprun><host><address addr="::1" addrtype="ipv6"/><port protocol="tcp" portid="1"><state state="open"/><service tunnel="ssl"/></port></host></nmaprun>`))
	f.Add([]byte(`<nmaprun><host><host><port protocol="tcp" portid="65535"><state state="open"/></port></host>`))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, FormatNmapXML, data) })
}
