package procfs

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
)

const hdr = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"

func TestParseNetTCP(t *testing.T) {
	tests := []struct {
		name    string
		network string
		in      string
		want    []Socket
		wantErr string
	}{
		{
			name: "ipv4 listen and established", network: "tcp",
			in: hdr +
				"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1001 1 0000000000000000 100 0 0 10 0\n" +
				"   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1002 1 0000000000000000 100 0 0 10 0\n" +
				"   2: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 0 1 0000000000000000 100 0 0 10 0\n",
			want: []Socket{
				{Addr: netip.MustParseAddrPort("127.0.0.1:8080"), Net: "tcp", UID: 1000, Inode: 1001},
				{Addr: netip.MustParseAddrPort("0.0.0.0:22"), Net: "tcp", UID: 0, Inode: 1002},
			},
		},
		{
			name: "ipv4 private address", network: "tcp",
			in:   "   0: 0501A8C0:0BB8 00000000:0000 0a 00000000:00000000 00:00000000 00000000  1000        0 77 1 0 100 0 0 10 0\n",
			want: []Socket{{Addr: netip.MustParseAddrPort("192.168.1.5:3000"), Net: "tcp", UID: 1000, Inode: 77}},
		},
		{
			name: "ipv6 loopback, wildcard, v4-mapped and global", network: "tcp6",
			in: "   0: 00000000000000000000000001000000:1882 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1003 1 0 100 0 0 10 0\n" +
				"   1: 00000000000000000000000000000000:0BB8 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1005 1 0 100 0 0 10 0\n" +
				"   2: 0000000000000000FFFF00000100007F:0BB9 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1004 1 0 100 0 0 10 0\n" +
				"   3: B80D0120000000000000000001000000:1F40 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1006 1 0 100 0 0 10 0\n",
			want: []Socket{
				{Addr: netip.MustParseAddrPort("[::1]:6274"), Net: "tcp6", UID: 1000, Inode: 1003},
				{Addr: netip.MustParseAddrPort("[::]:3000"), Net: "tcp6", UID: 1000, Inode: 1005},
				{Addr: netip.MustParseAddrPort("127.0.0.1:3001"), Net: "tcp6", UID: 1000, Inode: 1004},
				{Addr: netip.MustParseAddrPort("[2001:db8::1]:8000"), Net: "tcp6", UID: 1000, Inode: 1006},
			},
		},
		{name: "empty", network: "tcp", in: ""},
		{name: "header only", network: "tcp", in: hdr},
		{name: "too few fields", network: "tcp", in: "   0: 0100007F:1F90 00000000:0000 0A\n", wantErr: "tcp line 1: want at least 10 fields"},
		{name: "bad address", network: "tcp", in: "   0: 0100007Z:1F90 00000000:0000 0A 0:0 0:0 0 1000 0 5\n", wantErr: `local address "0100007Z:1F90"`},
		{name: "bad port", network: "tcp", in: "   0: 0100007F:1F9 00000000:0000 0A 0:0 0:0 0 1000 0 5\n", wantErr: "HEXADDR:HEXPORT"},
		{name: "bad uid", network: "tcp", in: hdr + "   0: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 -1 0 5\n", wantErr: `tcp line 2: bad uid "-1"`},
		{name: "bad inode", network: "tcp", in: "   0: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 x\n", wantErr: `bad inode "x"`},
		{name: "bad state", network: "tcp", in: "   0: 0100007F:1F90 00000000:0000 ZZ 0:0 0:0 0 0 0 1\n", wantErr: `bad state "ZZ"`},
		{name: "bad slot", network: "tcp", in: "   0 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 1\n", wantErr: `bad slot "0"`},
		{name: "line too long", network: "tcp", in: strings.Repeat("x", maxLineLen+10), wantErr: "token too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseNetTCP(strings.NewReader(tt.in), tt.network, binary.LittleEndian)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d sockets %+v, want %d", len(got), got, len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("socket %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestParseNetTCPBigEndian(t *testing.T) {
	in := "   0: 7F000001:1F90 00000000:0000 0A 0:0 0:0 0 0 0 9\n"
	got, err := ParseNetTCP(strings.NewReader(in), "tcp", binary.BigEndian)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Addr != netip.MustParseAddrPort("127.0.0.1:8080") {
		t.Fatalf("got %+v", got)
	}
}
