package target

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func keysOf(svcs []Service) []string {
	var keys []string
	for _, s := range svcs {
		keys = append(keys, key(s))
	}
	return keys
}

func TestDecodeMasscanJSONFiles(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"masscan.json", []string{ // masscan 1.3: comma before each record
			"127.0.0.1|3000|||masscan.json:2",
			"127.0.0.2|8080|||masscan.json:4",
			"127.0.0.1|80|||masscan.json:6",
			// line 8: banner record, skipped; line 10: udp, skipped
			"2001:db8::5|8000|||masscan.json:12",
		}},
		{"masscan-old.json", []string{ // masscan 1.0: trailing comma before ']'
			"127.0.0.1|3000|||masscan-old.json:2",
			"127.0.0.4|443|||masscan-old.json:3",
		}},
		{"masscan-bare.json", []string{ // oldest: bare keys, {finished: 1}
			"127.0.0.5|8811|||masscan-bare.json:1",
			"127.0.0.6|6274|||masscan-bare.json:2",
		}},
		{"masscan.ndjson", []string{ // -oD
			"127.0.0.7|6277|||masscan.ndjson:1",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []Format{FormatAuto, FormatMasscanJSON} {
				got, err := decodeAll(f, tt.file, string(data), []int{1}, 100)
				if err != nil {
					t.Fatal(err)
				}
				checkServices(t, got)
				if keys := keysOf(got); !reflect.DeepEqual(keys, tt.want) {
					t.Errorf("format %q: got\n%s\nwant\n%s", f, strings.Join(keys, "\n"), strings.Join(tt.want, "\n"))
				}
			}
		})
	}
}

func TestDecodeMasscanJSONCases(t *testing.T) {
	tests := []struct {
		name, data string
		want       []string
	}{
		{"empty array", "[]", nil},
		{"empty input", "", nil},
		{"clean array", `[{"ip":"127.0.0.1","ports":[{"port":80,"proto":"tcp","status":"open"}]},{"ip":"127.0.0.2","ports":[{"port":81,"proto":"tcp","status":"open"}]}]`,
			[]string{"127.0.0.1|80|||j:1", "127.0.0.2|81|||j:1"}},
		{"several ports, duplicates once", `{"ip":"127.0.0.1","ports":[{"port":80,"proto":"tcp","status":"open"},{"port":80,"proto":"tcp","status":"open"},{"port":81,"status":"open"},{"port":82,"proto":"tcp","status":"closed"}]}`,
			[]string{"127.0.0.1|80|||j:1", "127.0.0.1|81|||j:1"}},
		{"braces in strings", `{"ip":"127.0.0.1","x":"}{\"}","ports":[{"port":80,"proto":"tcp","status":"open"}]}`,
			[]string{"127.0.0.1|80|||j:1"}},
		{"multi-line record", "[\n{\n\"ip\": \"127.0.0.1\",\n\"ports\": [{\"port\": 80, \"proto\": \"tcp\", \"status\": \"open\"}]\n}\n]",
			[]string{"127.0.0.1|80|||j:2"}},
		{"bare keys, values untouched", `{ip: "127.0.0.1", note: "a: b, c: d", ports: [{port: 80, proto: "tcp", status: "open"}]}`,
			[]string{"127.0.0.1|80|||j:1"}},
		{"ndjson closed", `{"ip":"127.0.0.1","port":80,"proto":"tcp","rec_type":"status","data":{"status":"closed"}}`, nil},
		{"ndjson banner with odd data", `{"ip":"127.0.0.1","port":80,"proto":"tcp","rec_type":"banner","data":"text"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeAll(FormatMasscanJSON, "j", tt.data, nil, 100)
			if err != nil {
				t.Fatal(err)
			}
			if keys := keysOf(got); !reflect.DeepEqual(keys, tt.want) {
				t.Errorf("got %q, want %q", keys, tt.want)
			}
		})
	}
}

func TestDecodeMasscanJSONErrors(t *testing.T) {
	tests := []struct{ name, data, want string }{
		{"garbage", "[\nhello", `j:2: masscan JSON: unexpected 'h' between records`},
		{"truncated", "[\n{\"ip\": \"127.0.0.1\",\n", `j:3: masscan JSON: truncated record`},
		{"bad json", `{"ip": "127.0.0.1", "ports": [}`, `j:1: masscan JSON: invalid character`},
		{"no ip", "\n{\"ports\": []}", `j:2: masscan JSON: record without "ip"`},
		{"bad ip", `{"ip": "127.0.0.999"}`, `j:1: masscan JSON: invalid ip "127.0.0.999"`},
		{"port zero", `{"ip":"127.0.0.1","ports":[{"port":0,"proto":"tcp","status":"open"}]}`, `port 0 out of range`},
		{"port big", `{"ip":"127.0.0.1","ports":[{"port":70000,"proto":"tcp","status":"open"}]}`, `port 70000 out of range`},
		{"port huge", `{"ip":"127.0.0.1","ports":[{"port":1e30,"proto":"tcp","status":"open"}]}`, `masscan JSON`},
		{"ndjson port", `{"ip":"127.0.0.1","port":-5,"proto":"tcp","rec_type":"status","data":{"status":"open"}}`, `port -5 out of range`},
		{"ndjson bad data", `{"ip":"127.0.0.1","port":80,"proto":"tcp","rec_type":"status","data":[1]}`, `masscan JSON: data:`},
		{"record too long", `{"ip":"` + strings.Repeat("1", maxLine+1), `record longer than`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeAll(FormatMasscanJSON, "j", tt.data, nil, 100)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestQuoteBareKeys(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{ip: "x"}`, `{"ip": "x"}`},
		{`{a_1 :1, b: [ {c: true} ]}`, `{"a_1" :1, "b": [ {"c": true} ]}`},
		{`{"ip": "k: v, w: z"}`, `{"ip": "k: v, w: z"}`},
		{`{"s": "\"x: y"}`, `{"s": "\"x: y"}`},
		{`{x: true, y: null}`, `{"x": true, "y": null}`},
	}
	for _, tt := range tests {
		if got := string(quoteBareKeys([]byte(tt.in))); got != tt.want {
			t.Errorf("quoteBareKeys(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestDecodeMasscanList(t *testing.T) {
	data, err := os.ReadFile("testdata/masscan.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []Format{FormatAuto, FormatMasscanList} {
		got, err := decodeAll(f, "masscan.txt", string(data), []int{1}, 100)
		if err != nil {
			t.Fatal(err)
		}
		checkServices(t, got)
		want := []string{
			"127.0.0.1|3000|||masscan.txt:2",
			"127.0.0.2|8080|||masscan.txt:3",
			// banner (4) and udp (5) skipped
			"2001:db8::5|8000|||masscan.txt:6",
		}
		if keys := keysOf(got); !reflect.DeepEqual(keys, want) {
			t.Errorf("format %q: got %q, want %q", f, keys, want)
		}
	}
}

func TestDecodeMasscanListErrors(t *testing.T) {
	tests := []struct{ data, want string }{
		{"#masscan\nopen tcp 80\n", `m.txt:2: masscan list: want "open tcp PORT ADDRESS TIME", got "open tcp 80"`},
		{"#masscan\nweird tcp 80 127.0.0.1 1\n", `m.txt:2: masscan list: unknown record type "weird"`},
		{"#masscan\nopen tcp 0 127.0.0.1 1\n", `m.txt:2: masscan list: port 0 out of range`},
		{"#masscan\nopen tcp x 127.0.0.1 1\n", `invalid port "x"`},
		{"#masscan\n\nopen tcp 80 127.0.0.300 1\n", `m.txt:3: masscan list: invalid address "127.0.0.300"`},
	}
	for _, tt := range tests {
		_, err := decodeAll(FormatMasscanList, "m.txt", tt.data, nil, 100)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want it to contain %q", tt.data, err, tt.want)
		}
	}
}

func FuzzMasscanJSON(f *testing.F) {
	for _, name := range []string{"masscan.json", "masscan-old.json", "masscan-bare.json", "masscan.ndjson"} {
		if data, err := os.ReadFile("testdata/" + name); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`[{"ip":"127.0.0.1","ports":[{"port":0,"proto":"tcp","status":"open"}]},]`))
	f.Add([]byte(`{ip: "::1", ports: [{port: 65535, status: "open"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, FormatMasscanJSON, data) })
}

func FuzzMasscanList(f *testing.F) {
	if data, err := os.ReadFile("testdata/masscan.txt"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("open tcp 65535 ::1 0\nopen tcp 0 127.0.0.1 0\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, FormatMasscanList, data) })
}
