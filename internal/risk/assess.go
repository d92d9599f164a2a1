package risk

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
)

// Assess applies the catalogue to one endpoint record: it tags tools and
// resources with risk categories (Classify) and sets Findings, sorted by
// severity, highest first, then rule id. It is pure: the same record always
// gives the same findings (time-dependent checks use ScannedAt), so a saved
// scan can be judged again offline.
func Assess(ep *result.Endpoint) {
	Classify(ep)
	var fs []finding.Finding
	class := ClassOf(ep.IP)
	if ep.Status == result.StatusMCP && ep.MCP != nil {
		open := isOpen(ep)
		confirmed := ep.MCP.Confidence == "confirmed"
		if open {
			fs = append(fs, rules.New(rules.Unauthenticated, unauthSeverity(ep, class), unauthEvidence(ep, class)))
			if sens := sensitiveResources(ep); len(sens) > 0 {
				fs = append(fs, rules.Default(rules.SensitiveResources, "listed without credentials: "+strings.Join(sens, ", ")))
			}
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
		fs = append(fs, webFindings(ep, class)...)
		fs = append(fs, oauthFindings(ep)...)
	}
	fs = append(fs, tlsFindings(ep)...)
	fs = append(fs, inspectorFindings(ep, class)...)
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

// topTier is the highest tier of the endpoint's risk categories, and
// whether there is any category.
func topTier(ep *result.Endpoint) (finding.Severity, bool) {
	if ep.Risk == nil || len(ep.Risk.Categories) == 0 {
		return finding.Info, false
	}
	top := finding.Info
	for _, c := range ep.Risk.Categories {
		if t := Tier(c); t > top {
			top = t
		}
	}
	return top, true
}

// unauthSeverity scales "reachable without authentication" with what the
// server hands out (the highest tier of its risk categories: command
// execution and writes are critical-tier, reads and fetches high-tier) and
// with the address class (public > private > loopback):
//
//	             critical-tier   high-tier   other tools/resources   nothing listed
//	public       critical        critical    high                    medium
//	private      critical        high        medium                  low
//	loopback     high            medium      low                     low
func unauthSeverity(ep *result.Endpoint, class Class) finding.Severity {
	top, risky := topTier(ep)
	exposes := len(ep.Tools)+len(ep.Resources)+len(ep.ResourceTemplates)+len(ep.Prompts) > 0
	row := map[Class][4]finding.Severity{
		Public:   {finding.Critical, finding.Critical, finding.High, finding.Medium},
		Unknown:  {finding.Critical, finding.Critical, finding.High, finding.Medium},
		Private:  {finding.Critical, finding.High, finding.Medium, finding.Low},
		Loopback: {finding.High, finding.Medium, finding.Low, finding.Low},
	}[class]
	switch {
	case risky && top >= finding.Critical:
		return row[0]
	case risky:
		return row[1]
	case exposes:
		return row[2]
	}
	return row[3]
}

// sensitiveResources lists resources tagged with a secrets or file-read
// category.
func sensitiveResources(ep *result.Endpoint) []string {
	var out []string
	for _, r := range ep.Resources {
		for _, c := range r.Risk {
			if c == "secrets" || c == "file-read" {
				out = append(out, r.URI)
				break
			}
		}
		if len(out) == 5 {
			out = append(out, "...")
			break
		}
	}
	return out
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
	if ep.Risk != nil && len(ep.Risk.Categories) > 0 {
		s += "; what they let a caller do: " + strings.Join(ep.Risk.Categories, ", ")
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
