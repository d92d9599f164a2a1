package target

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// Format is the format of a target file.
type Format string

// The target file formats. FormatAuto sniffs the first non-blank bytes.
const (
	FormatAuto        Format = ""
	FormatList        Format = "list"         // one or more specs per line, '#' comments
	FormatNmapXML     Format = "nmap-xml"     // nmap -oX
	FormatMasscanJSON Format = "masscan-json" // masscan -oJ (any version) and -oD (NDJSON)
	FormatMasscanList Format = "masscan-list" // masscan -oL
	FormatZmapCSV     Format = "zmap-csv"     // zmap -O csv with a header line naming saddr
)

// ParseFormat reads a format name: "auto", "list", "nmap-xml",
// "masscan-json", "masscan-list" or "zmap-csv".
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case "auto":
		return FormatAuto, nil
	case FormatList, FormatNmapXML, FormatMasscanJSON, FormatMasscanList, FormatZmapCSV:
		return f, nil
	}
	return "", fmt.Errorf("target format %q: want auto, list, nmap-xml, masscan-json, masscan-list or zmap-csv", s)
}

// maxLine bounds one line of a line-based file, and one masscan JSON record.
const maxLine = 1 << 20

// sniffSize is how much of a file detectFormat looks at.
const sniffSize = 64 << 10

// detectFormat looks at the start of br, without consuming it:
//   - '<' (<?xml, <nmaprun, <!DOCTYPE) is nmap XML;
//   - '{', or '[' followed by '{' or ']', is masscan JSON ("[::1]:80" is a spec);
//   - "#masscan", or a first line "open tcp 80 1.2.3.4 ...", is a masscan list;
//   - a first line of comma-separated field names including saddr is zmap CSV;
//   - anything else is a plain target list (zmap's default output, one
//     address per line, is one).
func detectFormat(br *bufio.Reader) (Format, error) {
	buf, err := br.Peek(sniffSize)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return "", err
	}
	buf = bytes.TrimPrefix(buf, []byte("\xef\xbb\xbf"))
	for len(buf) > 0 {
		var line []byte
		line, buf, _ = bytes.Cut(buf, []byte("\n"))
		t := bytes.TrimSpace(line)
		switch {
		case len(t) == 0:
			continue
		case t[0] == '<':
			return FormatNmapXML, nil
		case t[0] == '{':
			return FormatMasscanJSON, nil
		case t[0] == '[':
			rest := bytes.TrimLeftFunc(append(t[1:len(t):len(t)], buf...), unicode.IsSpace)
			if len(rest) == 0 || rest[0] == '{' || rest[0] == ']' {
				return FormatMasscanJSON, nil
			}
			return FormatList, nil
		case bytes.HasPrefix(t, []byte("#masscan")):
			return FormatMasscanList, nil
		case t[0] == '#':
			continue
		}
		if isMasscanLine(string(t)) {
			return FormatMasscanList, nil
		}
		if zmapHeader(string(t)) {
			return FormatZmapCSV, nil
		}
		return FormatList, nil
	}
	return FormatList, nil
}

// sink receives the blocks a decoder finds.
type sink struct {
	name  string // the file name, for Source and errors
	ports []int  // the port list, for entries without a port
	emit  func(*block) error
}

func (s *sink) at(line int) string { return fmt.Sprintf("%s:%d", s.name, line) }

// errAt prefixes err with the file name and line.
func (s *sink) errAt(line int, err error) error {
	return fmt.Errorf("%s:%d: %w", s.name, line, err)
}

// decodeList reads a plain target list: one or more specs per line,
// separated by commas or blanks; '#' starts a comment at the start of a line
// or after a blank.
func decodeList(r io.Reader, s *sink) error {
	return scanLines(s.name, r, func(line int, text string) error {
		for _, tok := range splitSpecs(text) {
			sp, err := ParseSpec(tok)
			if err != nil {
				return s.errAt(line, err)
			}
			if err := s.emit(specBlock(sp, s.ports, s.at(line))); err != nil {
				return err
			}
		}
		return nil
	})
}

// scanLines calls fn for each line of r (1-based numbers, no line ending,
// a leading UTF-8 BOM dropped). Lines longer than 1 MiB are an error.
func scanLines(name string, r io.Reader, fn func(line int, text string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		if err := fn(line, text); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("%s:%d: line longer than %d bytes", name, line+1, maxLine)
		}
		return fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	return nil
}

// splitSpecs drops a '#' comment and splits the rest at commas and blanks.
func splitSpecs(text string) []string {
	for i := 0; i < len(text); i++ {
		if text[i] == '#' && (i == 0 || text[i-1] == ' ' || text[i-1] == '\t') {
			text = text[:i]
			break
		}
	}
	return strings.FieldsFunc(text, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}
