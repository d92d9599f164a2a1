package target

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
)

// zmapHeader reports whether line is a zmap CSV header: comma-separated
// field names ([a-z0-9_]) that include saddr.
func zmapHeader(line string) bool {
	fields := strings.Split(line, ",")
	for _, f := range fields {
		f = strings.TrimSpace(f)
		if f == "" || strings.Trim(f, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
			return false
		}
	}
	return slices.ContainsFunc(fields, func(f string) bool { return strings.TrimSpace(f) == "saddr" })
}

// decodeZmap reads zmap CSV output (-O csv) with its header line. saddr is
// the target; sport, when present, is the port that answered (zmap records
// the response packet, whose source port is the scanned port; dport is
// zmap's own port and is ignored). Without sport, the port list applies.
// Rows with success=0 (RST) or repeat=1 (duplicate answers) are skipped.
// zmap's default output, one address per line without header, is read as a
// plain target list instead.
func decodeZmap(r io.Reader, s *sink) error {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return zmapErr(s, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		if _, dup := col[h]; !dup {
			col[h] = i
		}
	}
	saddr, ok := col["saddr"]
	if !ok {
		return s.errAt(1, fmt.Errorf("zmap CSV: header has no saddr column (got %q)", strings.Join(header, ",")))
	}
	sport, hasPort := col["sport"]
	success, hasSuccess := col["success"]
	repeat, hasRepeat := col["repeat"]
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return zmapErr(s, err)
		}
		line, _ := cr.FieldPos(0)
		if hasSuccess && isFalse(rec[success]) || hasRepeat && isTrue(rec[repeat]) {
			continue
		}
		a, err := netip.ParseAddr(strings.TrimSpace(rec[saddr]))
		if err != nil {
			return s.errAt(line, fmt.Errorf("zmap CSV: invalid saddr %q", rec[saddr]))
		}
		ports := s.ports
		if hasPort {
			p, err := parsePort(rec[sport])
			if err != nil {
				return s.errAt(line, fmt.Errorf("zmap CSV: sport: %w", err))
			}
			ports = []int{p}
		}
		if err := s.emit(addrBlock(a, ports, nil, s.at(line))); err != nil {
			return err
		}
	}
}

func zmapErr(s *sink, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return s.errAt(pe.Line, fmt.Errorf("zmap CSV: %w", pe.Err))
	}
	return fmt.Errorf("%s: zmap CSV: %w", s.name, err)
}

func isFalse(v string) bool {
	v = strings.TrimSpace(v)
	return v == "0" || strings.EqualFold(v, "false")
}

func isTrue(v string) bool {
	v = strings.TrimSpace(v)
	return v == "1" || strings.EqualFold(v, "true")
}
