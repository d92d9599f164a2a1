package procfs

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// stateListen is the kernel's TCP_LISTEN state as /proc/net/tcp prints it.
const stateListen = "0A"

// maxLineLen caps one line of /proc/net/tcp{,6}; real lines are ~150 bytes.
const maxLineLen = 4096

// Socket is one listening TCP socket from /proc/net/tcp or /proc/net/tcp6.
type Socket struct {
	// Addr is the bound address and port. IPv4-mapped IPv6 addresses
	// (::ffff:a.b.c.d) are unmapped to IPv4; "::" and "0.0.0.0" mean every
	// interface.
	Addr netip.AddrPort
	// Net is "tcp" or "tcp6": the table the socket was read from.
	Net string
	// UID is the socket owner's user id.
	UID int
	// Inode is the socket inode, the key to /proc/<pid>/fd/* links
	// ("socket:[inode]").
	Inode uint64
}

// ParseNetTCP reads a /proc/net/tcp or /proc/net/tcp6 table and returns the
// sockets in LISTEN state. order is the byte order of the machine that
// wrote the table (binary.NativeEndian for the live system); the kernel
// prints each 32-bit address word in it. A malformed line is an error that
// names its line number; a missing header is accepted.
func ParseNetTCP(r io.Reader, network string, order binary.ByteOrder) ([]Socket, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), maxLineLen)
	var out []Socket
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "sl") {
			continue
		}
		s, listening, err := parseLine(line, network, order)
		if err != nil {
			return nil, fmt.Errorf("procfs: %s line %d: %w", network, n, err)
		}
		if listening {
			out = append(out, s)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("procfs: %s line %d: %w", network, n+1, err)
	}
	return out, nil
}

func parseLine(line, network string, order binary.ByteOrder) (Socket, bool, error) {
	f := strings.Fields(line)
	if len(f) < 10 {
		return Socket{}, false, fmt.Errorf("want at least 10 fields, got %d", len(f))
	}
	if !strings.HasSuffix(f[0], ":") {
		return Socket{}, false, fmt.Errorf("bad slot %q", f[0])
	}
	st := strings.ToUpper(f[3])
	if len(st) != 2 || !isHex(st) {
		return Socket{}, false, fmt.Errorf("bad state %q", f[3])
	}
	addr, err := parseAddrPort(f[1], order)
	if err != nil {
		return Socket{}, false, fmt.Errorf("local address %q: %w", f[1], err)
	}
	if _, err := parseAddrPort(f[2], order); err != nil {
		return Socket{}, false, fmt.Errorf("remote address %q: %w", f[2], err)
	}
	uid, err := strconv.ParseUint(f[7], 10, 32)
	if err != nil {
		return Socket{}, false, fmt.Errorf("bad uid %q", f[7])
	}
	inode, err := strconv.ParseUint(f[9], 10, 64)
	if err != nil {
		return Socket{}, false, fmt.Errorf("bad inode %q", f[9])
	}
	return Socket{Addr: addr, Net: network, UID: int(uid), Inode: inode}, st == stateListen, nil
}

// parseAddrPort reads "0100007F:1F90" (IPv4) or 32 hex digits ":port" (IPv6).
func parseAddrPort(s string, order binary.ByteOrder) (netip.AddrPort, error) {
	h, p, ok := strings.Cut(s, ":")
	if !ok || len(p) != 4 || !isHex(p) {
		return netip.AddrPort{}, fmt.Errorf("want HEXADDR:HEXPORT")
	}
	port, _ := strconv.ParseUint(p, 16, 16)
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("want 8 or 32 hex digits of address")
	}
	// Each 32-bit word is printed as a number in the machine's byte order;
	// hex.DecodeString gave its big-endian bytes.
	var b [16]byte
	for i := 0; i < len(raw); i += 4 {
		w := binary.BigEndian.Uint32(raw[i:])
		order.PutUint32(b[i:], w)
	}
	var a netip.Addr
	if len(raw) == 4 {
		a = netip.AddrFrom4([4]byte(b[:4]))
	} else {
		a = netip.AddrFrom16(b).Unmap()
	}
	return netip.AddrPortFrom(a, uint16(port)), nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
