package cli

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/lab"
	"github.com/mcpwarden/mcpwarden/internal/mcptest"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
)

// TestFindFixVerifyOAuth is issue 4's "find, fix, verify" with OAuth: an
// open server is found, put behind `mcpwarden gate --jwt-issuer`, and the
// scan of the gate then reports it OAuth-protected with valid RFC 9728
// metadata (its own URL as the resource, the issuer as the authorization
// server, whose RFC 8414 metadata is fetched because it is on the gate's
// host), a validated Origin, neither MCPW-001 nor MCPW-002; a token minted
// by the issuer for the gate lists the tools.
func TestFindFixVerifyOAuth(t *testing.T) {
	const ip = "127.0.0.94"
	open := startLab(t, lab.KindOpenStreamable, "127.0.0.93")
	code, out, _ := run(t, context.Background(), "", "scan", open.URL)
	if code != ExitFindings || !strings.Contains(out, rules.Unauthenticated) {
		t.Fatalf("find: exit %d, %s", code, out)
	}

	iss, err := mcptest.StartIssuer(ip+":0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	listen := startGateCLI(t, ip, "--upstream", open.URL, "--jwt-issuer", iss.URL)
	gateURL := "http://" + listen + "/mcp"

	code, out, errs := run(t, context.Background(), "", "scan", gateURL)
	eps := decodeLines(t, out)
	if code != ExitOK || len(eps) != 1 {
		t.Fatalf("verify: exit %d, stdout %s, stderr %s", code, out, errs)
	}
	ep := eps[0]
	if ep.Status != result.StatusMCP || ep.Auth == nil || !ep.Auth.Required || len(ep.Tools) != 0 {
		t.Fatalf("verify: the gate is not seen as protected: %s", out)
	}
	a := ep.Auth
	if a.Scheme != "oauth" || a.Status != 401 {
		t.Errorf("auth scheme %q status %d, want oauth 401", a.Scheme, a.Status)
	}
	if want := "http://" + listen + "/.well-known/oauth-protected-resource/mcp"; a.ResourceMetadataURL != want {
		t.Errorf("resource_metadata_url = %q, want %q", a.ResourceMetadataURL, want)
	}
	if a.MetadataError != "" {
		t.Errorf("metadata error: %s", a.MetadataError)
	}
	if m := a.ResourceMetadata; m == nil || m.Resource != gateURL || !slices.Equal(m.AuthorizationServers, []string{iss.URL}) {
		t.Errorf("resource metadata = %+v, want resource %s and authorization_servers [%s]", m, gateURL, iss.URL)
	}
	if len(a.AuthorizationServers) != 1 {
		t.Fatalf("authorization server records = %+v, want one", a.AuthorizationServers)
	}
	as := a.AuthorizationServers[0]
	if as.Issuer != iss.URL || !as.Fetched || !as.Reachable || as.Error != "" ||
		!slices.Contains(as.CodeChallengeMethods, "S256") || as.TokenEndpoint != iss.URL+"/token" {
		t.Errorf("authorization server record = %+v, want %s fetched, reachable, S256, token endpoint", as, iss.URL)
	}
	for _, f := range ep.Findings {
		if f.Rule == rules.Unauthenticated || f.Rule == rules.ResourceMetadataBad {
			t.Errorf("verify: finding %s: %+v", f.Rule, f)
		}
	}
	if ep.Origin == nil || ep.Origin.Validated == nil || !*ep.Origin.Validated {
		t.Errorf("verify: the gate does not validate Origin: %+v", ep.Origin)
	}

	// A token the issuer minted for the gate lists the tools through it;
	// one for another resource does not.
	good, err := iss.Mint(iss.Claims("owner", gateURL))
	if err != nil {
		t.Fatal(err)
	}
	code, out, _ = run(t, context.Background(), "", "scan", gateURL, "-H", "Authorization: Bearer "+good)
	eps = decodeLines(t, out)
	if code != ExitOK || len(eps) != 1 || eps[0].Auth == nil || !eps[0].Auth.WithCredentials {
		t.Fatalf("with the token: exit %d, %s", code, out)
	}
	var names []string
	for _, tl := range eps[0].Tools {
		names = append(names, tl.Name)
	}
	want := lab.ToolNames(lab.KindOpenStreamable)
	slices.Sort(names)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(names, want) {
		t.Errorf("tools with the token = %v, want %v", names, want)
	}
	if strings.Contains(out, good) {
		t.Fatal("the token appears in the scan output")
	}
	other, err := iss.Mint(iss.Claims("owner", open.URL))
	if err != nil {
		t.Fatal(err)
	}
	_, out, _ = run(t, context.Background(), "", "scan", gateURL, "-H", "Authorization: Bearer "+other)
	if eps = decodeLines(t, out); len(eps) != 1 || len(eps[0].Tools) != 0 {
		t.Errorf("a token for the upstream itself got through the gate: %s", out)
	}
}
