package risk

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
)

// Assess applies the catalogue to one endpoint record and sets its
// Findings (sorted by severity, highest first, then rule id). It is pure:
// the same record always gives the same findings.
func Assess(ep *result.Endpoint) {
	var fs []finding.Finding
	class := ClassOf(ep.IP)
	if ep.Status == result.StatusMCP && ep.MCP != nil {
		open := ep.Auth == nil || !ep.Auth.Required
		confirmed := ep.MCP.Confidence == "confirmed"
		if open && confirmed {
			fs = append(fs, rules.New(rules.Unauthenticated, unauthSeverity(ep, class), unauthEvidence(ep, class)))
		}
		if ep.Auth != nil && ep.Auth.Required {
			switch ep.Auth.Scheme {
			case result.AuthOAuth:
				if ep.Auth.ResourceMetadata == nil || ep.Auth.MetadataError != "" {
					fs = append(fs, rules.Default(rules.ResourceMetadataBad, metadataEvidence(ep.Auth)))
				}
			case result.AuthBasic, result.AuthBearer, result.AuthOther:
				fs = append(fs, rules.Default(rules.NonOAuthAuth,
					fmt.Sprintf("HTTP %d with scheme %q and no OAuth protected resource metadata", ep.Auth.Status, ep.Auth.Scheme)))
			}
		}
		if strings.HasPrefix(ep.URL, "http://") && class != Loopback {
			sev := finding.Medium
			ev := fmt.Sprintf("%s is plaintext HTTP on a %s address", ep.URL, class)
			if ep.Auth != nil && ep.Auth.Required {
				sev = finding.High
				ev += "; the credentials it demands would cross the network in clear text"
			}
			fs = append(fs, rules.New(rules.PlaintextHTTP, sev, ev))
		}
		if ep.MCP.Transport == result.TransportSSE && confirmed {
			fs = append(fs, rules.Default(rules.LegacySSE, "the server answered the 2024-11-05 HTTP+SSE handshake at "+ep.URL))
		}
		if ep.Listing != nil && ep.Listing.Truncated {
			fs = append(fs, rules.Default(rules.ListingTruncated, strings.Join(ep.Listing.Errors, "; ")))
		}
	}
	if ep.TLS != nil && !ep.TLS.Valid && ep.Status == result.StatusMCP {
		fs = append(fs, rules.Default(rules.TLSCertificateInvalid, ep.TLS.VerifyError))
	}
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].Severity != fs[j].Severity {
			return fs[i].Severity > fs[j].Severity
		}
		return fs[i].Rule < fs[j].Rule
	})
	if fs == nil {
		fs = []finding.Finding{}
	}
	ep.Findings = fs
}

// unauthSeverity scales "reachable without authentication" with the
// address class and with what the server hands out: tools are
// capabilities, resources and prompts mostly information.
func unauthSeverity(ep *result.Endpoint, class Class) finding.Severity {
	exposes := len(ep.Tools) > 0
	switch class {
	case Public, Unknown:
		if exposes {
			return finding.Critical
		}
		return finding.High
	case Private:
		if exposes {
			return finding.High
		}
		return finding.Medium
	default: // loopback
		if exposes {
			return finding.Medium
		}
		return finding.Low
	}
}

func unauthEvidence(ep *result.Endpoint, class Class) string {
	names := make([]string, 0, 5)
	for i, t := range ep.Tools {
		if i == 5 {
			names = append(names, "...")
			break
		}
		names = append(names, t.Name)
	}
	s := fmt.Sprintf("%s on a %s address completed the MCP handshake without credentials and listed %s",
		ep.URL, class, plural(len(ep.Tools), "tool"))
	if len(names) > 0 {
		s += " (" + strings.Join(names, ", ") + ")"
	}
	if n := len(ep.Resources) + len(ep.ResourceTemplates); n > 0 {
		s += ", " + plural(n, "resource")
	}
	if n := len(ep.Prompts); n > 0 {
		s += ", " + plural(n, "prompt")
	}
	return s
}

func metadataEvidence(a *result.AuthInfo) string {
	if a.MetadataError != "" {
		return a.MetadataError
	}
	return "no usable protected resource metadata"
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
