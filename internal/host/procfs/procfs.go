// Package procfs enumerates the listening TCP sockets of a Linux machine
// and the processes that own them, from a proc tree: /proc/net/tcp and
// /proc/net/tcp6 (LISTEN state), /proc/<pid>/fd links to socket inodes, and
// each owner's status (uid), exe, cmdline and cgroup (container id).
//
// The tree is an fs.FS (os.DirFS("/proc") on a live system, see System), so
// that tests run on captured trees. Sockets whose owner cannot be seen (the
// processes of other users, without root) are returned with an
// OwnerNote that says so; they are never dropped.
package procfs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Owner notes, in Listener.OwnerNote.
const (
	// NoteNeedsRoot: some processes' descriptors could not be read, so the
	// owner may be one of them.
	NoteNeedsRoot = "owner not visible without root"
	// NoteNotFound: every descriptor was readable and none is the socket:
	// the owner is in another PID namespace (a container) or has exited.
	NoteNotFound = "owner not found: the process is in another PID namespace (a container) or has exited"
)

// Process is what the proc tree shows of one process.
type Process struct {
	PID int
	// UID is the real user id; User its name from the passwd file, or the
	// number when it has none.
	UID  int
	User string
	// Exe is the executable path; empty when not readable (another user's
	// process, without root).
	Exe string
	// Cmdline is the argument vector; nil when not readable or a kernel
	// thread.
	Cmdline []string
	// Container is "<runtime>:<id12>" (docker, containerd, cri-o, podman,
	// kubepods) when the cgroup path shows one; empty otherwise.
	Container string
}

// Command is the command line joined with spaces, or "[exe]" when only
// the executable is known, or "".
func (p *Process) Command() string {
	if p == nil {
		return ""
	}
	if len(p.Cmdline) > 0 {
		return strings.Join(p.Cmdline, " ")
	}
	if p.Exe != "" {
		return "[" + p.Exe + "]"
	}
	return ""
}

// Listener is one listening socket and its owners.
type Listener struct {
	Socket
	// Owners are the processes holding the socket (several after a fork:
	// pre-forked workers), lowest pid first. Empty when not visible.
	Owners []Process
	// OwnerNote says why Owners is empty (NoteNeedsRoot, NoteNotFound).
	OwnerNote string
}

// Owner returns the lowest-pid owner, or nil.
func (l *Listener) Owner() *Process {
	if len(l.Owners) == 0 {
		return nil
	}
	return &l.Owners[0]
}

// Reader reads one proc tree.
type Reader struct {
	// Proc is the proc root (the directory holding net/ and the <pid>/
	// directories). It must implement fs.ReadLinkFS (os.DirFS does).
	Proc fs.FS
	// Users maps uids to names; nil or a missing uid gives the number.
	Users map[int]string
	// Order is the byte order of the machine that wrote the tree; nil
	// means binary.NativeEndian.
	Order binary.ByteOrder
}

// Result is what Listeners found.
type Result struct {
	Listeners []Listener
	// Unreadable counts the processes whose descriptors could not be read
	// (permission denied): their sockets are the ones marked NoteNeedsRoot.
	Unreadable int
	// Warnings are non-fatal problems (one table missing, a process whose
	// files could not be parsed).
	Warnings []string
}

// Listeners lists the listening TCP sockets of the tree, IPv4 and IPv6,
// sorted by port then address, with their owners. It fails only when
// neither net/tcp nor net/tcp6 can be read.
func (r *Reader) Listeners(ctx context.Context) (*Result, error) {
	if r.Proc == nil {
		return nil, errors.New("procfs: no proc tree")
	}
	order := r.Order
	if order == nil {
		order = binary.NativeEndian
	}
	res := &Result{}
	var socks []Socket
	var readErrs []error
	for _, t := range []struct{ file, network string }{{"net/tcp", "tcp"}, {"net/tcp6", "tcp6"}} {
		b, err := fs.ReadFile(r.Proc, t.file)
		if err != nil {
			readErrs = append(readErrs, fmt.Errorf("procfs: read %s: %w", t.file, err))
			continue
		}
		s, err := ParseNetTCP(bytes.NewReader(b), t.network, order)
		if err != nil {
			return nil, err
		}
		socks = append(socks, s...)
	}
	if len(readErrs) == 2 {
		return nil, errors.Join(readErrs...)
	}
	for _, e := range readErrs {
		res.Warnings = append(res.Warnings, e.Error())
	}
	if len(socks) == 0 {
		return res, nil
	}
	want := make(map[uint64]bool, len(socks))
	for _, s := range socks {
		want[s.Inode] = true
	}
	owners, unreadable, warns, err := r.socketOwners(ctx, want)
	if err != nil {
		return nil, err
	}
	res.Unreadable = unreadable
	res.Warnings = append(res.Warnings, warns...)
	procs := map[int]*Process{}
	for _, s := range socks {
		l := Listener{Socket: s}
		for _, pid := range owners[s.Inode] {
			p, ok := procs[pid]
			if !ok {
				p = r.process(pid)
				procs[pid] = p
			}
			l.Owners = append(l.Owners, *p)
		}
		if len(l.Owners) == 0 {
			l.OwnerNote = NoteNotFound
			if unreadable > 0 {
				l.OwnerNote = NoteNeedsRoot
			}
		}
		res.Listeners = append(res.Listeners, l)
	}
	slices.SortFunc(res.Listeners, func(a, b Listener) int {
		if c := int(a.Addr.Port()) - int(b.Addr.Port()); c != 0 {
			return c
		}
		return a.Addr.Addr().Compare(b.Addr.Addr())
	})
	return res, nil
}

// socketOwners walks /<pid>/fd/* and returns, for each wanted inode, the
// pids holding it (sorted), and how many processes' fds were unreadable.
func (r *Reader) socketOwners(ctx context.Context, want map[uint64]bool) (map[uint64][]int, int, []string, error) {
	ents, err := fs.ReadDir(r.Proc, ".")
	if err != nil {
		return nil, 0, nil, fmt.Errorf("procfs: list processes: %w", err)
	}
	owners := map[uint64][]int{}
	unreadable := 0
	var warns []string
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return nil, 0, nil, err
		}
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		dir := path.Join(e.Name(), "fd")
		fds, err := fs.ReadDir(r.Proc, dir)
		if err != nil {
			switch {
			case errors.Is(err, fs.ErrPermission):
				unreadable++
			case errors.Is(err, fs.ErrNotExist):
				// exited while we looked, or a kernel thread
			default:
				warns = append(warns, fmt.Sprintf("procfs: pid %d: %v", pid, err))
			}
			continue
		}
		for _, fd := range fds {
			target, err := fs.ReadLink(r.Proc, path.Join(dir, fd.Name()))
			if err != nil {
				continue // closed while we looked
			}
			ino, ok := socketInode(target)
			if ok && want[ino] && !slices.Contains(owners[ino], pid) {
				owners[ino] = append(owners[ino], pid)
			}
		}
	}
	for _, pids := range owners {
		slices.Sort(pids)
	}
	return owners, unreadable, warns, nil
}

// socketInode reads "socket:[12345]".
func socketInode(link string) (uint64, bool) {
	s, ok := strings.CutPrefix(link, "socket:[")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, "]")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// process reads what it can of one process; unreadable parts stay empty.
func (r *Reader) process(pid int) *Process {
	dir := strconv.Itoa(pid)
	p := &Process{PID: pid, UID: -1}
	if b, err := fs.ReadFile(r.Proc, dir+"/status"); err == nil {
		p.UID = statusUID(b)
	}
	if p.UID >= 0 {
		p.User = r.Users[p.UID]
		if p.User == "" {
			p.User = strconv.Itoa(p.UID)
		}
	}
	if exe, err := fs.ReadLink(r.Proc, dir+"/exe"); err == nil {
		p.Exe = strings.TrimSuffix(exe, " (deleted)")
	}
	if b, err := fs.ReadFile(r.Proc, dir+"/cmdline"); err == nil {
		p.Cmdline = splitCmdline(b)
	}
	if b, err := fs.ReadFile(r.Proc, dir+"/cgroup"); err == nil {
		p.Container = ContainerFromCgroup(string(b))
	}
	return p
}

// statusUID reads the real uid from a /proc/<pid>/status file, -1 if none.
func statusUID(b []byte) int {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "Uid:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return -1
		}
		n, err := strconv.Atoi(f[0])
		if err != nil || n < 0 {
			return -1
		}
		return n
	}
	return -1
}

// maxArgs caps the arguments kept of one command line.
const maxArgs = 256

func splitCmdline(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	parts := strings.Split(string(b), "\x00")
	if len(parts) > maxArgs {
		parts = append(parts[:maxArgs], "...")
	}
	return parts
}

// ContainerFromCgroup finds a container id in the contents of a
// /proc/<pid>/cgroup file (v1 or v2) and returns "<runtime>:<first 12 hex
// digits>", or "" when the process is not in a recognisable container.
func ContainerFromCgroup(cgroup string) string {
	for _, line := range strings.Split(cgroup, "\n") {
		// hierarchy-ID:controllers:path
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 {
			continue
		}
		segs := strings.Split(parts[2], "/")
		for i := len(segs) - 1; i >= 0; i-- {
			if c := containerSegment(segs[i], segs[:i]); c != "" {
				return c
			}
		}
	}
	return ""
}

var runtimePrefixes = []struct{ prefix, runtime string }{
	{"docker-", "docker"},
	{"cri-containerd-", "containerd"},
	{"crio-", "cri-o"},
	{"libpod-", "podman"},
}

func containerSegment(seg string, parents []string) string {
	s := strings.TrimSuffix(seg, ".scope")
	for _, rp := range runtimePrefixes {
		if id, ok := strings.CutPrefix(s, rp.prefix); ok && isContainerID(id) {
			return rp.runtime + ":" + id[:12]
		}
	}
	if isContainerID(s) {
		runtime := "container"
		for _, p := range parents {
			switch {
			case p == "docker":
				runtime = "docker"
			case strings.HasPrefix(p, "kubepods"):
				runtime = "kubepods"
			case p == "lxc" || p == "lxc.payload":
				runtime = "lxc"
			}
		}
		return runtime + ":" + s[:12]
	}
	return ""
}

func isContainerID(s string) bool {
	return len(s) == 64 && isHex(s)
}

// ParsePasswd reads a passwd file (name:x:uid:...) into a uid -> name map;
// malformed lines are skipped.
func ParsePasswd(b []byte) map[int]string {
	m := map[int]string{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 3 || f[0] == "" || strings.HasPrefix(f[0], "#") {
			continue
		}
		uid, err := strconv.Atoi(f[2])
		if err != nil || uid < 0 {
			continue
		}
		if _, dup := m[uid]; !dup {
			m[uid] = f[0]
		}
	}
	return m
}

// IsWildcard reports whether the listener's address is 0.0.0.0 or ::.
func (s Socket) IsWildcard() bool { return s.Addr.Addr().IsUnspecified() }

// IsLoopback reports whether the listener is bound to a loopback address.
func (s Socket) IsLoopback() bool { return s.Addr.Addr().IsLoopback() }

// String is "address:port" ("[::]:8080" for IPv6).
func (s Socket) String() string { return s.Addr.String() }
