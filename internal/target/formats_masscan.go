package target

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// masscanRecord is one record of masscan -oJ (any version) or -oD.
type masscanRecord struct {
	IP string `json:"ip"`
	// -oJ: one entry per result; banner entries have no status.
	Ports []struct {
		Port   int    `json:"port"`
		Proto  string `json:"proto"`
		Status string `json:"status"`
	} `json:"ports"`
	// -oD (NDJSON): the port at top level, the status under data.
	Port    *int            `json:"port"`
	Proto   string          `json:"proto"`
	RecType string          `json:"rec_type"`
	Data    json.RawMessage `json:"data"`
	// Old versions close the file with {finished: 1}.
	Finished json.RawMessage `json:"finished"`
}

// decodeMasscanJSON reads masscan JSON output. masscan's -oJ has changed
// over the years and is not always valid JSON: 1.0.x wrote "},\n" after
// every record and closed with "]" (a trailing comma); older builds wrote
// unquoted keys and a final {finished: 1}; 1.3 puts the comma before each
// record; -oD writes one object per line. So the decoder does not parse the
// file as one JSON value: it cuts it into top-level objects (skipping the
// '[', ']', ',' and blanks between them), each at most 1 MiB, and parses
// each alone, quoting bare keys if needed. Only open TCP results count;
// banner records repeat a port already reported open and are skipped.
func decodeMasscanJSON(r io.Reader, s *sink) error {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	line := 1
	var obj []byte
	for {
		c, err := br.ReadByte()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return s.errAt(line, err)
		}
		switch c {
		case '\n':
			line++
		case ' ', '\t', '\r', ',', '[', ']':
		case '{':
			start := line
			if obj, line, err = readJSONObject(br, obj[:0], line); err != nil {
				return s.errAt(line, fmt.Errorf("masscan JSON: %w", err))
			}
			if err := masscanObject(obj, s, start); err != nil {
				return err
			}
		default:
			return s.errAt(line, fmt.Errorf("masscan JSON: unexpected %q between records", rune(c)))
		}
	}
}

// readJSONObject appends to buf the object whose '{' was just read, up to
// its matching '}', counting lines.
func readJSONObject(br *bufio.Reader, buf []byte, line int) ([]byte, int, error) {
	buf = append(buf, '{')
	depth, inStr, esc := 1, false, false
	for depth > 0 {
		c, err := br.ReadByte()
		if errors.Is(err, io.EOF) {
			return buf, line, errors.New("truncated record (unexpected end of file)")
		}
		if err != nil {
			return buf, line, err
		}
		if len(buf) >= maxLine {
			return buf, line, fmt.Errorf("record longer than %d bytes", maxLine)
		}
		buf = append(buf, c)
		switch {
		case c == '\n':
			line++
		case inStr && esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{':
			depth++
		case c == '}':
			depth--
		}
	}
	return buf, line, nil
}

func masscanObject(obj []byte, s *sink, line int) error {
	var rec masscanRecord
	if err := json.Unmarshal(obj, &rec); err != nil {
		rec = masscanRecord{}
		if err2 := json.Unmarshal(quoteBareKeys(obj), &rec); err2 != nil {
			return s.errAt(line, fmt.Errorf("masscan JSON: %w", err))
		}
	}
	if rec.IP == "" {
		if rec.Finished != nil {
			return nil
		}
		return s.errAt(line, errors.New(`masscan JSON: record without "ip"`))
	}
	a, err := netip.ParseAddr(rec.IP)
	if err != nil {
		return s.errAt(line, fmt.Errorf("masscan JSON: invalid ip %q", rec.IP))
	}
	var (
		ports []int
		seen  portSet
	)
	add := func(port int, proto, status string) error {
		if status != "open" || proto != "tcp" && proto != "" {
			return nil
		}
		if !validPort(port) {
			return fmt.Errorf("masscan JSON: port %d out of range (1-65535)", port)
		}
		if !seen.has(port) {
			seen.add(port)
			ports = append(ports, port)
		}
		return nil
	}
	for _, p := range rec.Ports {
		if err := add(p.Port, p.Proto, p.Status); err != nil {
			return s.errAt(line, err)
		}
	}
	if rec.Port != nil && (rec.RecType == "status" || rec.RecType == "") {
		var data struct {
			Status string `json:"status"`
		}
		if len(rec.Data) > 0 {
			if err := json.Unmarshal(rec.Data, &data); err != nil {
				return s.errAt(line, fmt.Errorf("masscan JSON: data: %w", err))
			}
		}
		if err := add(*rec.Port, rec.Proto, data.Status); err != nil {
			return s.errAt(line, err)
		}
	}
	if len(ports) == 0 {
		return nil
	}
	return s.emit(addrBlock(a, ports, nil, s.at(line)))
}

// quoteBareKeys rewrites {ip: "x"} as {"ip": "x"}: an identifier outside a
// string, after '{' or ',' and before ':', gets quotes.
func quoteBareKeys(in []byte) []byte {
	out := make([]byte, 0, len(in)+16)
	inStr, esc := false, false
	var prev byte // last non-blank byte outside strings
	for i := 0; i < len(in); i++ {
		c := in[i]
		if inStr {
			out = append(out, c)
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
				prev = c
			}
			continue
		}
		if (prev == '{' || prev == ',') && isIdentByte(c, true) {
			j := i
			for j < len(in) && isIdentByte(in[j], false) {
				j++
			}
			k := j
			for k < len(in) && (in[k] == ' ' || in[k] == '\t' || in[k] == '\r' || in[k] == '\n') {
				k++
			}
			if k < len(in) && in[k] == ':' {
				out = append(out, '"')
				out = append(out, in[i:j]...)
				out = append(out, '"')
				i, prev = j-1, '"'
				continue
			}
		}
		out = append(out, c)
		switch c {
		case '"':
			inStr = true
		case ' ', '\t', '\r', '\n':
		default:
			prev = c
		}
	}
	return out
}

func isIdentByte(c byte, first bool) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || !first && c >= '0' && c <= '9'
}

// isMasscanLine reports whether line looks like a masscan -oL record:
// "open tcp 80 127.0.0.1 1690000000".
func isMasscanLine(line string) bool {
	f := strings.Fields(line)
	if len(f) < 4 {
		return false
	}
	switch f[0] {
	case "open", "closed", "banner":
	default:
		return false
	}
	switch f[1] {
	case "tcp", "udp", "sctp":
		return true
	}
	return false
}

// decodeMasscanList reads masscan -oL output: "#masscan" header, records
// "open tcp PORT ADDR TIMESTAMP", "banner ..." records (skipped) and a
// "# end" trailer. Only open TCP records count.
func decodeMasscanList(r io.Reader, s *sink) error {
	return scanLines(s.name, r, func(line int, text string) error {
		text = strings.TrimSpace(text)
		if text == "" || text[0] == '#' {
			return nil
		}
		f := strings.Fields(text)
		if len(f) < 4 {
			return s.errAt(line, fmt.Errorf("masscan list: want \"open tcp PORT ADDRESS TIME\", got %q", text))
		}
		switch f[0] {
		case "open":
		case "closed", "banner":
			return nil
		default:
			return s.errAt(line, fmt.Errorf("masscan list: unknown record type %q", f[0]))
		}
		if f[1] != "tcp" {
			return nil
		}
		port, err := parsePort(f[2])
		if err != nil {
			return s.errAt(line, fmt.Errorf("masscan list: %w", err))
		}
		a, err := netip.ParseAddr(f[3])
		if err != nil {
			return s.errAt(line, fmt.Errorf("masscan list: invalid address %q", f[3]))
		}
		return s.emit(addrBlock(a, []int{port}, nil, s.at(line)))
	})
}
