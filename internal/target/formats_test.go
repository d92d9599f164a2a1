package target

import (
	"bufio"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

func TestDetectFormat(t *testing.T) {
	tests := []struct {
		name, data string
		want       Format
	}{
		{"empty", "", FormatList},
		{"blank", "\n  \n\t\n", FormatList},
		{"only comments", "# a\n# b\n", FormatList},
		{"plain", "127.0.0.1\n", FormatList},
		{"plain after comment", "# targets\n\n127.0.0.0/24\n", FormatList},
		{"bracketed v6 spec", "[::1]:8080\n", FormatList},
		{"bracketed v6 bare", "[::1]\n", FormatList},
		{"xml decl", "<?xml version=\"1.0\"?>\n<nmaprun>", FormatNmapXML},
		{"nmaprun", "\n\n  <nmaprun scanner=\"nmap\">", FormatNmapXML},
		{"bom xml", "\ufeff<?xml version=\"1.0\"?>", FormatNmapXML},
		{"json array", "[\n{ \"ip\": \"127.0.0.1\" }\n]", FormatMasscanJSON},
		{"json array same line", "[{\"ip\":\"127.0.0.1\"}]", FormatMasscanJSON},
		{"json empty array", "[]\n", FormatMasscanJSON},
		{"lone bracket", "[\n", FormatMasscanJSON},
		{"ndjson", "{\"ip\":\"127.0.0.1\"}\n", FormatMasscanJSON},
		{"masscan list header", "#masscan\nopen tcp 80 127.0.0.1 1\n", FormatMasscanList},
		{"masscan list no header", "open tcp 80 127.0.0.1 1741083302\n", FormatMasscanList},
		{"masscan list after comment", "# scan\nbanner tcp 80 127.0.0.1 1 http x\n", FormatMasscanList},
		{"zmap csv", "saddr,sport,success\n127.0.0.1,80,1\n", FormatZmapCSV},
		{"zmap csv saddr only", "saddr\n127.0.0.1\n", FormatZmapCSV},
		{"zmap default output", "127.0.0.1\n127.0.0.2\n", FormatList},
		{"comma list is not csv", "127.0.0.1,127.0.0.2\n", FormatList},
		{"names without saddr", "daddr,sport\n", FormatList},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := detectFormat(bufio.NewReaderSize(strings.NewReader(tt.data), sniffSize))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("detectFormat(%q) = %q, want %q", tt.data, got, tt.want)
			}
		})
	}
}

func TestDetectFormatLongComments(t *testing.T) {
	// More comment bytes than the sniff window: still a plain list.
	data := strings.Repeat("# "+strings.Repeat("x", 100)+"\n", 1000) + "127.0.0.1\n"
	got, err := detectFormat(bufio.NewReaderSize(strings.NewReader(data), sniffSize))
	if err != nil || got != FormatList {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestDetectFormatReadError(t *testing.T) {
	r := iotest.ErrReader(os.ErrPermission)
	if _, err := detectFormat(bufio.NewReaderSize(r, sniffSize)); err == nil {
		t.Fatal("read error not reported")
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{
		"auto": FormatAuto, "list": FormatList, "NMAP-XML": FormatNmapXML,
		"masscan-json": FormatMasscanJSON, "masscan-list": FormatMasscanList, "zmap-csv": FormatZmapCSV,
	} {
		got, err := ParseFormat(in)
		if err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseFormat("xlsx"); err == nil || !strings.Contains(err.Error(), `"xlsx"`) {
		t.Errorf("ParseFormat(xlsx) error %v", err)
	}
}

func TestSplitSpecs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"# comment", nil},
		{"127.0.0.1", []string{"127.0.0.1"}},
		{" a , b\tc,,d ", []string{"a", "b", "c", "d"}},
		{"a # comment, b", []string{"a"}},
		{"a\t# comment", []string{"a"}},
		{"http://h/#frag b", []string{"http://h/#frag", "b"}},
	}
	for _, tt := range tests {
		if got := splitSpecs(tt.in); len(got)+len(tt.want) > 0 && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitSpecs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDecodeList(t *testing.T) {
	data, err := os.ReadFile("testdata/targets.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeAll(FormatAuto, "targets.txt", string(data), []int{80, 443}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	checkServices(t, got)
	var keys []string
	for _, s := range got {
		keys = append(keys, key(s))
	}
	want := []string{
		"127.0.0.1|3000|||targets.txt:2",
		"127.0.0.1|8811|http|/mcp|targets.txt:3",
	}
	for i := 0; i < 8; i++ {
		for _, p := range []string{"80", "443"} {
			want = append(want, "127.0.1."+string(rune('0'+i))+"|"+p+"|||targets.txt:4")
		}
	}
	for i := 1; i <= 4; i++ {
		for _, p := range []string{"80", "443"} {
			want = append(want, "127.0.2."+string(rune('0'+i))+"|"+p+"|||targets.txt:4")
		}
	}
	want = append(want, "localhost|80|||targets.txt:5", "localhost|443|||targets.txt:5", "::1|6277|||targets.txt:5")
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(keys, "\n"), strings.Join(want, "\n"))
	}
}

func TestDecodeListErrors(t *testing.T) {
	tests := []struct{ data, want string }{
		{"127.0.0.1\n\n10.0.0.0/33\n", `list.txt:3: target "10.0.0.0/33": invalid CIDR prefix length`},
		{"127.0.0.1, bad_name\n", `list.txt:1: target "bad_name"`},
		{"127.0.0.1\n" + strings.Repeat("1", maxLine+10) + "\n", "list.txt:2: line longer than"},
	}
	for _, tt := range tests {
		_, err := decodeAll(FormatList, "list.txt", tt.data, DefaultPorts, 10)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error %v, want it to contain %q", err, tt.want)
		}
	}
}

func TestDecodeListBOMAndCRLF(t *testing.T) {
	got, err := decodeAll(FormatAuto, "w.txt", "\ufeff127.0.0.1:80\r\nlocalhost:81\r\n", nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Host != "127.0.0.1" || got[1].Host != "localhost" || got[1].Port != 81 {
		t.Errorf("got %+v", got)
	}
}

// FuzzTargetFile exercises format detection and the plain list decoder.
func FuzzTargetFile(f *testing.F) {
	for _, name := range []string{"targets.txt", "nmap.xml", "masscan.json", "masscan.txt", "zmap.csv"} {
		if data, err := os.ReadFile("testdata/" + name); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("[::1]:80, 127.0.0.0/8 # all\nlocalhost\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, FormatAuto, data) })
}
