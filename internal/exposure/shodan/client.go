// Package shodan reads what Shodan holds about the operator's own address
// space: host lookups (/shodan/host/{ip}), filtered searches
// (/shodan/host/search with net: and hostname:), their free result count
// (/shodan/host/count) and the account's credits (/api-info), and the
// `shodan download` export files (gzip JSON Lines of banners), offline.
//
// Only the base URL differs between tests and real use. The API key travels
// in the query string as Shodan requires; it is redacted from every error
// and never logged. Requests are paced at Shodan's published limit of one
// per second.
package shodan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/exposure"
	"github.com/mcpwarden/mcpwarden/internal/exposure/feed"
)

// DefaultBaseURL is Shodan's REST API.
const DefaultBaseURL = "https://api.shodan.io"

// PageSize is the number of matches per search page.
const PageSize = 100

// Options configure a Client. Zero fields take the documented defaults.
type Options struct {
	// BaseURL defaults to DefaultBaseURL.
	BaseURL string
	// Key is the API key (SHODAN_API_KEY). Required.
	Key string
	// HTTP is the HTTP client; nil means a private one.
	HTTP *http.Client
	// Rate is requests per second; 0 means 1, Shodan's published limit.
	Rate float64
	// MaxBody caps one response (default 32 MiB); Timeout one request
	// (default 60s); MaxRetries the retries on 429/5xx (default 3);
	// RetryBase the first backoff without Retry-After (default 1s).
	MaxBody    int64
	Timeout    time.Duration
	MaxRetries int
	RetryBase  time.Duration
	// UserAgent defaults to "mcpwarden".
	UserAgent string
	// Logger receives debug lines; nil discards.
	Logger *slog.Logger
}

// Client talks to the Shodan REST API.
type Client struct {
	f   *feed.Client
	key string
	log *slog.Logger
}

// New returns a client; it fails without a key or with a bad base URL.
func New(o Options) (*Client, error) {
	if strings.TrimSpace(o.Key) == "" {
		return nil, errors.New("shodan: no API key (set SHODAN_API_KEY or --shodan-key)")
	}
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	f, err := feed.New(feed.Options{
		Name: "shodan", BaseURL: o.BaseURL, HTTP: o.HTTP, Rate: o.Rate, MaxBody: o.MaxBody,
		Timeout: o.Timeout, MaxRetries: o.MaxRetries, RetryBase: o.RetryBase,
		Secrets: []string{o.Key, url.QueryEscape(o.Key)}, UserAgent: o.UserAgent, Logger: o.Logger,
	})
	if err != nil {
		return nil, err
	}
	return &Client{f: f, key: o.Key, log: o.Logger}, nil
}

func (c *Client) get(ctx context.Context, path string, q url.Values, v any) error {
	if q == nil {
		q = url.Values{}
	}
	q.Set("key", c.key)
	body, err := c.f.Get(ctx, path, q, nil)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("shodan: %s: malformed or truncated response (%d bytes): %w", path, len(body), err)
	}
	return nil
}

// APIInfo is the account's plan and remaining credits (/api-info).
type APIInfo struct {
	Plan         string `json:"plan"`
	QueryCredits int    `json:"query_credits"`
	ScanCredits  int    `json:"scan_credits"`
	UsageLimits  struct {
		QueryCredits int `json:"query_credits"`
		ScanCredits  int `json:"scan_credits"`
	} `json:"usage_limits"`
}

// APIInfo returns the account's plan and credits. It costs no credit.
func (c *Client) APIInfo(ctx context.Context) (*APIInfo, error) {
	var info APIInfo
	if err := c.get(ctx, "/api-info", nil, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// Count returns how many results a search has. It costs no credit.
func (c *Client) Count(ctx context.Context, query string) (int, error) {
	var r struct {
		Total *int `json:"total"`
	}
	if err := c.get(ctx, "/shodan/host/count", url.Values{"query": {query}}, &r); err != nil {
		return 0, err
	}
	if r.Total == nil || *r.Total < 0 {
		return 0, errors.New("shodan: /shodan/host/count: answer without a total")
	}
	return *r.Total, nil
}

// Pages returns how many pages a search of total results needs, at most max
// (max <= 0: no cap).
func Pages(total, max int) int {
	n := (total + PageSize - 1) / PageSize
	if max > 0 && n > max {
		n = max
	}
	return n
}

// Cost returns the query credits a search of query over pages pages costs:
// a filtered query (one holding "name:") costs one credit per page, an
// unfiltered one only for the pages after the first.
func Cost(query string, pages int) int {
	if pages <= 0 {
		return 0
	}
	if strings.Contains(query, ":") {
		return pages
	}
	return pages - 1
}

// ServiceFunc receives one parsed service; an error stops the read.
type ServiceFunc = func(*exposure.Service) error

// Search fetches up to pages pages of query and hands every well-formed
// match to fn; malformed matches are skipped and counted. It stops early
// when a page is short or empty.
func (c *Client) Search(ctx context.Context, query string, pages int, fn ServiceFunc) (exposure.Counts, error) {
	var n exposure.Counts
	for page := 1; page <= pages; page++ {
		var r struct {
			Matches []json.RawMessage `json:"matches"`
			Total   int               `json:"total"`
		}
		q := url.Values{"query": {query}, "page": {fmt.Sprint(page)}, "minify": {"false"}}
		if err := c.get(ctx, "/shodan/host/search", q, &r); err != nil {
			return n, fmt.Errorf("%w (page %d)", err, page)
		}
		n.Queries++
		n.Credits += Cost(query, page) - Cost(query, page-1)
		for _, raw := range r.Matches {
			if err := c.one(raw, &n, fn); err != nil {
				return n, err
			}
		}
		if len(r.Matches) < PageSize || page*PageSize >= r.Total {
			break
		}
	}
	return n, nil
}

func (c *Client) one(raw []byte, n *exposure.Counts, fn ServiceFunc) error {
	s, err := ParseBanner(raw)
	if err != nil {
		n.Malformed++
		c.log.Warn("skipping a malformed record", "service", "shodan", "error", err.Error())
		return nil
	}
	n.Records++
	return fn(s)
}

// Host fetches everything Shodan holds about one address and hands each
// banner to fn. An address Shodan has no data for yields nothing and no
// error. A lookup costs no query credit.
func (c *Client) Host(ctx context.Context, ip netip.Addr, fn ServiceFunc) (exposure.Counts, error) {
	var n exposure.Counts
	var r struct {
		Hostnames []string          `json:"hostnames"`
		Domains   []string          `json:"domains"`
		Data      []json.RawMessage `json:"data"`
	}
	err := c.get(ctx, "/shodan/host/"+ip.String(), nil, &r)
	n.Queries++
	var he *feed.HTTPError
	if errors.As(err, &he) && he.Status == http.StatusNotFound {
		return n, nil
	}
	if err != nil {
		return n, err
	}
	for _, raw := range r.Data {
		var b banner
		if json.Unmarshal(raw, &b) != nil {
			n.Malformed++
			continue
		}
		if b.IPStr == "" {
			b.IPStr = ip.String()
		}
		b.Hostnames = append(b.Hostnames, r.Hostnames...)
		b.Domains = append(b.Domains, r.Domains...)
		s, err := b.service()
		if err != nil {
			n.Malformed++
			c.log.Warn("skipping a malformed record", "service", "shodan", "error", err.Error())
			continue
		}
		n.Records++
		if err := fn(s); err != nil {
			return n, err
		}
	}
	return n, nil
}

// ReadExport streams a `shodan download` file (gzip or plain JSON Lines of
// banners, or a JSON array of them) and hands each well-formed banner to
// fn; malformed records are skipped and counted.
func ReadExport(ctx context.Context, r io.Reader, fn ServiceFunc) (exposure.Counts, error) {
	var n exposure.Counts
	err := feed.ReadRecords(ctx, r, 0, func(raw []byte) error {
		s, err := ParseBanner(raw)
		if err != nil {
			n.Malformed++
			return nil
		}
		n.Records++
		return fn(s)
	}, func(int, error) { n.Malformed++ })
	if err != nil {
		return n, fmt.Errorf("shodan export: %w", err)
	}
	return n, nil
}
