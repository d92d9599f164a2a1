package clientcfg

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/host/mcpcmd"
	"github.com/mcpwarden/mcpwarden/internal/rules"
)

// Redacted replaces every secret value in what this package prints.
const Redacted = "<redacted>"

var (
	// secretName matches names of variables, headers, flags and query
	// parameters that hold credentials.
	secretName = regexp.MustCompile(`(?i)(token|secret|passw(or)?d|passwd|api[-_]?key|apikey|access[-_]?key|private[-_]?key|credential|auth|cookie|session[-_]?key|bearer|^pat$|^key$)`)
	// secretValue matches well-known credential formats, whatever their name.
	secretValue = regexp.MustCompile(`(ghp_|gho_|ghu_|ghs_|github_pat_)[A-Za-z0-9_]{20,}|\bsk-[A-Za-z0-9_-]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|\bAKIA[0-9A-Z]{16}\b|glpat-[A-Za-z0-9_-]{20,}|\bAIza[0-9A-Za-z_-]{35}\b|-----BEGIN [A-Z ]*PRIVATE KEY-----`)
	// reference matches a value that refers to a secret stored elsewhere.
	reference = regexp.MustCompile(`\$\{[^}]+\}|\$[A-Z_][A-Z0-9_]*|\{env:[^}]+\}|%[A-Z_][A-Z0-9_]*%|\$\{\{[^}]+\}\}`)
)

// literalSecret reports whether a value stored under name is a secret
// written inline: a credential-named entry with a literal value, or a
// value in a well-known credential format. References (${env:X}, $X,
// ${input:id}, ${{ secrets.X }}) are not.
func literalSecret(name, value string) bool {
	v := strings.TrimSpace(value)
	if v == "" {
		return false
	}
	if secretValue.MatchString(v) {
		return true
	}
	if !secretName.MatchString(name) {
		return false
	}
	rest := strings.TrimSpace(reference.ReplaceAllString(v, ""))
	// "Bearer ${TOKEN}" leaves "Bearer": no literal secret.
	for _, scheme := range []string{"Bearer", "Basic", "Token", "token", "bearer", "basic"} {
		rest = strings.TrimSpace(strings.TrimPrefix(rest, scheme))
	}
	switch strings.ToLower(rest) {
	case "", "true", "false", "none", "null", "oauth", "0", "1":
		return false
	}
	return len(rest) >= 6
}

// secretFlags are command-line flags whose value is a credential.
func secretFlag(a string) bool {
	a = strings.TrimLeft(a, "-")
	return a != "" && secretName.MatchString(a) && !strings.EqualFold(a, "auth-type") && !strings.EqualFold(a, "oauth")
}

// RedactArgs returns args with secret values replaced by Redacted: values
// of secret-named flags (--api-key X, --token=X), "Header: value" pairs of
// secret headers, values in credential formats, and secret URL query
// parameters and passwords.
func RedactArgs(args []string) []string {
	out := make([]string, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		out[i] = redactValue("", a)
		if !strings.HasPrefix(a, "-") {
			continue
		}
		if name, val, ok := strings.Cut(a, "="); ok {
			if secretFlag(name) && literalSecret("token", val) {
				out[i] = name + "=" + Redacted
			}
			continue
		}
		if secretFlag(a) && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			if literalSecret("token", args[i+1]) {
				out[i+1] = Redacted
			} else {
				out[i+1] = redactValue("", args[i+1])
			}
			i++
		}
	}
	return out
}

// redactValue redacts one string: a URL's secrets, "Name: secret" header
// pairs, and credential formats.
func redactValue(name, v string) string {
	if strings.Contains(v, "://") {
		return RedactURL(v)
	}
	if k, val, ok := strings.Cut(v, ":"); ok && !strings.ContainsAny(k, " /") && literalSecret(k, val) {
		return k + ": " + Redacted
	}
	if literalSecret(name, v) {
		return Redacted
	}
	return v
}

// RedactURL replaces a URL's password and its secret-named query values.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if secretValue.MatchString(raw) {
			return Redacted
		}
		return raw
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "REDACTED")
		}
	}
	q := u.Query()
	changed := false
	for k, vs := range q {
		for i, v := range vs {
			if literalSecret(k, v) {
				vs[i] = "REDACTED"
				changed = true
			}
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// DisplayCommand is the entry's command line with secrets redacted.
func (s *Server) DisplayCommand() string {
	return strings.TrimSpace(strings.Join(append([]string{s.Command}, RedactArgs(s.Args)...), " "))
}

// Display is what reports show as the entry's URL: the remote URL
// (redacted) or "stdio:" and the command line (redacted).
func (s *Server) Display() string {
	if s.Remote() {
		return RedactURL(s.URL)
	}
	return "stdio:" + s.DisplayCommand()
}

// Findings judges one entry: plaintext remote (MCPW-028), remote without
// credentials (MCPW-029), inline secrets (MCPW-030, redacted) and stdio
// commands that bind beyond loopback (MCPW-031).
func (s *Server) Findings() []finding.Finding {
	var fs []finding.Finding
	secrets := s.inlineSecrets()
	where := fmt.Sprintf("server %q in %s", s.Name, s.Path)
	if s.Remote() {
		u, err := url.Parse(s.URL)
		host := ""
		if err == nil {
			host = u.Hostname()
		}
		if !loopbackHost(host) {
			creds := s.hasCredentials()
			if err == nil && strings.EqualFold(u.Scheme, "http") {
				sev, ev := finding.Medium, fmt.Sprintf("%s connects to %s over plaintext HTTP", where, RedactURL(s.URL))
				if creds {
					sev = finding.High
					ev += "; the credentials it is configured with cross the network in clear text"
				}
				fs = append(fs, rules.New(rules.ConfigPlaintextRemote, sev, ev))
			}
			if !creds {
				fs = append(fs, rules.Default(rules.ConfigRemoteNoAuth, fmt.Sprintf(
					"%s connects to %s with no Authorization or other header and no OAuth setting", where, RedactURL(s.URL))))
			}
		}
	}
	if len(secrets) > 0 {
		fs = append(fs, rules.Default(rules.ConfigInlineSecret, fmt.Sprintf("%s holds %s (values redacted)", where, strings.Join(secrets, ", "))))
	}
	if !s.Remote() && s.Command != "" {
		argv := append([]string{s.Command}, s.Args...)
		if bind := mcpcmd.BindAddress(argv, s.Env); mcpcmd.Exposed(bind) {
			ev := fmt.Sprintf("%s runs %q, which binds %s", where, s.DisplayCommand(), bind)
			if m, ok := mcpcmd.Recognize(argv); ok && m.Known {
				ev += "; fix: " + m.Fix
			}
			fs = append(fs, rules.Default(rules.ConfigStdioExposed, ev))
		}
	}
	return fs
}

// hasCredentials reports whether the entry configures any header, OAuth,
// or a credential in its URL.
func (s *Server) hasCredentials() bool {
	if len(s.Headers) > 0 || s.OAuth {
		return true
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		return false
	}
	if u.User != nil {
		return true
	}
	for k := range u.Query() {
		if secretName.MatchString(k) {
			return true
		}
	}
	return false
}

// inlineSecrets names (never shows) the secrets written in the entry:
// "env GITHUB_TOKEN (40 characters)".
func (s *Server) inlineSecrets() []string {
	var out []string
	for _, k := range sortedKeys(s.Env) {
		if literalSecret(k, s.Env[k]) {
			out = append(out, fmt.Sprintf("env %s (%d characters)", k, len(s.Env[k])))
		}
	}
	for _, k := range sortedKeys(s.Headers) {
		if literalSecret(k, s.Headers[k]) {
			out = append(out, fmt.Sprintf("header %s (%d characters)", k, len(s.Headers[k])))
		}
	}
	if s.URL != "" && RedactURL(s.URL) != s.URL {
		out = append(out, "a credential in the URL")
	}
	red := RedactArgs(s.Args)
	for i, a := range red {
		if a != s.Args[i] && s.Args[i] != s.URL {
			out = append(out, fmt.Sprintf("argument %d", i+1))
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// loopbackHost reports whether a URL host is this machine.
func loopbackHost(h string) bool {
	h = strings.ToLower(strings.Trim(h, "[]"))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap().IsLoopback()
	}
	return net.ParseIP(h) != nil && net.ParseIP(h).IsLoopback()
}
