package procfs

import (
	"context"
	"encoding/binary"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// denyFS answers permission denied for the listed paths and everything
// under them, as procfs does for another user's fd directory without root.
type denyFS struct {
	fs.FS
	deny []string
}

func (d denyFS) denied(name string) bool {
	for _, p := range d.deny {
		if name == p || strings.HasPrefix(name, p+"/") {
			return true
		}
	}
	return false
}

func (d denyFS) Open(name string) (fs.File, error) {
	if d.denied(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	return d.FS.Open(name)
}

func (d denyFS) ReadLink(name string) (string, error) {
	if d.denied(name) {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrPermission}
	}
	return fs.ReadLink(d.FS, name)
}

func (d denyFS) Lstat(name string) (fs.FileInfo, error) {
	if d.denied(name) {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: fs.ErrPermission}
	}
	return fs.Lstat(d.FS, name)
}

// TreeReader returns a Reader of testdata/<name>, denying the given paths.
func treeReader(t *testing.T, name string, deny ...string) *Reader {
	t.Helper()
	dir := filepath.Join("testdata", name)
	b, err := os.ReadFile(filepath.Join(dir, "etc", "passwd"))
	if err != nil {
		t.Fatal(err)
	}
	var proc fs.FS = os.DirFS(filepath.Join(dir, "proc"))
	if len(deny) > 0 {
		proc = denyFS{proc, deny}
	}
	return &Reader{Proc: proc, Users: ParsePasswd(b), Order: binary.LittleEndian}
}

type wantListener struct {
	addr      string
	pids      []int
	user      string
	cmd       string
	exe       string
	container string
	note      string
}

func TestListenersOnTrees(t *testing.T) {
	tests := []struct {
		tree       string
		deny       []string
		want       []wantListener
		unreadable int
	}{
		{
			tree: "normal",
			want: []wantListener{
				{addr: "0.0.0.0:22", pids: []int{1}, user: "root", cmd: "/usr/sbin/sshd -D", exe: "/usr/sbin/sshd"},
				{addr: "127.0.0.1:3001", pids: []int{200}, user: "dev", cmd: "node /home/dev/.npm/_npx/1a2b/node_modules/.bin/mcp-inspector", exe: "/usr/bin/node"},
				{addr: "[::1]:6274", pids: []int{200}, user: "dev", exe: "/usr/bin/node"},
				{addr: "127.0.0.1:8080", pids: []int{100}, user: "dev", cmd: "python3 -m mcp_server_time --transport streamable-http", exe: "/usr/bin/python3.12"},
			},
		},
		{
			tree: "wildcard-node",
			want: []wantListener{
				{addr: "[::]:3000", pids: []int{4242}, user: "dev", cmd: "node /home/dev/.npm/_npx/9f/node_modules/.bin/mcp-server-everything streamableHttp"},
				{addr: "0.0.0.0:8000", pids: []int{4343, 4344}, user: "dev", cmd: "/home/dev/proj/.venv/bin/python /home/dev/proj/.venv/bin/fastmcp run server.py --transport http --host 0.0.0.0"},
			},
		},
		{
			tree: "docker",
			want: []wantListener{
				{addr: "0.0.0.0:8080", pids: []int{950}, user: "root", cmd: "python -m mcp_server_fetch", container: "docker:4f1e2d3c4b5a"},
				{addr: "0.0.0.0:8811", pids: []int{900}, user: "root", exe: "/usr/bin/docker-proxy"},
			},
		},
		{
			tree: "unreadable", deny: []string{"10/fd", "10/exe"}, unreadable: 1,
			want: []wantListener{
				{addr: "0.0.0.0:5000", note: NoteNeedsRoot},
				{addr: "127.0.0.1:8080", pids: []int{20}, user: "dev", cmd: "node server.js", exe: "/usr/bin/node"},
				{addr: "0.0.0.0:9090", note: NoteNeedsRoot},
			},
		},
		{
			tree: "unreadable", // as root: everything readable, and 9090's owner is elsewhere
			want: []wantListener{
				{addr: "0.0.0.0:5000", pids: []int{10}, user: "root", cmd: "/usr/sbin/secretd --listen 0.0.0.0:5000", exe: "/usr/sbin/secretd"},
				{addr: "127.0.0.1:8080", pids: []int{20}},
				{addr: "0.0.0.0:9090", note: NoteNotFound},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.tree+"/"+strings.Join(tt.deny, ","), func(t *testing.T) {
			res, err := treeReader(t, tt.tree, tt.deny...).Listeners(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if res.Unreadable != tt.unreadable {
				t.Errorf("Unreadable = %d, want %d", res.Unreadable, tt.unreadable)
			}
			if len(res.Listeners) != len(tt.want) {
				t.Fatalf("got %d listeners %+v, want %d", len(res.Listeners), res.Listeners, len(tt.want))
			}
			for i, w := range tt.want {
				l := res.Listeners[i]
				if l.String() != w.addr {
					t.Errorf("listener %d at %s, want %s", i, l, w.addr)
				}
				var pids []int
				for _, o := range l.Owners {
					pids = append(pids, o.PID)
				}
				if !slices.Equal(pids, w.pids) {
					t.Errorf("%s: owners %v, want %v", w.addr, pids, w.pids)
				}
				if l.OwnerNote != w.note {
					t.Errorf("%s: note %q, want %q", w.addr, l.OwnerNote, w.note)
				}
				o := l.Owner()
				if o == nil {
					continue
				}
				for _, c := range []struct{ name, got, want string }{
					{"user", o.User, w.user}, {"command", o.Command(), w.cmd}, {"exe", o.Exe, w.exe}, {"container", o.Container, w.container},
				} {
					if c.want != "" && c.got != c.want {
						t.Errorf("%s: %s = %q, want %q", w.addr, c.name, c.got, c.want)
					}
				}
			}
		})
	}
}

func TestListenersErrors(t *testing.T) {
	if _, err := (&Reader{}).Listeners(context.Background()); err == nil {
		t.Error("no error without a tree")
	}
	empty := t.TempDir()
	_, err := (&Reader{Proc: os.DirFS(empty)}).Listeners(context.Background())
	if err == nil || !strings.Contains(err.Error(), "net/tcp") {
		t.Errorf("err = %v, want one naming net/tcp", err)
	}
	// One table missing is a warning.
	if err := os.MkdirAll(filepath.Join(empty, "net"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(empty, "net", "tcp"), []byte(hdr), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := (&Reader{Proc: os.DirFS(empty)}).Listeners(context.Background())
	if err != nil || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "net/tcp6") {
		t.Errorf("res = %+v, err = %v", res, err)
	}
	// A malformed table is an error naming it.
	if err := os.WriteFile(filepath.Join(empty, "net", "tcp6"), []byte("garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (&Reader{Proc: os.DirFS(empty)}).Listeners(context.Background()); err == nil || !strings.Contains(err.Error(), "tcp6 line 1") {
		t.Errorf("err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := treeReader(t, "normal").Listeners(ctx); err == nil {
		t.Error("no error with a cancelled context")
	}
}

func TestContainerFromCgroup(t *testing.T) {
	id := "4f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeef0f"
	tests := []struct{ in, want string }{
		{"0::/system.slice/docker-" + id + ".scope\n", "docker:4f1e2d3c4b5a"},
		{"12:memory:/docker/" + id + "\n1:name=systemd:/docker/" + id, "docker:4f1e2d3c4b5a"},
		{"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-" + id + ".scope", "containerd:4f1e2d3c4b5a"},
		{"11:cpu:/kubepods/burstable/pod1234/" + id, "kubepods:4f1e2d3c4b5a"},
		{"0::/machine.slice/libpod-" + id + ".scope/container", "podman:4f1e2d3c4b5a"},
		{"0::/kubepods.slice/crio-" + id + ".scope", "cri-o:4f1e2d3c4b5a"},
		{"0::/user.slice/user-1000.slice/session-2.scope", ""},
		{"0::/", ""},
		{"garbage", ""},
		{"0::/docker-" + id[:10] + ".scope", ""},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := ContainerFromCgroup(tt.in); got != tt.want {
				t.Errorf("ContainerFromCgroup(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParsePasswdAndStatus(t *testing.T) {
	m := ParsePasswd([]byte("root:x:0:0::/root:/bin/sh\nbad\nx:y:notnum\ndev:x:1000:1000::/home/dev:/bin/sh\ndup:x:1000:1000::/:/bin/sh\n"))
	if len(m) != 2 || m[0] != "root" || m[1000] != "dev" {
		t.Errorf("ParsePasswd = %v", m)
	}
	for in, want := range map[string]int{"Name:\tx\nUid:\t1000\t1000\t1000\t1000\n": 1000, "Uid:\n": -1, "Uid:\tx\n": -1, "": -1} {
		if got := statusUID([]byte(in)); got != want {
			t.Errorf("statusUID(%q) = %d, want %d", in, got, want)
		}
	}
	if got := splitCmdline([]byte("a\x00b c\x00\x00")); !slices.Equal(got, []string{"a", "b c"}) {
		t.Errorf("splitCmdline = %q", got)
	}
	if (&Process{Exe: "/bin/x"}).Command() != "[/bin/x]" || (*Process)(nil).Command() != "" {
		t.Error("Command fallback")
	}
}
