package procfs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"strconv"
	"strings"
)

// stateEstablished is the kernel's TCP_ESTABLISHED state as /proc/net/tcp
// prints it.
const stateEstablished = "01"

// Conn is one established TCP connection from /proc/net/tcp or
// /proc/net/tcp6, seen from this machine's end.
type Conn struct {
	// Local is this machine's end, Remote the peer's. IPv4-mapped IPv6
	// addresses (::ffff:a.b.c.d, a dual-stack socket's IPv4 peers) are
	// unmapped to IPv4.
	Local  netip.AddrPort
	Remote netip.AddrPort
	// Net is "tcp" or "tcp6": the table the connection was read from.
	Net string
	// UID is the socket owner's user id.
	UID int
	// Inode is the socket inode, the key to /proc/<pid>/fd/* links. It is
	// 0 for a socket whose owner has closed it (orphaned).
	Inode uint64
}

// ParseNetTCPConns reads a /proc/net/tcp or /proc/net/tcp6 table and
// returns the connections in ESTABLISHED state. order is the byte order of
// the machine that wrote the table (binary.NativeEndian for the live
// system). A malformed line is an error that names its line number; a
// missing header is accepted.
func ParseNetTCPConns(r io.Reader, network string, order binary.ByteOrder) ([]Conn, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), maxLineLen)
	var out []Conn
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || bytes.HasPrefix(line, []byte("sl")) {
			continue
		}
		c, st, err := parseConnLine(string(line), network, order)
		if err != nil {
			return nil, fmt.Errorf("procfs: %s line %d: %w", network, n, err)
		}
		if st == stateEstablished {
			out = append(out, c)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("procfs: %s line %d: %w", network, n+1, err)
	}
	return out, nil
}

// parseConnLine reads one table line and returns its socket and its state
// (two upper-case hex digits).
func parseConnLine(line, network string, order binary.ByteOrder) (Conn, string, error) {
	f := strings.Fields(line)
	if len(f) < 10 {
		return Conn{}, "", fmt.Errorf("want at least 10 fields, got %d", len(f))
	}
	if !strings.HasSuffix(f[0], ":") {
		return Conn{}, "", fmt.Errorf("bad slot %q", f[0])
	}
	st := strings.ToUpper(f[3])
	if len(st) != 2 || !isHex(st) {
		return Conn{}, "", fmt.Errorf("bad state %q", f[3])
	}
	local, err := parseAddrPort(f[1], order)
	if err != nil {
		return Conn{}, "", fmt.Errorf("local address %q: %w", f[1], err)
	}
	remote, err := parseAddrPort(f[2], order)
	if err != nil {
		return Conn{}, "", fmt.Errorf("remote address %q: %w", f[2], err)
	}
	uid, err := strconv.ParseUint(f[7], 10, 32)
	if err != nil {
		return Conn{}, "", fmt.Errorf("bad uid %q", f[7])
	}
	inode, err := strconv.ParseUint(f[9], 10, 64)
	if err != nil {
		return Conn{}, "", fmt.Errorf("bad inode %q", f[9])
	}
	return Conn{Local: local, Remote: remote, Net: network, UID: int(uid), Inode: inode}, st, nil
}

// ConnResult is what Established found.
type ConnResult struct {
	Conns []Conn
	// Listening are the sockets in LISTEN state, read in the same pass.
	Listening []Socket
	// Warnings are non-fatal problems (one table missing).
	Warnings []string
}

// Established lists the established TCP connections of the tree, IPv4
// then IPv6, in table order. It fails only when neither net/tcp nor
// net/tcp6 can be read, or a table does not parse.
func (r *Reader) Established(ctx context.Context) (*ConnResult, error) {
	if r.Proc == nil {
		return nil, errors.New("procfs: no proc tree")
	}
	order := r.Order
	if order == nil {
		order = binary.NativeEndian
	}
	res := &ConnResult{}
	var readErrs []error
	for _, t := range []struct{ file, network string }{{"net/tcp", "tcp"}, {"net/tcp6", "tcp6"}} {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b, err := fs.ReadFile(r.Proc, t.file)
		if err != nil {
			readErrs = append(readErrs, fmt.Errorf("procfs: read %s: %w", t.file, err))
			continue
		}
		if err := parseTable(b, t.network, order, res); err != nil {
			return nil, err
		}
	}
	if len(readErrs) == 2 {
		return nil, errors.Join(readErrs...)
	}
	for _, e := range readErrs {
		res.Warnings = append(res.Warnings, e.Error())
	}
	return res, nil
}

// parseTable adds the established and listening sockets of one table to
// res.
func parseTable(b []byte, network string, order binary.ByteOrder, res *ConnResult) error {
	n := 0
	for len(b) > 0 {
		n++
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(line) > maxLineLen {
			return fmt.Errorf("procfs: %s line %d: longer than %d bytes", network, n, maxLineLen)
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || bytes.HasPrefix(line, []byte("sl")) {
			continue
		}
		c, st, err := parseConnLine(string(line), network, order)
		if err != nil {
			return fmt.Errorf("procfs: %s line %d: %w", network, n, err)
		}
		switch st {
		case stateEstablished:
			res.Conns = append(res.Conns, c)
		case stateListen:
			res.Listening = append(res.Listening, Socket{Addr: c.Local, Net: network, UID: c.UID, Inode: c.Inode})
		}
	}
	return nil
}

// Owners is what SocketOwners found.
type Owners struct {
	// PIDs maps each socket inode found to the processes holding it,
	// lowest pid first.
	PIDs map[uint64][]int
	// Unreadable counts the processes whose descriptors could not be read
	// (permission denied, without root).
	Unreadable int
	// Warnings are non-fatal problems.
	Warnings []string
}

// SocketOwners finds the processes holding the given socket inodes by
// walking every /<pid>/fd directory of the tree.
func (r *Reader) SocketOwners(ctx context.Context, inodes map[uint64]bool) (*Owners, error) {
	if r.Proc == nil {
		return nil, errors.New("procfs: no proc tree")
	}
	if len(inodes) == 0 {
		return &Owners{PIDs: map[uint64][]int{}}, nil
	}
	pids, unreadable, warns, err := r.socketOwners(ctx, inodes)
	if err != nil {
		return nil, err
	}
	return &Owners{PIDs: pids, Unreadable: unreadable, Warnings: warns}, nil
}

// Process reads what the tree shows of one process (uid, user, exe,
// command line, container); unreadable parts stay empty.
func (r *Reader) Process(pid int) Process { return *r.process(pid) }

// PIDs lists the process ids of the tree, in directory order.
func (r *Reader) PIDs(ctx context.Context) ([]int, error) {
	if r.Proc == nil {
		return nil, errors.New("procfs: no proc tree")
	}
	ents, err := fs.ReadDir(r.Proc, ".")
	if err != nil {
		return nil, fmt.Errorf("procfs: list processes: %w", err)
	}
	var out []int
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid > 0 {
			out = append(out, pid)
		}
	}
	return out, nil
}

// Cmdline reads the argument vector of a process; nil for a kernel thread
// or a process that has exited or cannot be read.
func (r *Reader) Cmdline(pid int) []string {
	if r.Proc == nil {
		return nil
	}
	b, err := fs.ReadFile(r.Proc, strconv.Itoa(pid)+"/cmdline")
	if err != nil {
		return nil
	}
	return splitCmdline(b)
}

// maxProcessFile caps a file read through ProcessFile.
const maxProcessFile = 1 << 20

// ProcessFile reads a file as a process sees it: an absolute name under
// the process's root (/<pid>/root, so a file inside a container is read
// from the container), a relative one under its working directory
// (/<pid>/cwd). Files larger than 1 MiB are an error.
func (r *Reader) ProcessFile(pid int, name string) ([]byte, error) {
	if r.Proc == nil {
		return nil, errors.New("procfs: no proc tree")
	}
	if name == "" {
		return nil, errors.New("procfs: empty file name")
	}
	base := strconv.Itoa(pid) + "/cwd"
	rel := name
	if strings.HasPrefix(name, "/") {
		base, rel = strconv.Itoa(pid)+"/root", strings.TrimLeft(name, "/")
	}
	p := base + "/" + rel
	if !fs.ValidPath(p) {
		return nil, fmt.Errorf("procfs: pid %d: bad file name %q", pid, name)
	}
	f, err := r.Proc.Open(p)
	if err != nil {
		return nil, fmt.Errorf("procfs: pid %d: %w", pid, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxProcessFile+1))
	if err != nil {
		return nil, fmt.Errorf("procfs: pid %d: read %s: %w", pid, name, err)
	}
	if len(b) > maxProcessFile {
		return nil, fmt.Errorf("procfs: pid %d: %s is larger than %d bytes", pid, name, maxProcessFile)
	}
	return b, nil
}
