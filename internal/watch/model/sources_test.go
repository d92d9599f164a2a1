package model

import (
	"net/netip"
	"testing"
)

func TestSourceKeys(t *testing.T) {
	a := netip.MustParseAddr("198.51.100.7")
	mapped := netip.MustParseAddr("::ffff:198.51.100.7")
	if IndexKey("shodan", a, 8000) != IndexKey("shodan", mapped, 8000) {
		t.Error("a v4-mapped address keys apart from its IPv4 form")
	}
	keys := map[string]string{}
	for name, k := range map[string]string{
		"shodan 8000":   IndexKey("shodan", a, 8000),
		"censys 8000":   IndexKey("censys", a, 8000),
		"shodan 8001":   IndexKey("shodan", a, 8001),
		"external":      ConnKey(ConnectionExternal, "0.0.0.0:9000", "203.0.113.7"),
		"bypass":        ConnKey(ConnectionBypass, "0.0.0.0:9000", "203.0.113.7"),
		"other peer":    ConnKey(ConnectionExternal, "0.0.0.0:9000", "203.0.113.8"),
		"other listen":  ConnKey(ConnectionExternal, "0.0.0.0:9001", "203.0.113.7"),
		"local program": ConnKey(ConnectionBypass, "0.0.0.0:9000", "127.0.0.1 /usr/bin/curl"),
	} {
		if prev, dup := keys[k]; dup {
			t.Errorf("%s and %s share the key %s", name, prev, k)
		}
		keys[k] = name
	}
	if ConnKey(ConnectionExternal, "0.0.0.0:9000", "203.0.113.7") != ConnKey(ConnectionExternal, "0.0.0.0:9000", "203.0.113.7") {
		t.Error("ConnKey is not stable")
	}
	for _, typ := range []Type{ConnectionExternal, ConnectionBypass, IndexNew} {
		if !typ.Valid() {
			t.Errorf("%s is not a valid type", typ)
		}
	}
}
