// Package censys reads what Censys holds about the operator's own address
// space through the Censys Search API v2 (hosts search with cursor paging,
// host view, and the v1 account endpoint for the query quota), and reads
// Censys search exports (JSON array or JSON Lines of host records, gzip or
// plain), offline. The newer Censys Platform API is not supported.
//
// Only the base URL differs between tests and real use. The API ID and
// secret go in HTTP Basic authentication; neither is ever logged or
// printed. Requests are paced (default 0.4 per second, the free tier's
// published limit; raise it for paid plans).
package censys

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

// DefaultBaseURL is the Censys Search API.
const DefaultBaseURL = "https://search.censys.io"

// DefaultRate is the request rate used when Options.Rate is 0.
const DefaultRate = 0.4

// PerPage is the number of hits asked for per search page (Censys' maximum).
const PerPage = 100

// Options configure a Client. Zero fields take the documented defaults.
type Options struct {
	// BaseURL defaults to DefaultBaseURL.
	BaseURL string
	// ID and Secret are the API credentials (CENSYS_API_ID,
	// CENSYS_API_SECRET). Both required.
	ID, Secret string
	// HTTP is the HTTP client; nil means a private one.
	HTTP *http.Client
	// Rate is requests per second; 0 means DefaultRate.
	Rate float64
	// MaxBody, Timeout, MaxRetries, RetryBase: see feed.Options.
	MaxBody    int64
	Timeout    time.Duration
	MaxRetries int
	RetryBase  time.Duration
	// UserAgent defaults to "mcpwarden".
	UserAgent string
	// Logger receives debug lines; nil discards.
	Logger *slog.Logger
}

// Client talks to the Censys Search API v2.
type Client struct {
	f    *feed.Client
	auth http.Header
	log  *slog.Logger
}

// New returns a client; it fails without credentials or with a bad base URL.
func New(o Options) (*Client, error) {
	if strings.TrimSpace(o.ID) == "" || strings.TrimSpace(o.Secret) == "" {
		return nil, errors.New("censys: no API credentials (set CENSYS_API_ID and CENSYS_API_SECRET)")
	}
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	if o.Rate <= 0 {
		o.Rate = DefaultRate
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	f, err := feed.New(feed.Options{
		Name: "censys", BaseURL: o.BaseURL, HTTP: o.HTTP, Rate: o.Rate, MaxBody: o.MaxBody,
		Timeout: o.Timeout, MaxRetries: o.MaxRetries, RetryBase: o.RetryBase,
		Secrets: []string{o.ID, o.Secret}, UserAgent: o.UserAgent, Logger: o.Logger,
	})
	if err != nil {
		return nil, err
	}
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(o.ID, o.Secret)
	return &Client{f: f, auth: http.Header{"Authorization": req.Header["Authorization"]}, log: o.Logger}, nil
}

func (c *Client) get(ctx context.Context, path string, q url.Values, v any) error {
	body, err := c.f.Get(ctx, path, q, c.auth)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("censys: %s: malformed or truncated response (%d bytes): %w", path, len(body), err)
	}
	return nil
}

// Quota is the account's query allowance (/api/v1/account).
type Quota struct {
	Used      int    `json:"used"`
	Allowance int    `json:"allowance"`
	ResetsAt  string `json:"resets_at"`
}

// Left returns the queries left this period (never negative).
func (q Quota) Left() int { return max(q.Allowance-q.Used, 0) }

// Account returns the account's query quota. It costs no query.
func (c *Client) Account(ctx context.Context) (*Quota, error) {
	var r struct {
		Quota *Quota `json:"quota"`
	}
	if err := c.get(ctx, "/api/v1/account", nil, &r); err != nil {
		return nil, err
	}
	if r.Quota == nil {
		return nil, errors.New("censys: /api/v1/account: answer without a quota")
	}
	return r.Quota, nil
}

// HitFunc receives one search hit; an error stops the search.
type HitFunc func(*Host) error

// PageFunc is consulted before every page after the first with the total
// the first page announced; returning false stops the search there (the
// caller's credit gate).
type PageFunc func(page, total int) bool

// Search runs query for up to pages pages (each costs one query), following
// links.next, and hands every well-formed hit to fn; malformed hits are
// skipped and counted. more, when set, may stop paging early.
func (c *Client) Search(ctx context.Context, query string, pages int, more PageFunc, fn HitFunc) (exposure.Counts, error) {
	var n exposure.Counts
	cursor := ""
	total := 0
	for page := 1; page <= pages; page++ {
		if page > 1 && more != nil && !more(page, total) {
			break
		}
		q := url.Values{"q": {query}, "per_page": {fmt.Sprint(PerPage)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var r struct {
			Result *struct {
				Total int               `json:"total"`
				Hits  []json.RawMessage `json:"hits"`
				Links struct {
					Next string `json:"next"`
				} `json:"links"`
			} `json:"result"`
		}
		if err := c.get(ctx, "/api/v2/hosts/search", q, &r); err != nil {
			return n, fmt.Errorf("%w (page %d)", err, page)
		}
		n.Queries++
		n.Credits++
		if r.Result == nil {
			return n, fmt.Errorf("censys: /api/v2/hosts/search: answer without a result (page %d)", page)
		}
		total = r.Result.Total
		for _, raw := range r.Result.Hits {
			h, err := ParseHost(raw)
			if err != nil {
				n.Malformed++
				c.log.Warn("skipping a malformed record", "service", "censys", "error", err.Error())
				continue
			}
			n.Records++
			if err := fn(h); err != nil {
				return n, err
			}
		}
		if r.Result.Links.Next == "" || r.Result.Links.Next == cursor || len(r.Result.Hits) == 0 {
			break
		}
		cursor = r.Result.Links.Next
	}
	return n, nil
}

// Host fetches the full record of one address (one query). An address
// Censys knows nothing about returns nil and no error.
func (c *Client) Host(ctx context.Context, ip netip.Addr) (*Host, error) {
	var r struct {
		Result json.RawMessage `json:"result"`
	}
	err := c.get(ctx, "/api/v2/hosts/"+ip.String(), nil, &r)
	var he *feed.HTTPError
	if errors.As(err, &he) && he.Status == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	h, err := ParseHost(r.Result)
	if err != nil {
		return nil, err
	}
	if h.Addr() != ip.Unmap() {
		return nil, fmt.Errorf("censys: /api/v2/hosts/%s: answer is about %s", ip, h.Addr())
	}
	return h, nil
}

// ReadExport streams a Censys export (a JSON array or JSON Lines of host
// records, gzip or plain) and hands every service of every well-formed
// record to fn; malformed records and services are skipped and counted.
// A record wrapped as a search response page ({"result": {"hits": [...]}})
// is unwrapped.
func ReadExport(ctx context.Context, r io.Reader, fn func(*exposure.Service) error) (exposure.Counts, error) {
	var n exposure.Counts
	var emitHost func(raw []byte) error
	emitHost = func(raw []byte) error {
		var page struct {
			Result *struct {
				Hits []json.RawMessage `json:"hits"`
			} `json:"result"`
		}
		if json.Unmarshal(raw, &page) == nil && page.Result != nil && page.Result.Hits != nil {
			for _, hit := range page.Result.Hits {
				if err := emitHost(hit); err != nil {
					return err
				}
			}
			return nil
		}
		h, err := ParseHost(raw)
		if err != nil {
			n.Malformed++
			return nil
		}
		svcs, bad := h.ServicesOf(false, "")
		n.Malformed += bad
		for _, s := range svcs {
			n.Records++
			if err := fn(s); err != nil {
				return err
			}
		}
		return nil
	}
	err := feed.ReadRecords(ctx, r, 0, emitHost, func(int, error) { n.Malformed++ })
	if err != nil {
		return n, fmt.Errorf("censys export: %w", err)
	}
	return n, nil
}
