package target

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxPort is the highest TCP port number.
const MaxPort = 65535

// ParsePorts reads a port list such as "3000,8000-8100". Pieces are single
// ports or inclusive ranges "lo-hi", separated by commas; the word "default"
// stands for DefaultPorts and may be mixed with other pieces
// ("default,9000"). Duplicates are dropped and the first-seen order is kept.
// Every port must be in 1-65535; an error names the bad piece.
func ParsePorts(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("ports: empty port list")
	}
	var seen portSet
	var out []int
	add := func(p int) {
		if !seen.has(p) {
			seen.add(p)
			out = append(out, p)
		}
	}
	for piece := range strings.SplitSeq(s, ",") {
		piece = strings.TrimSpace(piece)
		if piece == "" {
			return nil, fmt.Errorf("ports %q: empty entry", s)
		}
		if strings.EqualFold(piece, "default") {
			for _, p := range DefaultPorts {
				add(p)
			}
			continue
		}
		lo, hi, isRange := strings.Cut(piece, "-")
		first, err := parsePort(lo)
		if err != nil {
			return nil, fmt.Errorf("ports: %q: %w", piece, err)
		}
		last := first
		if isRange {
			if last, err = parsePort(hi); err != nil {
				return nil, fmt.Errorf("ports: %q: %w", piece, err)
			}
			if last < first {
				return nil, fmt.Errorf("ports: %q: range end %d is below its start %d", piece, last, first)
			}
		}
		for p := first; p <= last; p++ {
			add(p)
		}
	}
	return out, nil
}

// parsePort reads one decimal port number in 1-65535.
func parsePort(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("missing port number")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("invalid port %q", s)
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxPort {
		return 0, fmt.Errorf("port %s out of range (1-65535)", s)
	}
	return n, nil
}

// validPort reports whether p is a usable TCP port.
func validPort(p int) bool { return p >= 1 && p <= MaxPort }

// normalizePorts checks ports, drops duplicates (keeping order) and returns a
// fresh slice. An empty list yields a copy of DefaultPorts.
func normalizePorts(ports []int) ([]int, error) {
	if len(ports) == 0 {
		ports = DefaultPorts
	}
	var seen portSet
	out := make([]int, 0, len(ports))
	for _, p := range ports {
		if !validPort(p) {
			return nil, fmt.Errorf("ports: port %d out of range (1-65535)", p)
		}
		if !seen.has(p) {
			seen.add(p)
			out = append(out, p)
		}
	}
	return out, nil
}

// portSet is a bitset over all port numbers (8 KiB).
type portSet [(MaxPort + 1) / 64]uint64

func (s *portSet) has(p int) bool { return s[p>>6]&(1<<(p&63)) != 0 }
func (s *portSet) add(p int)      { s[p>>6] |= 1 << (p & 63) }
func (s *portSet) del(p int)      { s[p>>6] &^= 1 << (p & 63) }
