package report

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
)

// SARIF constants. docs/reports.md explains each choice.
const (
	sarifSchemaURI = "https://json.schemastore.org/sarif-2.1.0.json"
	sarifVersion   = "2.1.0"
	sarifToolName  = "mcpwarden"
	// sarifInfoURI is the project's home; rules link into docs/rules.md.
	sarifInfoURI  = "https://github.com/mcpwarden/mcpwarden"
	sarifRulesDoc = sarifInfoURI + "/blob/main/" + rules.DocPath
	// FingerprintKey is the partialFingerprints member that holds
	// mcpwarden's own stable identity of a result (see fingerprint).
	FingerprintKey = "mcpwarden/endpoint/v1"
	// lineHashKey is the partialFingerprints member GitHub code scanning
	// matches alerts by; it gets a prefix of the same fingerprint.
	lineHashKey = "primaryLocationLineHash"
	// logicalKind is the logicalLocation kind of an endpoint. SARIF lists
	// well-known kinds, none of which is a network endpoint, and allows
	// others.
	logicalKind = "endpoint"
)

// Caps, in runes, of the server-controlled text a SARIF result carries.
const (
	sarifCapRule     = 64
	sarifCapTitle    = 200
	sarifCapName     = 200
	sarifCapEvidence = 600
)

// SecuritySeverity is the SARIF "security-severity" score (0.0 to 10.0,
// as a string) mcpwarden gives a severity. GitHub code scanning maps a
// score above 9.0 to critical, 7.0-8.9 to high, 4.0-6.9 to medium, 0.1-3.9
// to low, and reads 0.0 as no security severity: each value sits inside
// its band, and info stays out of the security severities.
func SecuritySeverity(s finding.Severity) string {
	switch clampSeverity(s) {
	case finding.Critical:
		return "9.5"
	case finding.High:
		return "8.0"
	case finding.Medium:
		return "5.5"
	case finding.Low:
		return "3.0"
	}
	return "0.0"
}

// sarifLevel is the SARIF level of a severity: error for critical and
// high, warning for medium, note for low and info.
func sarifLevel(s finding.Severity) string {
	switch clampSeverity(s) {
	case finding.Critical, finding.High:
		return "error"
	case finding.Medium:
		return "warning"
	}
	return "note"
}

// problemSeverity is GitHub's "problem.severity" of a severity.
func problemSeverity(s finding.Severity) string {
	switch clampSeverity(s) {
	case finding.Critical, finding.High:
		return "error"
	case finding.Medium:
		return "warning"
	}
	return "recommendation"
}

func clampSeverity(s finding.Severity) finding.Severity {
	return min(max(s, finding.Info), finding.Critical)
}

// rulePrecision is GitHub's "precision" of a rule: how often a result is a
// true positive. Rules that read a fact straight off the wire (a
// certificate, a scheme, a header) are very-high; rules that judge by names
// are medium; the rest, which rest on a handshake that succeeded or failed,
// are high.
func rulePrecision(id string) string {
	switch id {
	case rules.PlaintextHTTP, rules.LegacySSE, rules.ListingTruncated, rules.TLSCertificateInvalid,
		rules.TLSExpired, rules.TLSNotYetValid, rules.TLSSelfSigned, rules.TLSNameMismatch,
		rules.TLSWeakVersion, rules.CORSWildcard, rules.TokenEndpointPlain:
		return "very-high"
	case rules.SensitiveResources:
		return "medium"
	}
	return "high"
}

// The SARIF 2.1.0 objects mcpwarden writes, in the subset GitHub code
// scanning reads (docs/reports.md).
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool        sarifTool           `json:"tool"`
		Invocations []sarifInvocation   `json:"invocations,omitempty"`
		Results     []sarifResult       `json:"results"`
		Properties  *sarifRunProperties `json:"properties,omitempty"`
	}
	sarifRunProperties struct {
		Summary *result.Summary `json:"summary"`
	}
	sarifInvocation struct {
		ExecutionSuccessful bool `json:"executionSuccessful"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name            string      `json:"name"`
		Version         string      `json:"version"`
		SemanticVersion string      `json:"semanticVersion,omitempty"`
		InformationURI  string      `json:"informationUri"`
		Rules           []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID                   string             `json:"id"`
		Name                 string             `json:"name"`
		ShortDescription     sarifText          `json:"shortDescription"`
		FullDescription      sarifText          `json:"fullDescription"`
		HelpURI              string             `json:"helpUri,omitempty"`
		Help                 sarifMultiformat   `json:"help"`
		DefaultConfiguration sarifConfiguration `json:"defaultConfiguration"`
		Properties           sarifRuleProps     `json:"properties"`
	}
	sarifText struct {
		Text string `json:"text"`
	}
	sarifMultiformat struct {
		Text     string `json:"text"`
		Markdown string `json:"markdown,omitempty"`
	}
	sarifConfiguration struct {
		Level string `json:"level"`
	}
	sarifRuleProps struct {
		Tags             []string `json:"tags"`
		Precision        string   `json:"precision"`
		ProblemSeverity  string   `json:"problem.severity"`
		SecuritySeverity string   `json:"security-severity"`
	}
	sarifResult struct {
		RuleID              string             `json:"ruleId"`
		RuleIndex           int                `json:"ruleIndex"`
		Level               string             `json:"level"`
		Message             sarifText          `json:"message"`
		Locations           []sarifLocation    `json:"locations"`
		PartialFingerprints map[string]string  `json:"partialFingerprints"`
		Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
		Properties          sarifResultProps   `json:"properties"`
	}
	sarifLocation struct {
		PhysicalLocation sarifPhysical  `json:"physicalLocation"`
		LogicalLocations []sarifLogical `json:"logicalLocations"`
	}
	sarifPhysical struct {
		ArtifactLocation sarifArtifact `json:"artifactLocation"`
		Region           sarifRegion   `json:"region"`
	}
	sarifArtifact struct {
		URI string `json:"uri"`
	}
	sarifRegion struct {
		StartLine int `json:"startLine"`
	}
	sarifLogical struct {
		Name               string `json:"name"`
		FullyQualifiedName string `json:"fullyQualifiedName"`
		Kind               string `json:"kind"`
	}
	sarifSuppression struct {
		Kind          string `json:"kind"`
		Status        string `json:"status"`
		Justification string `json:"justification,omitempty"`
	}
	sarifResultProps struct {
		Severity         string   `json:"severity"`
		SecuritySeverity string   `json:"security-severity"`
		Endpoint         string   `json:"endpoint"`
		Status           string   `json:"status"`
		Transport        string   `json:"transport,omitempty"`
		Server           string   `json:"server,omitempty"`
		ServerVersion    string   `json:"serverVersion,omitempty"`
		Auth             string   `json:"auth,omitempty"`
		Risk             []string `json:"risk,omitempty"`
	}
)

// sarifWriter keeps one prepared result per finding (no reference to the
// endpoint) and writes the whole log at Close: SARIF is one document.
type sarifWriter struct {
	w       io.Writer
	version string
	results []pendingResult
	// unknown holds rule ids that are not in the catalogue, with the first
	// title and severity seen, so that every result has a rule descriptor.
	unknown map[string]finding.Finding
	seq     int
}

// pendingResult is a result before the rule index is known, with its sort
// keys.
type pendingResult struct {
	res        sarifResult
	sev        finding.Severity
	url        string
	occurrence int
	seq        int
}

var _ Writer = (*sarifWriter)(nil)

func newSARIF(w io.Writer, opts Options) Writer {
	return &sarifWriter{w: w, version: toolVersion(opts.Version), unknown: map[string]finding.Finding{}}
}

func (s *sarifWriter) Write(e *result.Endpoint) error {
	id := identify(e)
	props := sarifResultProps{
		Endpoint: id.url,
		Status:   SafeText(string(e.Status), sarifCapRule),
	}
	if e.MCP != nil {
		props.Transport = SafeText(e.MCP.Transport, sarifCapRule)
		props.Server = SafeText(cmp.Or(e.MCP.Server.Name, e.MCP.Server.Title), sarifCapName)
		props.ServerVersion = SafeText(e.MCP.Server.Version, sarifCapRule)
	}
	if e.Auth != nil {
		props.Auth = SafeText(e.Auth.Scheme, sarifCapRule)
	}
	if e.Risk != nil {
		for _, c := range e.Risk.Categories {
			if c = SafeText(c, sarifCapRule); c != "" {
				props.Risk = append(props.Risk, c)
			}
		}
	}
	where := SafeText(e.URL, capURL)
	if where == "" {
		where = id.hostPort
	}
	occurrences := map[string]int{}
	for _, f := range e.Findings {
		ruleID := cmp.Or(SafeText(f.Rule, sarifCapRule), "unknown")
		title := SafeText(f.Title, sarifCapTitle)
		if r, ok := rules.Lookup(ruleID); ok {
			title = cmp.Or(title, r.Title)
		} else if _, seen := s.unknown[ruleID]; !seen {
			s.unknown[ruleID] = finding.Finding{Rule: ruleID, Title: title, Severity: f.Severity}
		}
		n := occurrences[ruleID]
		occurrences[ruleID]++
		fp := fingerprint(ruleID, id.url, n)
		p := props
		p.Severity = clampSeverity(f.Severity).String()
		p.SecuritySeverity = SecuritySeverity(f.Severity)
		p.Risk = slices.Clone(props.Risk)
		res := sarifResult{
			RuleID:  ruleID,
			Level:   sarifLevel(f.Severity),
			Message: sarifText{Text: sarifMessage(cmp.Or(title, ruleID), where, SafeText(f.Evidence, sarifCapEvidence))},
			Locations: []sarifLocation{{
				PhysicalLocation: sarifPhysical{
					ArtifactLocation: sarifArtifact{URI: id.artifact},
					Region:           sarifRegion{StartLine: 1},
				},
				LogicalLocations: []sarifLogical{{Name: id.hostPort, FullyQualifiedName: id.url, Kind: logicalKind}},
			}},
			PartialFingerprints: map[string]string{FingerprintKey: fp, lineHashKey: fp[:16] + ":1"},
			Properties:          p,
		}
		if f.Suppressed != nil {
			res.Suppressions = []sarifSuppression{{
				Kind:          "external",
				Status:        "accepted",
				Justification: SafeText(f.Suppressed.Reason, sarifCapEvidence),
			}}
		}
		s.seq++
		s.results = append(s.results, pendingResult{res: res, sev: f.Severity, url: id.url, occurrence: n, seq: s.seq})
	}
	return nil
}

func (s *sarifWriter) Close(sum *result.Summary) error {
	log := s.build(sum)
	s.results = nil
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(log); err != nil {
		return fmt.Errorf("report: sarif log: %w", err)
	}
	if _, err := s.w.Write(escapeInvisible(buf.Bytes())); err != nil {
		return fmt.Errorf("report: sarif log: %w", err)
	}
	return flush(s.w)
}

// build assembles the log: the rule descriptors, then the results sorted
// most severe first (then by rule, endpoint and arrival), each pointing at
// its rule by index.
func (s *sarifWriter) build(sum *result.Summary) sarifLog {
	descriptors, index := sarifRules(s.unknown)
	slices.SortStableFunc(s.results, func(a, b pendingResult) int {
		return cmp.Or(cmp.Compare(b.sev, a.sev), strings.Compare(a.res.RuleID, b.res.RuleID),
			strings.Compare(a.url, b.url), cmp.Compare(a.occurrence, b.occurrence), cmp.Compare(a.seq, b.seq))
	})
	results := make([]sarifResult, len(s.results))
	for i, p := range s.results {
		p.res.RuleIndex = index[p.res.RuleID]
		results[i] = p.res
	}
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{
			Name:            sarifToolName,
			Version:         s.version,
			SemanticVersion: semanticVersion(s.version),
			InformationURI:  sarifInfoURI,
			Rules:           descriptors,
		}},
		Results: results,
	}
	if sum != nil {
		run.Invocations = []sarifInvocation{{ExecutionSuccessful: !sum.Interrupted}}
		run.Properties = &sarifRunProperties{Summary: sum}
	}
	return sarifLog{Schema: sarifSchemaURI, Version: sarifVersion, Runs: []sarifRun{run}}
}

// sarifRules returns the rule descriptors (the whole catalogue, then the
// unknown ids met, sorted) and the index of each id among them.
func sarifRules(unknown map[string]finding.Finding) ([]sarifRule, map[string]int) {
	all := rules.All()
	out := make([]sarifRule, 0, len(all)+len(unknown))
	for _, r := range all {
		out = append(out, sarifRule{
			ID:                   r.ID,
			Name:                 ruleName(r.Title),
			ShortDescription:     sarifText{Text: r.Title},
			FullDescription:      sarifText{Text: r.Why},
			HelpURI:              sarifRulesDoc + "#" + r.Anchor(),
			Help:                 sarifMultiformat{Text: r.HelpText(), Markdown: r.HelpMarkdown()},
			DefaultConfiguration: sarifConfiguration{Level: sarifLevel(r.Severity)},
			Properties:           ruleProps(r.ID, r.Severity),
		})
	}
	ids := make([]string, 0, len(unknown))
	for id := range unknown {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		f := unknown[id]
		title := cmp.Or(f.Title, id)
		text := "Rule " + id + " is not in the catalogue of this mcpwarden version; the finding came from another version or another tool."
		out = append(out, sarifRule{
			ID:                   id,
			Name:                 cmp.Or(ruleName(title), "UnknownRule"),
			ShortDescription:     sarifText{Text: title},
			FullDescription:      sarifText{Text: text},
			Help:                 sarifMultiformat{Text: text},
			DefaultConfiguration: sarifConfiguration{Level: sarifLevel(f.Severity)},
			Properties:           ruleProps(id, f.Severity),
		})
	}
	index := make(map[string]int, len(out))
	for i, r := range out {
		index[r.ID] = i
	}
	return out, index
}

func ruleProps(id string, sev finding.Severity) sarifRuleProps {
	return sarifRuleProps{
		Tags:             []string{"security", "mcp"},
		Precision:        rulePrecision(id),
		ProblemSeverity:  problemSeverity(sev),
		SecuritySeverity: SecuritySeverity(sev),
	}
}

// ruleName is the CamelCase form of a title, the SARIF rule name: words
// are the runs of letters and digits, each starting with an upper-case
// letter ("MCP server reachable" -> "MCPServerReachable"). GitHub shows at
// most 255 characters.
func ruleName(title string) string {
	var b strings.Builder
	start := true
	for _, r := range title {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			start = true
			continue
		}
		if start {
			r = unicode.ToUpper(r)
			start = false
		}
		if b.Len()+len(string(r)) > 255 {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// sarifMessage is the result message: the rule's title, where, and what
// was seen. Square brackets are escaped: in a SARIF message they would
// otherwise start an embedded link, which a hostile evidence string could
// use to plant a link in a viewer.
func sarifMessage(title, where, evidence string) string {
	msg := title + " at " + where
	if evidence != "" {
		msg += ": " + evidence
	} else {
		msg += "."
	}
	return strings.NewReplacer("[", `\[`, "]", `\]`).Replace(msg)
}

// endpointID is how SARIF names an endpoint.
type endpointID struct {
	// url is the normalised endpoint URL: scheme and host in lower case,
	// the port always written, the path as escaped ("/" when empty), no
	// user information, query or fragment. It is the input of the
	// fingerprint and the logical location's fully qualified name.
	url string
	// hostPort is "host:port" ("[::1]:3001" for IPv6).
	hostPort string
	// artifact is the relative URI reference used as the physical
	// location: "<scheme>/<host>:<port><path>", every part escaped and no
	// trailing slash. It is relative because GitHub rejects an absolute
	// URI whose scheme is not the checkout's (file).
	artifact string
}

// identify normalises the endpoint's URL, falling back on Host and Port
// when the URL is missing or unusable.
func identify(e *result.Endpoint) endpointID {
	u, err := url.Parse(SafeText(e.URL, 0))
	if err != nil || u.Host == "" || u.Scheme == "" {
		hp := net.JoinHostPort(strings.ToLower(SafeText(e.Host, capURL)), strconv.Itoa(e.Port))
		id := endpointID{hostPort: hp, artifact: "endpoint/" + url.PathEscape(hp)}
		id.url = hp
		if raw := SafeText(e.URL, capURL); raw != "" {
			id.url += " " + raw
		}
		return id
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch {
		case e.Port > 0:
			port = strconv.Itoa(e.Port)
		case scheme == "https":
			port = "443"
		default:
			port = "80"
		}
	}
	hp := net.JoinHostPort(strings.ToLower(u.Hostname()), port)
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return endpointID{
		url:      scheme + "://" + hp + path,
		hostPort: hp,
		artifact: url.PathEscape(scheme) + "/" + url.PathEscape(hp) + strings.TrimRight(path, "/"),
	}
}

// fingerprint is the stable identity of a result: the hex SHA-256 of the
// rule id, the normalised endpoint URL and, for the second and later
// findings of one rule on one endpoint, their position among them. The
// evidence is left out on purpose: it holds counts and names that change
// from run to run while the problem stays the same.
func fingerprint(rule, normURL string, occurrence int) string {
	h := sha256.New()
	h.Write([]byte(rule))
	h.Write([]byte{0})
	h.Write([]byte(normURL))
	if occurrence > 0 {
		fmt.Fprintf(h, "\x00%d", occurrence)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// semverRE is the Semantic Versioning 2.0.0 grammar.
var semverRE = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
	`(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?` +
	`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// semanticVersion is v without a leading "v" when that is a semantic
// version, and "" otherwise (a development build): GitHub then uses the
// free-form version.
func semanticVersion(v string) string {
	sv := strings.TrimPrefix(v, "v")
	if semverRE.MatchString(sv) {
		return sv
	}
	return ""
}

// toolVersion is the version reports name their producer with: v when
// set, else the main module's version from the build information (set by
// go install module@version), else "dev".
func toolVersion(v string) string {
	if v = SafeText(v, sarifCapRule); v != "" {
		return v
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
