// Package auth holds the job server's secrets handling: password hashes
// (argon2id), bearer tokens (random, stored as their sha256), job request
// identifiers, and the password policy.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/haven-tre/haven"
	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32 // memory in KiB
	Threads   uint8  // lanes
	SaltLen   int    // bytes of random salt
	KeyLen    uint32 // bytes of derived key
}

// DefaultParams are the parameters new hashes use: 2 passes over 19 MiB
// with one lane, the OWASP password storage recommendation for argon2id,
// which takes about 20-50 ms on a server core. Existing hashes keep the
// parameters they were made with (they are encoded in the hash).
var DefaultParams = Params{Time: 2, MemoryKiB: 19 * 1024, Threads: 1, SaltLen: 16, KeyLen: 32}

// HashParams are the parameters HashPassword uses. Tests may lower them
// (before any hashing) to keep suites fast; production code never changes
// them.
var HashParams = DefaultParams

// Limits on parameters read back from a hash, so a corrupt or hostile
// stored hash cannot make a check run for minutes or exhaust memory.
const (
	maxTime      = 16
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxThreads   = 16
	minSaltLen   = 8
	maxSaltLen   = 64
	minKeyLen    = 16
	maxKeyLen    = 64
)

// Password policy.
const (
	MinPasswordLen = 10   // characters
	MaxPasswordLen = 1024 // characters, so hashing cost stays bounded
)

// ValidatePassword checks a new password against the policy: at least
// MinPasswordLen characters (Unicode code points), at most MaxPasswordLen,
// and not only spaces.
func ValidatePassword(pw string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case !utf8.ValidString(pw):
		return haven.Errorf(haven.EINVALID, "the password is not valid UTF-8 text")
	case n < MinPasswordLen:
		return haven.Errorf(haven.EINVALID, "the password is too short: use at least %d characters (it has %d)", MinPasswordLen, n)
	case n > MaxPasswordLen:
		return haven.Errorf(haven.EINVALID, "the password is too long: use at most %d characters", MaxPasswordLen)
	case strings.TrimSpace(pw) == "":
		return haven.Errorf(haven.EINVALID, "the password must not be only spaces")
	}
	return nil
}

var b64 = base64.RawStdEncoding

// HashPassword checks pw against the policy and returns its argon2id hash
// in the PHC string format:
//
//	$argon2id$v=19$m=<KiB>,t=<time>,p=<threads>$<salt>$<key>
//
// with the salt and key in unpadded standard base64.
func HashPassword(pw string) (string, error) {
	if err := ValidatePassword(pw); err != nil {
		return "", err
	}
	return hashWith(pw, HashParams), nil
}

func hashWith(pw string, p Params) string {
	salt := make([]byte, p.SaltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decoded is a parsed hash.
type decoded struct {
	p    Params
	salt []byte
	key  []byte
}

// parseHash reads a PHC argon2id string, refusing anything malformed or
// with parameters outside the limits.
func parseHash(h string) (*decoded, bool) {
	parts := strings.Split(h, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return nil, false
	}
	var d decoded
	for i, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || i > 2 || k != [...]string{"m", "t", "p"}[i] || v == "" || (len(v) > 1 && v[0] == '0') {
			return nil, false
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return nil, false
		}
		switch k {
		case "m":
			d.p.MemoryKiB = uint32(n)
		case "t":
			d.p.Time = uint32(n)
		case "p":
			if n > 255 {
				return nil, false
			}
			d.p.Threads = uint8(n)
		}
	}
	var err error
	if d.salt, err = b64.Strict().DecodeString(parts[4]); err != nil {
		return nil, false
	}
	if d.key, err = b64.Strict().DecodeString(parts[5]); err != nil {
		return nil, false
	}
	p := d.p
	if p.Time < 1 || p.Time > maxTime || p.Threads < 1 || p.Threads > maxThreads ||
		p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxMemoryKiB ||
		len(d.salt) < minSaltLen || len(d.salt) > maxSaltLen || len(d.key) < minKeyLen || len(d.key) > maxKeyLen {
		return nil, false
	}
	return &d, true
}

// CheckPassword reports whether pw matches hash, comparing in constant
// time. A malformed hash (or "", no password set) never matches.
func CheckPassword(hash, pw string) bool {
	d, ok := parseHash(hash)
	if !ok || len(pw) > 4*MaxPasswordLen {
		return false
	}
	key := argon2.IDKey([]byte(pw), d.salt, d.p.Time, d.p.MemoryKiB, d.p.Threads, uint32(len(d.key)))
	return subtle.ConstantTimeCompare(key, d.key) == 1
}

var (
	dummyOnce sync.Once
	dummyHash string
)

// CheckNoUser spends the time CheckPassword would with a real user, so a
// sign-in for an unknown username takes as long as a wrong password. It
// always returns false.
func CheckNoUser(pw string) bool {
	dummyOnce.Do(func() { dummyHash = hashWith("haven-dummy-password", HashParams) })
	CheckPassword(dummyHash, pw)
	return false
}

// NewToken returns a new bearer token: 32 random bytes in unpadded
// URL-safe base64 (43 characters). Store only HashToken of it.
func NewToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashToken is what is stored for a token: the lower-case hex sha256 of
// its text.
func HashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

var identEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewIdentifier returns a new job request identifier: the lower-case RFC
// 4648 base32 (a-z2-7) of 10 random bytes, 16 characters.
func NewIdentifier() string {
	b := make([]byte, 10)
	rand.Read(b)
	return strings.ToLower(identEncoding.EncodeToString(b))
}

var identRE = regexp.MustCompile(`^[a-z0-9]{16}$`)

// ValidIdentifier reports whether s may be a job request identifier
// (`^[a-z0-9]{16}$`, which also admits older identifiers' digits).
func ValidIdentifier(s string) bool { return identRE.MatchString(s) }

// Bearer token lengths accepted: anything much shorter or longer than
// NewToken's is refused before a database is asked.
const (
	minBearerLen = 32
	maxBearerLen = 256
)

// BearerToken returns the token of an "Authorization: Bearer <token>"
// header, or "" when the header is missing, has another scheme, or holds
// something that cannot be a token (too short, too long, spaces or
// control characters).
func BearerToken(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	tok = strings.TrimSpace(tok)
	if len(tok) < minBearerLen || len(tok) > maxBearerLen {
		return ""
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; c <= ' ' || c >= 0x7f {
			return ""
		}
	}
	return tok
}

// SessionCookie is the name of the job server's session cookie: the web
// pages set it, and every endpoint that accepts a signed-in browser reads
// it.
const SessionCookie = "haven_session"
