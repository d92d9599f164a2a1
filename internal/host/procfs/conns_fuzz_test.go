package procfs

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzParseNetTCPConns checks that no input makes the connection parser
// panic, and that what it returns is established, valid and agrees with
// the single-pass table reader.
func FuzzParseNetTCPConns(f *testing.F) {
	f.Add([]byte(hdr + "   2: 0100C80A:2328 0200C80A:E038 01 00000000:00000000 00:00000000 00000000     0        0 4699913 1 0 20 0 0 10 -1\n"))
	f.Add([]byte("   4: 0000000000000000FFFF00000100C80A:0BB8 0000000000000000FFFF00000200C80A:D9F2 01 0:0 0:0 0 0 0 4699914 1 0\n"))
	f.Add([]byte("   3: 000200FD000000000000000001000000:0BB8 000200FD000000000000000002000000:808A 01 0:0 0:0 0 0 0 4699936 1 0\n"))
	f.Add([]byte("   0: 00000000:2328 00000000:0000 0A 0:0 0:0 0 0 0 1\n   1: 0100007F:1F40 0100007F:BFE8 06 0:0 0:0 0 0 0 0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, net := range []string{"tcp", "tcp6"} {
			conns, err := ParseNetTCPConns(bytes.NewReader(b), net, binary.LittleEndian)
			res := &ConnResult{}
			perr := parseTable(b, net, binary.LittleEndian, res)
			if err != nil {
				if conns != nil {
					t.Fatalf("connections %v with error %v", conns, err)
				}
				if perr == nil {
					t.Fatalf("the scanner failed (%v) and the table reader did not", err)
				}
				continue
			}
			if perr != nil {
				t.Fatalf("the table reader failed (%v) and the scanner did not", perr)
			}
			if len(res.Conns) != len(conns) {
				t.Fatalf("table reader found %d connections, scanner %d", len(res.Conns), len(conns))
			}
			for _, c := range conns {
				if !c.Local.IsValid() || !c.Remote.IsValid() || c.Net != net || c.UID < 0 || c.Remote.Addr().Is4In6() {
					t.Fatalf("bad connection %+v", c)
				}
			}
		}
	})
}
