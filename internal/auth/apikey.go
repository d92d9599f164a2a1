package auth

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

// API keys.
//
// A key is APIKeyPrefix followed by 32 random bytes in unpadded base64url
// (48 characters in all). The keys file stores, one per line,
//
//	name:scope1,scope2:sha256:<64 hex digits>
//
// (scopes may contain colons, as in "tools:read"), where the hash is the SHA-256 of the whole key string. Blank lines and
// lines starting with '#' are ignored.
//
// Why a plain SHA-256 and no salt or slow hash: salts and argon2id exist to
// slow down guessing of low-entropy secrets (passwords) from a stolen hash.
// A key here carries 256 bits from crypto/rand, so guessing is hopeless at
// any speed, and a precomputed table cannot cover the key space; the file
// then reveals nothing usable. A fast hash also keeps the per-request cost
// at a microsecond instead of the tens of milliseconds argon2id would add.
//
// Comparison: the presented key is hashed, then its digest is compared with
// every stored digest by subtle.ConstantTimeCompare, with no early exit, so
// the time taken does not depend on which key (if any) matched or on how
// many leading bytes agreed. Even a timing leak about the digest would not
// help an attacker: learning bytes of SHA-256(key) does not help to find a
// key with 256 bits of entropy.

const (
	apiKeyRandomBytes = 32
	apiKeyLen         = len(APIKeyPrefix) + 43 // base64url of 32 bytes, unpadded
	apiKeyHashPrefix  = "sha256:"
	maxKeysFileLine   = 4096
	maxKeyNameLen     = 64
)

// APIKey is one entry of a keys file.
type APIKey struct {
	// Name identifies the key in logs, audit and policy.
	Name string
	// Scopes are granted to requests made with the key.
	Scopes []string
	digest [sha256.Size]byte
}

// APIKeys authenticates requests by API key. It is safe for concurrent use
// and immutable once loaded.
type APIKeys struct {
	keys []APIKey
	// equal compares two digests; subtle.ConstantTimeCompare, replaced
	// only by tests that count comparisons.
	equal func(a, b []byte) int
}

var _ Authenticator = (*APIKeys)(nil)

// LoadAPIKeysFile reads a keys file from disk with LoadAPIKeys.
func LoadAPIKeysFile(path string) (*APIKeys, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth: api keys: %w", err)
	}
	defer f.Close()
	return LoadAPIKeys(path, f)
}

// LoadAPIKeys parses a keys file; name labels the input in errors. Every
// bad line is reported (joined, each with its line number), and duplicate
// names or hashes are errors. An input without keys is valid and yields an
// authenticator that accepts nothing.
func LoadAPIKeys(name string, r io.Reader) (*APIKeys, error) {
	br := bufio.NewReader(r)
	var (
		ks      = APIKeys{equal: subtle.ConstantTimeCompare}
		errs    []error
		names   = map[string]int{}
		digests = map[[sha256.Size]byte]int{}
	)
	for n := 1; ; n++ {
		line, tooLong, err := readLine(br)
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("auth: api keys %s: line %d: %w", name, n, err)
		}
		if tooLong {
			errs = append(errs, fmt.Errorf("%s:%d: line longer than %d bytes", name, n, maxKeysFileLine))
			continue
		}
		k, ok, err := parseKeyLine(line)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", name, n, err))
			continue
		}
		if !ok {
			continue
		}
		if prev, dup := names[k.Name]; dup {
			errs = append(errs, fmt.Errorf("%s:%d: key name %q already used on line %d", name, n, k.Name, prev))
			continue
		}
		if prev, dup := digests[k.digest]; dup {
			errs = append(errs, fmt.Errorf("%s:%d: same hash as line %d", name, n, prev))
			continue
		}
		names[k.Name], digests[k.digest] = n, n
		ks.keys = append(ks.keys, k)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("auth: api keys: %w", errors.Join(errs...))
	}
	return &ks, nil
}

// readLine returns the next line without its end of line; tooLong is set
// (and the rest of the line skipped) past maxKeysFileLine bytes. It
// returns io.EOF only when no bytes are left.
func readLine(br *bufio.Reader) (line string, tooLong bool, err error) {
	var b []byte
	for {
		chunk, isPrefix, err := br.ReadLine()
		if err != nil {
			if errors.Is(err, io.EOF) && (len(b) > 0 || tooLong) {
				return string(b), tooLong, nil
			}
			return "", false, err
		}
		if !tooLong {
			b = append(b, chunk...)
			if len(b) > maxKeysFileLine {
				tooLong, b = true, nil
			}
		}
		if !isPrefix {
			return string(b), tooLong, nil
		}
	}
}

// parseKeyLine parses one line; ok is false for blank and comment lines.
func parseKeyLine(line string) (k APIKey, ok bool, err error) {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return k, false, nil
	}
	name, rest, found := strings.Cut(line, ":")
	if !found {
		return k, false, errors.New(`want "name:scopes:sha256:<hex>"`)
	}
	// The hash is the last two colon-separated fields ("sha256:<hex>"), so
	// scopes may contain colons ("tools:read").
	last := strings.LastIndexByte(rest, ':')
	if last < 0 {
		return k, false, errors.New(`want "name:scopes:sha256:<hex>"`)
	}
	sep := strings.LastIndexByte(rest[:last], ':')
	if sep < 0 {
		return k, false, errors.New(`want "name:scopes:sha256:<hex>"`)
	}
	scopes, hash := rest[:sep], rest[sep+1:]
	if err := checkKeyName(name); err != nil {
		return k, false, err
	}
	k.Name = name
	if scopes != "" {
		for s := range strings.SplitSeq(scopes, ",") {
			if s == "" || !isScopeToken(s) {
				return k, false, fmt.Errorf("key %q: bad scope %q", name, s)
			}
			k.Scopes = append(k.Scopes, s)
		}
	}
	hexDigest, found := strings.CutPrefix(hash, apiKeyHashPrefix)
	if !found {
		return k, false, fmt.Errorf("key %q: hash must start with %q", name, apiKeyHashPrefix)
	}
	if len(hexDigest) != 2*sha256.Size {
		return k, false, fmt.Errorf("key %q: hash must be %d hex digits, got %d", name, 2*sha256.Size, len(hexDigest))
	}
	if _, err := hex.Decode(k.digest[:], []byte(hexDigest)); err != nil {
		return k, false, fmt.Errorf("key %q: hash is not hex", name)
	}
	return k, true, nil
}

// checkKeyName accepts 1 to 64 of [A-Za-z0-9._-] (also what NewKey takes).
func checkKeyName(name string) error {
	if name == "" || len(name) > maxKeyNameLen {
		return fmt.Errorf("key name %q: want 1 to %d characters", name, maxKeyNameLen)
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("key name %q: only letters, digits, '.', '_' and '-' allowed", name)
		}
	}
	return nil
}

// isScopeToken reports whether s is an RFC 6749 scope-token
// (%x21 / %x23-5B / %x5D-7E), minus ',' which separates scopes in the file.
func isScopeToken(s string) bool {
	for _, c := range []byte(s) {
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' || c == ',' {
			return false
		}
	}
	return s != ""
}

// NewKey makes a new API key named name (1 to 64 of [A-Za-z0-9._-]) and
// returns the key and the keys-file line that stores its hash (with no
// scopes and no trailing newline). Scopes may be added to the line's
// second field.
func NewKey(name string) (key, line string, err error) {
	if err := checkKeyName(name); err != nil {
		return "", "", fmt.Errorf("auth: new key: %w", err)
	}
	var b [apiKeyRandomBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("auth: new key: %w", err)
	}
	key = APIKeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(key))
	return key, name + "::" + apiKeyHashPrefix + hex.EncodeToString(sum[:]), nil
}

// Len returns how many keys are loaded.
func (a *APIKeys) Len() int { return len(a.keys) }

// Names returns the key names in file order.
func (a *APIKeys) Names() []string {
	out := make([]string, len(a.keys))
	for i, k := range a.keys {
		out[i] = k.Name
	}
	return out
}

// Authenticate accepts a key from "X-API-Key: KEY" or from
// "Authorization: Bearer KEY" when KEY has the APIKeyPrefix (other bearer
// tokens are left to the OAuth authenticators: ErrNoCredentials). Both
// headers at once must carry the same key.
func (a *APIKeys) Authenticate(r *http.Request) (*Principal, error) {
	key, err := presentedAPIKey(r.Header)
	if err != nil {
		return nil, err
	}
	if len(key) != apiKeyLen || !strings.HasPrefix(key, APIKeyPrefix) {
		return nil, invalid("apikey", ReasonMalformed, "not an mcpw_ key of the right length")
	}
	sum := sha256.Sum256([]byte(key))
	match := -1
	for i := range a.keys {
		if a.equal(sum[:], a.keys[i].digest[:]) == 1 {
			match = i
		}
	}
	if match < 0 {
		return nil, invalid("apikey", ReasonUnknownAPIKey, "")
	}
	k := a.keys[match]
	return &Principal{
		Subject: k.Name,
		Method:  "apikey",
		KeyName: k.Name,
		Scopes:  append([]string(nil), k.Scopes...),
	}, nil
}

// presentedAPIKey finds the key in X-API-Key or a Bearer header.
func presentedAPIKey(h http.Header) (string, error) {
	xs := h.Values("X-API-Key")
	if len(xs) > 1 {
		return "", invalid("apikey", ReasonAmbiguous, "several X-API-Key headers")
	}
	var fromHeader string
	if len(xs) == 1 {
		fromHeader = strings.TrimSpace(xs[0])
		if fromHeader == "" || len(fromHeader) > maxCredentialLen {
			return "", invalid("apikey", ReasonMalformed, "empty or oversized X-API-Key")
		}
	}
	bearer, err := BearerToken(h)
	switch {
	case errors.Is(err, ErrNoCredentials):
		bearer = ""
	case err != nil:
		if fromHeader == "" {
			return "", ErrNoCredentials // not ours: the OAuth authenticators report it
		}
		return "", invalid("apikey", ReasonAmbiguous, "X-API-Key with a malformed Authorization header")
	case !strings.HasPrefix(bearer, APIKeyPrefix):
		if fromHeader != "" {
			return "", invalid("apikey", ReasonAmbiguous, "X-API-Key with a bearer token")
		}
		return "", ErrNoCredentials
	}
	switch {
	case fromHeader == "" && bearer == "":
		return "", ErrNoCredentials
	case fromHeader == "":
		return bearer, nil
	case bearer == "" || subtle.ConstantTimeCompare([]byte(bearer), []byte(fromHeader)) == 1:
		return fromHeader, nil
	default:
		return "", invalid("apikey", ReasonAmbiguous, "X-API-Key and Authorization carry different keys")
	}
}
