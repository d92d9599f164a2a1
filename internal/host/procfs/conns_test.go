package procfs

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// TestParseNetTCPConnsCaptured reads tables captured in a network
// namespace (see testdata/conns/README): IPv4, IPv6, and IPv4 peers of a
// dual-stack socket in their v4-mapped form.
func TestParseNetTCPConnsCaptured(t *testing.T) {
	tests := []struct {
		file, network string
		want          []Conn
	}{
		{"tcp", "tcp", []Conn{
			{Local: ap("10.200.0.1:9000"), Remote: ap("10.200.0.2:57400"), Net: "tcp", Inode: 4699913},
			{Local: ap("127.0.0.1:49128"), Remote: ap("127.0.0.1:8000"), Net: "tcp", Inode: 4699920},
			{Local: ap("127.0.0.1:37778"), Remote: ap("127.0.0.1:3000"), Net: "tcp", Inode: 4699923},
			{Local: ap("127.0.0.1:8000"), Remote: ap("127.0.0.1:49128"), Net: "tcp", Inode: 4699921},
		}},
		{"tcp6", "tcp6", []Conn{
			{Local: ap("[::1]:3000"), Remote: ap("[::1]:41784"), Net: "tcp6", Inode: 4699948},
			// ::ffff:127.0.0.1 and ::ffff:10.200.0.2 come out as IPv4.
			{Local: ap("127.0.0.1:3000"), Remote: ap("127.0.0.1:37778"), Net: "tcp6", Inode: 4699958},
			{Local: ap("[fd00:200::1]:3000"), Remote: ap("[fd00:200::2]:32906"), Net: "tcp6", Inode: 4699936},
			{Local: ap("10.200.0.1:3000"), Remote: ap("10.200.0.2:55794"), Net: "tcp6", Inode: 4699914},
			{Local: ap("[::1]:41784"), Remote: ap("[::1]:3000"), Net: "tcp6", Inode: 4699922},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "conns", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseNetTCPConns(bytes.NewReader(b), tt.network, binary.LittleEndian)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n%v\nwant\n%v", got, tt.want)
			}
		})
	}
}

func TestParseNetTCPConnsErrors(t *testing.T) {
	good := "   0: 0100007F:1F40 0100007F:BFE8 01 00000000:00000000 00:00000000 00000000     0        0 4699921 1 0 20 0 0 10 -1\n"
	tests := []struct{ name, in, want string }{
		{"short", "   0: 0100007F:1F40 0100007F:BFE8 01\n", "line 1: want at least 10 fields"},
		{"bad remote", good + "   1: 0100007F:1F40 0100007G:BFE8 01 0:0 0:0 0 0 0 1\n", `line 2: remote address "0100007G:BFE8"`},
		{"bad port", "   0: 0100007F:1F4 0100007F:BFE8 01 0:0 0:0 0 0 0 1\n", `local address "0100007F:1F4"`},
		{"bad state", "   0: 0100007F:1F40 0100007F:BFE8 1 0:0 0:0 0 0 0 1\n", `bad state "1"`},
		{"bad inode", "   0: 0100007F:1F40 0100007F:BFE8 01 0:0 0:0 0 0 0 x\n", `bad inode "x"`},
		{"long line", strings.Repeat("a", 5000) + "\n", "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseNetTCPConns(strings.NewReader(tt.in), "tcp", binary.LittleEndian)
			if err == nil || !strings.Contains(err.Error(), tt.want) || got != nil {
				t.Fatalf("got %v, %v; want an error containing %q", got, err, tt.want)
			}
			res := &ConnResult{}
			if err := parseTable([]byte(tt.in), "tcp", binary.LittleEndian, res); err == nil || !strings.Contains(err.Error(), "line") {
				t.Fatalf("parseTable: %v; want an error naming the line", err)
			}
		})
	}
}

// TestParseNetTCPConnsBigEndian reads an address written by a big-endian
// machine: the words are in network order.
func TestParseNetTCPConnsBigEndian(t *testing.T) {
	in := "   0: 7F000001:0BB8 CB007107:9C40 01 0:0 0:0 0 1000 0 7 1 0\n"
	got, err := ParseNetTCPConns(strings.NewReader(in), "tcp", binary.BigEndian)
	if err != nil {
		t.Fatal(err)
	}
	want := []Conn{{Local: ap("127.0.0.1:3000"), Remote: ap("203.0.113.7:40000"), Net: "tcp", UID: 1000, Inode: 7}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestEstablished(t *testing.T) {
	tcp, _ := os.ReadFile(filepath.Join("testdata", "conns", "tcp"))
	tcp6, _ := os.ReadFile(filepath.Join("testdata", "conns", "tcp6"))
	tests := []struct {
		name      string
		fs        fstest.MapFS
		conns     int
		listening []string
		warn      string
		err       string
	}{
		{"both", fstest.MapFS{"net/tcp": {Data: tcp}, "net/tcp6": {Data: tcp6}}, 9,
			[]string{"0.0.0.0:9000", "127.0.0.1:8000", "[::]:3000"}, "", ""},
		{"no tcp6", fstest.MapFS{"net/tcp": {Data: tcp}}, 4, []string{"0.0.0.0:9000", "127.0.0.1:8000"}, "net/tcp6", ""},
		{"neither", fstest.MapFS{}, 0, nil, "", "net/tcp"},
		{"bad", fstest.MapFS{"net/tcp": {Data: []byte("   0: zz\n")}}, 0, nil, "", "tcp line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Reader{Proc: tt.fs, Order: binary.LittleEndian}
			res, err := r.Established(context.Background())
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Conns) != tt.conns {
				t.Errorf("%d connections, want %d", len(res.Conns), tt.conns)
			}
			var ls []string
			for _, s := range res.Listening {
				ls = append(ls, s.Addr.String())
			}
			if !slices.Equal(ls, tt.listening) {
				t.Errorf("listening %v, want %v", ls, tt.listening)
			}
			if tt.warn != "" && (len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], tt.warn)) {
				t.Errorf("warnings %v, want one naming %s", res.Warnings, tt.warn)
			}
		})
	}
}

func TestSocketOwnersAndProcessFiles(t *testing.T) {
	r := treeReader(t, "normal")
	ctx := context.Background()
	own, err := r.SocketOwners(ctx, map[uint64]bool{1002: true, 424242: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := own.PIDs[1002]; !slices.Equal(got, []int{1}) {
		t.Errorf("owners of 1002: %v, want [1]", got)
	}
	if _, ok := own.PIDs[424242]; ok {
		t.Errorf("an owner for an inode no process holds")
	}
	pids, err := r.PIDs(ctx)
	if err != nil || !slices.Contains(pids, 1) {
		t.Errorf("PIDs %v, %v; want pid 1 among them", pids, err)
	}
	if p := r.Process(1); p.PID != 1 || p.Command() == "" {
		t.Errorf("Process(1) = %+v", p)
	}
	if c := r.Cmdline(1); len(c) == 0 {
		t.Errorf("Cmdline(1) empty")
	}
	if c := r.Cmdline(999999); c != nil {
		t.Errorf("Cmdline of a missing pid: %v", c)
	}

	fsys := fstest.MapFS{
		"7/cwd/gate.yaml":      {Data: []byte("rel")},
		"7/root/etc/gate.yaml": {Data: []byte("abs")},
		"7/cwd/big":            {Data: make([]byte, maxProcessFile+1)},
	}
	pr := &Reader{Proc: fsys}
	for _, tt := range []struct{ name, want, err string }{
		{"gate.yaml", "rel", ""},
		{"/etc/gate.yaml", "abs", ""},
		{"../x", "", "bad file name"},
		{"missing", "", "not exist"},
		{"big", "", "larger than"},
		{"", "", "empty"},
	} {
		t.Run("file "+tt.name, func(t *testing.T) {
			b, err := pr.ProcessFile(7, tt.name)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || string(b) != tt.want {
				t.Fatalf("got %q, %v; want %q", b, err, tt.want)
			}
		})
	}
}
