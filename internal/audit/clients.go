package audit

import (
	"context"
	"errors"
	"iter"
	"net/netip"
	"sort"
	"time"
)

// ClientUse is what the audit trail shows of one principal using the gate
// from one client address: when, how often, how often refused, and whether
// the address's network is new for that principal.
type ClientUse struct {
	Principal string `json:"principal"`
	// Client is the client address the gate recorded (after trusted
	// proxies); Network is its /24 (IPv4) or /64 (IPv6), or the address
	// itself when it is not an IP.
	Client    string    `json:"client"`
	Network   string    `json:"network"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Requests  int       `json:"requests"`
	Denied    int       `json:"denied"`
	// NewNetwork is true when the principal's first request from Network
	// came at or after the cutoff given to Clients while the principal had
	// already used the gate from other networks before it: a credential
	// used from somewhere new.
	NewNetwork bool `json:"new_network"`
}

// ClientsOptions tunes Clients.
type ClientsOptions struct {
	// NewSince is the cutoff for ClientUse.NewNetwork (zero: never new).
	NewSince time.Time
	// Warn, when set, gets each unreadable line (ErrBadLine), which is then
	// skipped; otherwise such lines are skipped silently.
	Warn func(error)
	// MaxPairs bounds the distinct (principal, client) pairs kept in
	// memory (0: 1,000,000); past it Clients fails rather than growing
	// without bound.
	MaxPairs int
}

// ErrTooManyClients is returned when a trail holds more distinct
// (principal, client) pairs than ClientsOptions.MaxPairs.
var ErrTooManyClients = errors.New("audit: too many distinct principal and client pairs; narrow the query with --since or --principal")

// Clients aggregates records (in any order) by principal and client
// address. Records without a principal (refused before authentication)
// are grouped under the principal "-". The result is sorted by principal,
// then by first use.
func Clients(ctx context.Context, recs iter.Seq2[*Record, error], o ClientsOptions) ([]ClientUse, error) {
	maxPairs := o.MaxPairs
	if maxPairs <= 0 {
		maxPairs = 1_000_000
	}
	type pair struct{ principal, client string }
	uses := map[pair]*ClientUse{}
	for r, err := range recs {
		if errors.Is(err, ErrBadLine) {
			if o.Warn != nil {
				o.Warn(err)
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := pair{r.Principal, r.ClientAddr}
		if p.principal == "" {
			p.principal = "-"
		}
		u := uses[p]
		if u == nil {
			if len(uses) >= maxPairs {
				return nil, ErrTooManyClients
			}
			u = &ClientUse{Principal: p.principal, Client: p.client, Network: networkOf(p.client), FirstSeen: r.Time, LastSeen: r.Time}
			uses[p] = u
		}
		if r.Time.Before(u.FirstSeen) {
			u.FirstSeen = r.Time
		}
		if r.Time.After(u.LastSeen) {
			u.LastSeen = r.Time
		}
		u.Requests++
		if r.Decision == "deny" {
			u.Denied++
		}
	}
	out := make([]ClientUse, 0, len(uses))
	for _, u := range uses {
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Principal != b.Principal {
			return a.Principal < b.Principal
		}
		if !a.FirstSeen.Equal(b.FirstSeen) {
			return a.FirstSeen.Before(b.FirstSeen)
		}
		return a.Client < b.Client
	})
	if !o.NewSince.IsZero() {
		markNewNetworks(out, o.NewSince)
	}
	return out, nil
}

// markNewNetworks sets NewNetwork on uses (sorted by principal) whose
// network the principal first used at or after cutoff, when the principal
// used another network before cutoff.
func markNewNetworks(uses []ClientUse, cutoff time.Time) {
	for start := 0; start < len(uses); {
		end := start
		for end < len(uses) && uses[end].Principal == uses[start].Principal {
			end++
		}
		group := uses[start:end]
		start = end
		if group[0].Principal == "-" {
			continue // unauthenticated requests have no history to compare
		}
		first := map[string]time.Time{} // network -> first use
		for _, u := range group {
			if t, ok := first[u.Network]; !ok || u.FirstSeen.Before(t) {
				first[u.Network] = u.FirstSeen
			}
		}
		var known bool // some network used before the cutoff
		for _, t := range first {
			if t.Before(cutoff) {
				known = true
			}
		}
		if !known {
			continue
		}
		for i := range group {
			group[i].NewNetwork = !first[group[i].Network].Before(cutoff)
		}
	}
}

// networkOf is the /24 of an IPv4 address or the /64 of an IPv6 one.
func networkOf(client string) string {
	a, err := netip.ParseAddr(client)
	if err != nil {
		return client
	}
	a = a.Unmap()
	bits := 64
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return client
	}
	return p.String()
}
