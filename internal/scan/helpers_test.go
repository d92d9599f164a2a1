package scan_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mcpwarden/mcpwarden/internal/probe"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/scan"
	"github.com/mcpwarden/mcpwarden/internal/target"
)

// Every server these tests start listens on a loopback address of its own
// (127.0.0.150 .. 127.0.0.249, port 0); the scanner only ever connects to
// those.

// sliceSource is a scan.Source over a fixed list of services.
type sliceSource []target.Service

func (s sliceSource) Each(ctx context.Context, fn func(target.Service) error) error {
	for _, svc := range s {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(svc); err != nil {
			return err
		}
	}
	return nil
}

var _ scan.Source = sliceSource(nil)

var ipCounter atomic.Int32

// nextIP returns a loopback address for one more test server.
func nextIP() string {
	return fmt.Sprintf("127.0.0.%d", 150+int(ipCounter.Add(1)-1)%100)
}

// hostPort splits a listener address into the service fields.
func hostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return h, port
}

// service is the target.Service of a listener address (no scheme, default
// paths), as `mcpwarden scan host:port` makes it.
func service(t *testing.T, addr string) target.Service {
	h, p := hostPort(t, addr)
	return target.Service{Host: h, Port: p, Source: "test"}
}

// scanAll runs scan.Run over svcs under a generous deadline and returns the
// records in emit order. The scan must complete (not be interrupted), and
// every record must hold valid UTF-8 only.
func scanAll(t *testing.T, opts scan.Options, svcs ...target.Service) ([]*result.Endpoint, *result.Summary) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var eps []*result.Endpoint
	sum, err := scan.Run(ctx, sliceSource(svcs), opts, func(ep *result.Endpoint) error {
		eps = append(eps, ep)
		return nil
	})
	if err != nil {
		t.Fatalf("scan.Run: %v", err)
	}
	if sum.Interrupted || sum.Targets != int64(len(svcs)) {
		t.Fatalf("summary %+v: want %d targets, not interrupted", sum, len(svcs))
	}
	for _, ep := range eps {
		if ep.Schema != result.Schema {
			t.Errorf("%s: schema %q, want %q", ep.URL, ep.Schema, result.Schema)
		}
		if ep.Findings == nil {
			t.Errorf("%s: findings is nil; risk.Assess sets [] at least", ep.URL)
		}
		if ep.ScannedAt.IsZero() || ep.ElapsedMS < 0 {
			t.Errorf("%s: scanned_at %v, elapsed %d", ep.URL, ep.ScannedAt, ep.ElapsedMS)
		}
		checkUTF8(t, reflect.ValueOf(ep), "endpoint")
	}
	return eps, sum
}

// checkUTF8 fails the test for any string or json.RawMessage in v that is
// not valid UTF-8. It looks at the record before encoding: encoding/json
// would replace bad bytes silently.
func checkUTF8(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			checkUTF8(t, v.Elem(), path)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				checkUTF8(t, v.Field(i), path+"."+v.Type().Field(i).Name)
			}
		}
	case reflect.Slice:
		if v.Type() == reflect.TypeFor[json.RawMessage]() {
			if b := v.Bytes(); !utf8.Valid(b) {
				t.Errorf("%s holds invalid UTF-8: %q", path, b)
			}
			return
		}
		for i := range v.Len() {
			checkUTF8(t, v.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			checkUTF8(t, it.Key(), path+"{key}")
			checkUTF8(t, it.Value(), path+"["+fmt.Sprint(it.Key())+"]")
		}
	case reflect.String:
		if s := v.String(); !utf8.ValidString(s) {
			t.Errorf("%s holds invalid UTF-8: %q", path, s)
		}
	}
}

// view is what the interop tests compare exactly: the fields a JSONL
// consumer reads, with the lists reduced to their identifying names.
type view struct {
	URL        string
	Status     result.Status
	Error      string
	HTTPStatus int

	Transport  string
	Protocol   string
	Supported  []string
	Session    bool
	Server     result.ServerInfo
	Confidence string
	Aliases    []string

	AuthRequired  bool
	AuthScheme    string
	AuthStatus    int
	WithCreds     bool
	MetadataURL   string
	MetadataError string
	AuthServers   []result.AuthServer

	// Origin and Host sum up the origin and host_header checks (see
	// checkView), "" when the record has none.
	Origin string
	Host   string

	Tools     []string // sorted
	Resources []string // URIs, in listing order
	Templates []string // URI templates
	Prompts   []string

	Listed     bool // a listing was attempted
	Truncated  bool
	ListErrors []string

	Findings []string // "rule/severity", in record order
}

func viewOf(ep *result.Endpoint) view {
	v := view{URL: ep.URL, Status: ep.Status, Error: ep.Error}
	if ep.HTTP != nil {
		v.HTTPStatus = ep.HTTP.Status
	}
	if m := ep.MCP; m != nil {
		v.Transport, v.Protocol, v.Supported, v.Session = m.Transport, m.ProtocolVersion, m.SupportedVersions, m.Session
		v.Server, v.Confidence, v.Aliases = m.Server, m.Confidence, m.Aliases
	}
	if a := ep.Auth; a != nil {
		v.AuthRequired, v.AuthScheme, v.AuthStatus, v.WithCreds = a.Required, a.Scheme, a.Status, a.WithCredentials
		v.MetadataURL, v.MetadataError, v.AuthServers = a.ResourceMetadataURL, a.MetadataError, a.AuthorizationServers
	}
	if o := ep.Origin; o != nil {
		v.Origin = checkSummary(o.Validated, o.Status, o.TestedWith, probe.ForeignOrigin)
		if o.AllowOrigin != "" {
			v.Origin += " allow_origin=" + o.AllowOrigin
		}
		if o.AllowCredentials {
			v.Origin += " allow_credentials"
		}
	}
	if h := ep.HostHeader; h != nil {
		v.Host = checkSummary(h.Validated, h.Status, h.TestedWith, probe.ForeignHost)
	}
	for _, x := range ep.Tools {
		v.Tools = append(v.Tools, x.Name)
	}
	slices.Sort(v.Tools)
	for _, x := range ep.Resources {
		v.Resources = append(v.Resources, x.URI)
	}
	for _, x := range ep.ResourceTemplates {
		v.Templates = append(v.Templates, x.URITemplate)
	}
	for _, x := range ep.Prompts {
		v.Prompts = append(v.Prompts, x.Name)
	}
	if l := ep.Listing; l != nil {
		v.Listed, v.Truncated, v.ListErrors = true, l.Truncated, l.Errors
	}
	v.Findings = []string{} // scanAll checks that the record's is never nil
	for _, f := range ep.Findings {
		v.Findings = append(v.Findings, f.Rule+"/"+f.Severity.String())
	}
	return v
}

// checkSummary is "validated=true|false|null status=N", with the value
// tested when it is not the expected one.
func checkSummary(validated *bool, status int, tested, want string) string {
	s := "validated=null"
	if validated != nil {
		s = fmt.Sprintf("validated=%v", *validated)
	}
	s += fmt.Sprintf(" status=%d", status)
	if tested != want {
		s += " tested_with=" + tested
	}
	return s
}

// diffView reports the fields where got and want differ, one per line.
func diffView(got, want view) string {
	var out string
	g, w := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range g.NumField() {
		if !reflect.DeepEqual(g.Field(i).Interface(), w.Field(i).Interface()) {
			out += fmt.Sprintf("\n  %s: got %#v\n  %*s  want %#v", g.Type().Field(i).Name, g.Field(i).Interface(), len(g.Type().Field(i).Name), "", w.Field(i).Interface())
		}
	}
	return out
}

// checkView compares one record with the expected view.
func checkView(t *testing.T, ep *result.Endpoint, want view) {
	t.Helper()
	if d := diffView(viewOf(ep), want); d != "" {
		b, _ := json.MarshalIndent(ep, "", "  ")
		t.Errorf("record %s differs:%s\nrecord: %s", ep.URL, d, b)
	}
}

// checkAddress checks the host, ip and port fields of a record.
func checkAddress(t *testing.T, ep *result.Endpoint, host string, port int) {
	t.Helper()
	if ep.Host != host || ep.IP != host || ep.Port != port {
		t.Errorf("%s: host %q ip %q port %d, want %q %q %d", ep.URL, ep.Host, ep.IP, ep.Port, host, host, port)
	}
}

// jsonMap encodes v as the JSONL writer does and decodes it generically,
// so that tests see the field names of the schema.
func jsonMap(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	if !utf8.Valid(b) {
		t.Fatalf("the encoded record is not UTF-8: %q", b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	return m
}

// keys returns the sorted keys of a JSON object.
func keys(t *testing.T, v any) []string {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%#v is not a JSON object", v)
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// obj returns the object member of m at the given key.
func obj(t *testing.T, m map[string]any, key string) map[string]any {
	t.Helper()
	o, ok := m[key].(map[string]any)
	if !ok {
		t.Fatalf("member %q is %#v, not an object", key, m[key])
	}
	return o
}

func sorted(s ...string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
