package censys

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/exposure"
)

const maxText = 64 << 10

// Host is the part of a Censys host record (a v2 host view result, a
// search hit, an element of a search export) mcpwarden reads.
type Host struct {
	IP              string    `json:"ip"`
	Services        []service `json:"services"`
	MatchedServices []service `json:"matched_services"`
	LastUpdatedAt   string    `json:"last_updated_at"`
	DNS             struct {
		Names      []string `json:"names"`
		ReverseDNS struct {
			Names []string `json:"names"`
		} `json:"reverse_dns"`
	} `json:"dns"`
}

type service struct {
	Port                json.RawMessage `json:"port"`
	ServiceName         string          `json:"service_name"`
	ExtendedServiceName string          `json:"extended_service_name"`
	TransportProtocol   string          `json:"transport_protocol"`
	ObservedAt          string          `json:"observed_at"`
	Banner              string          `json:"banner"`
	TLS                 json.RawMessage `json:"tls"`
	Software            []struct {
		Product string `json:"product"`
	} `json:"software"`
	HTTP *struct {
		Request struct {
			URI string `json:"uri"`
		} `json:"request"`
		Response struct {
			StatusCode json.Number                `json:"status_code"`
			Headers    map[string]json.RawMessage `json:"headers"`
			HTMLTitle  string                     `json:"html_title"`
			Body       string                     `json:"body"`
		} `json:"response"`
	} `json:"http"`
}

// ParseHost reads one host record. A record without an address, or whose
// services are all unusable, is an error; unusable services of a usable
// record are dropped and their count returned.
func ParseHost(raw []byte) (*Host, error) {
	var h Host
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("censys: host record: %w", err)
	}
	if _, err := netip.ParseAddr(strings.TrimSpace(h.IP)); err != nil {
		return nil, fmt.Errorf("censys: host record: ip %q: not an IP address", clip(h.IP, 60))
	}
	return &h, nil
}

// Addr returns the host's address (valid after ParseHost).
func (h *Host) Addr() netip.Addr {
	a, _ := netip.ParseAddr(strings.TrimSpace(h.IP))
	return a.Unmap()
}

// ServicesOf converts the host's services (or, when matchedOnly, only those
// the search matched) to exposure services; queryMatch is recorded on each
// (see exposure.Service.QueryMatch). bad counts services that could not be
// used.
func (h *Host) ServicesOf(matchedOnly bool, queryMatch string) (out []*exposure.Service, bad int) {
	ip := h.Addr()
	var names []string
	for _, n := range append(append([]string(nil), h.DNS.Names...), h.DNS.ReverseDNS.Names...) {
		if n = strings.ToLower(strings.TrimSpace(n)); n != "" && len(n) <= 253 && !contains(names, n) {
			names = append(names, n)
		}
	}
	hostSeen, _ := parseTime(h.LastUpdatedAt)
	list := h.Services
	if matchedOnly && len(h.MatchedServices) > 0 {
		list = h.MatchedServices
	}
	for i := range list {
		sv := &list[i]
		s, err := sv.convert(ip, names, hostSeen)
		if err != nil {
			bad++
			continue
		}
		s.QueryMatch = queryMatch
		out = append(out, s)
	}
	return out, bad
}

func (sv *service) convert(ip netip.Addr, names []string, hostSeen time.Time) (*exposure.Service, error) {
	port, err := strconv.Atoi(strings.Trim(string(sv.Port), `"`))
	if err != nil {
		return nil, fmt.Errorf("censys: service of %s: port %q: not a number", ip, clip(string(sv.Port), 20))
	}
	s := &exposure.Service{
		Source:    exposure.SourceCensys,
		IP:        ip,
		Port:      port,
		Transport: strings.ToLower(sv.TransportProtocol),
		Hostnames: names,
		Seen:      hostSeen,
		Banner:    clip(sv.Banner, maxText),
		TLS: (len(sv.TLS) > 0 && string(sv.TLS) != "null") ||
			strings.EqualFold(sv.ExtendedServiceName, "HTTPS"),
	}
	if s.Transport == "" {
		s.Transport = "tcp"
	}
	if t, ok := parseTime(sv.ObservedAt); ok {
		s.Seen = t
	}
	for _, sw := range sv.Software {
		if sw.Product != "" {
			s.Product = clip(sw.Product, 200)
			break
		}
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("censys: %w", err)
	}
	if sv.HTTP != nil {
		r := &sv.HTTP.Response
		b := &exposure.HTTPBanner{Title: clip(r.HTMLTitle, 500), Body: clip(r.Body, maxText), Path: "/", Headers: http.Header{}}
		fmt.Sscanf(r.StatusCode.String(), "%d", &b.Status)
		if u, err := url.Parse(sv.HTTP.Request.URI); err == nil && strings.HasPrefix(u.Path, "/") {
			b.Path = clip(u.Path, 500)
		}
		for name, raw := range r.Headers {
			if strings.HasPrefix(name, "_") || len(b.Headers) > 200 {
				continue
			}
			key := http.CanonicalHeaderKey(strings.ReplaceAll(name, "_", "-"))
			for _, v := range headerValues(raw) {
				b.Headers.Add(key, clip(v, 4096))
			}
		}
		b.Server = b.Headers.Get("Server")
		s.HTTP = b
	} else if strings.HasPrefix(strings.ToUpper(sv.ServiceName), "HTTP") {
		s.HTTP = &exposure.HTTPBanner{Path: "/"}
	}
	return s, nil
}

// headerValues reads a header value as Censys v2 writes it
// ({"headers": ["v1", "v2"]}) or as a plain string or list of strings.
func headerValues(raw json.RawMessage) []string {
	var wrapped struct {
		Headers []string `json:"headers"`
	}
	if json.Unmarshal(raw, &wrapped) == nil && wrapped.Headers != nil {
		return wrapped.Headers
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	return nil
}

func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999", "2006-01-02 15:04:05.999999 UTC", "2006-01-02"} {
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
