package shodan

import (
	"encoding/json"

	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/exposure"
)

// maxText caps the banner and body text kept from one record.
const maxText = 64 << 10

// banner is the part of a Shodan banner mcpwarden reads.
type banner struct {
	IPStr     string          `json:"ip_str"`
	Port      json.Number     `json:"port"`
	Transport string          `json:"transport"`
	Hostnames []string        `json:"hostnames"`
	Domains   []string        `json:"domains"`
	Timestamp string          `json:"timestamp"`
	Data      string          `json:"data"`
	Product   string          `json:"product"`
	HTTP      *httpPart       `json:"http"`
	SSL       json.RawMessage `json:"ssl"`
}

type httpPart struct {
	Status   json.Number `json:"status"`
	Title    string      `json:"title"`
	HTML     string      `json:"html"`
	Server   string      `json:"server"`
	Location string      `json:"location"`
}

// ParseBanner reads one Shodan banner (a search match, an element of a
// host's data, a line of `shodan download` output).
func ParseBanner(raw []byte) (*exposure.Service, error) {
	var b banner
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("shodan: banner: %w", err)
	}
	return b.service()
}

func (b *banner) service() (*exposure.Service, error) {
	ip, err := netip.ParseAddr(strings.TrimSpace(b.IPStr))
	if err != nil {
		return nil, fmt.Errorf("shodan: banner: ip_str %q: not an IP address", clip(b.IPStr, 60))
	}
	port, err := strconv.Atoi(b.Port.String())
	if err != nil {
		return nil, fmt.Errorf("shodan: banner for %s: port %q: not a number", ip, clip(b.Port.String(), 20))
	}
	s := &exposure.Service{
		Source:    exposure.SourceShodan,
		IP:        ip.Unmap(),
		Port:      port,
		Transport: strings.ToLower(b.Transport),
		TLS:       len(b.SSL) > 0 && string(b.SSL) != "null",
		Banner:    clip(b.Data, maxText),
		Product:   clip(b.Product, 200),
	}
	if s.Transport == "" {
		s.Transport = "tcp"
	}
	for _, h := range append(b.Hostnames, b.Domains...) {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" && len(h) <= 253 && !contains(s.Hostnames, h) {
			s.Hostnames = append(s.Hostnames, h)
		}
	}
	if t, ok := parseTime(b.Timestamp); ok {
		s.Seen = t
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("shodan: banner: %w", err)
	}
	if b.HTTP != nil {
		h := &exposure.HTTPBanner{Title: clip(b.HTTP.Title, 500), Body: clip(b.HTTP.HTML, maxText), Server: clip(b.HTTP.Server, 200), Path: "/"}
		if n, err := strconv.Atoi(b.HTTP.Status.String()); err == nil {
			h.Status = n
		}
		if loc := strings.TrimSpace(b.HTTP.Location); strings.HasPrefix(loc, "/") {
			h.Path = clip(loc, 500)
		}
		status, hdr := parseHead(s.Banner)
		if h.Status == 0 {
			h.Status = status
		}
		h.Headers = hdr
		s.HTTP = h
	}
	return s, nil
}

// parseHead reads the status line and headers at the start of an HTTP
// banner ("HTTP/1.1 200 OK\r\nServer: ...").
func parseHead(data string) (int, http.Header) {
	if !strings.HasPrefix(data, "HTTP/") {
		return 0, nil
	}
	hdr := http.Header{}
	status := 0
	for i, line := range strings.Split(data, "\n") {
		line = strings.TrimRight(line, "\r")
		if i == 0 {
			if f := strings.Fields(line); len(f) >= 2 {
				status, _ = strconv.Atoi(f[1])
			}
			continue
		}
		if line == "" || i > 200 {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			continue
		}
		hdr.Add(name, strings.TrimSpace(value))
	}
	return status, hdr
}

// parseTime reads Shodan's timestamps ("2025-11-03T08:15:02.123456", UTC
// without a zone) and RFC 3339.
func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02T15:04:05.999999", time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func clip(s string, n int) string {
	if len(s) > n {
		return strings.ToValidUTF8(s[:n], "")
	}
	return s
}
