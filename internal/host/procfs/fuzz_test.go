package procfs

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzParseNetTCP checks that no input makes the parser panic or return
// sockets that are not in LISTEN state or have an invalid address.
func FuzzParseNetTCP(f *testing.F) {
	f.Add([]byte(hdr + "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1001 1 0 100 0 0 10 0\n"))
	f.Add([]byte("   0: 0000000000000000FFFF00000100007F:0BB9 00000000000000000000000000000000:0000 0A 0:0 0:0 0 1000 0 1004 1 0\n"))
	f.Add([]byte("   0: 00000000:0016 00000000:0000 01 0:0 0:0 0 0 0 1\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, net := range []string{"tcp", "tcp6"} {
			socks, err := ParseNetTCP(bytes.NewReader(b), net, binary.LittleEndian)
			if err != nil {
				if socks != nil {
					t.Fatalf("sockets %v with error %v", socks, err)
				}
				continue
			}
			for _, s := range socks {
				if !s.Addr.IsValid() || s.Net != net || s.UID < 0 {
					t.Fatalf("bad socket %+v", s)
				}
			}
		}
	})
}
