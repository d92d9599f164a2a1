package audit

import (
	"context"
	"errors"
	"iter"
	"testing"
	"time"
)

func seqOf(recs []Record, errs ...error) iter.Seq2[*Record, error] {
	return func(yield func(*Record, error) bool) {
		for i := range recs {
			if !yield(&recs[i], nil) {
				return
			}
		}
		for _, e := range errs {
			if !yield(nil, e) {
				return
			}
		}
	}
}

func TestClients(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	recs := []Record{
		{Time: at(0), Principal: "key:ci", ClientAddr: "10.0.0.5", Decision: "allow"},
		{Time: at(1), Principal: "key:ci", ClientAddr: "10.0.0.5", Decision: "deny"},
		{Time: at(30), Principal: "key:ci", ClientAddr: "10.0.0.9", Decision: "allow"},        // same /24: not new
		{Time: at(31), Principal: "key:ci", ClientAddr: "203.0.113.7", Decision: "allow"},     // new network after the cutoff
		{Time: at(29), Principal: "oauth:eve", ClientAddr: "198.51.100.1", Decision: "allow"}, // only after the cutoff: no history, not new
		{Time: at(2), Principal: "", ClientAddr: "192.0.2.1", Decision: "deny"},               // refused before authentication
		{Time: at(40), Principal: "key:ci", ClientAddr: "2001:db8:1:2::5", Decision: "allow"},
		{Time: at(41), Principal: "key:ci", ClientAddr: "2001:db8:1:2::6", Decision: "allow"}, // same /64
		{Time: at(0), Principal: "key:ops", ClientAddr: "::ffff:10.1.1.1", Decision: "allow"}, // v4-mapped
		{Time: at(25), Principal: "key:ops", ClientAddr: "10.1.1.200", Decision: "allow"},     // its /24: not new
	}
	bad := &LineError{Name: "x", Line: 3, Err: errors.New("broken")}
	var warned []error
	got, err := Clients(context.Background(), seqOf(recs, bad), ClientsOptions{NewSince: at(24), Warn: func(e error) { warned = append(warned, e) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(warned) != 1 {
		t.Errorf("warnings %v, want the bad line", warned)
	}
	type row struct {
		principal, client, network string
		first, last                time.Time
		requests, denied           int
		isNew                      bool
	}
	want := []row{
		{"-", "192.0.2.1", "192.0.2.0/24", at(2), at(2), 1, 1, false},
		{"key:ci", "10.0.0.5", "10.0.0.0/24", at(0), at(1), 2, 1, false},
		{"key:ci", "10.0.0.9", "10.0.0.0/24", at(30), at(30), 1, 0, false},
		{"key:ci", "203.0.113.7", "203.0.113.0/24", at(31), at(31), 1, 0, true},
		{"key:ci", "2001:db8:1:2::5", "2001:db8:1:2::/64", at(40), at(40), 1, 0, true},
		{"key:ci", "2001:db8:1:2::6", "2001:db8:1:2::/64", at(41), at(41), 1, 0, true},
		{"key:ops", "::ffff:10.1.1.1", "10.1.1.0/24", at(0), at(0), 1, 0, false},
		{"key:ops", "10.1.1.200", "10.1.1.0/24", at(25), at(25), 1, 0, false},
		{"oauth:eve", "198.51.100.1", "198.51.100.0/24", at(29), at(29), 1, 0, false},
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Principal != w.principal || g.Client != w.client || g.Network != w.network || !g.FirstSeen.Equal(w.first) ||
			!g.LastSeen.Equal(w.last) || g.Requests != w.requests || g.Denied != w.denied || g.NewNetwork != w.isNew {
			t.Errorf("row %d = %+v\nwant %+v", i, g, w)
		}
	}

	// Without a cutoff nothing is new.
	got, err = Clients(context.Background(), seqOf(recs), ClientsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range got {
		if g.NewNetwork {
			t.Errorf("no cutoff, yet new: %+v", g)
		}
	}

	// The pair cap fails rather than growing without bound.
	if _, err := Clients(context.Background(), seqOf(recs), ClientsOptions{MaxPairs: 3}); !errors.Is(err, ErrTooManyClients) {
		t.Errorf("cap: err = %v, want ErrTooManyClients", err)
	}
	// A read error is returned.
	boom := errors.New("disk gone")
	if _, err := Clients(context.Background(), seqOf(recs, boom), ClientsOptions{}); !errors.Is(err, boom) {
		t.Errorf("read error: %v", err)
	}
}
