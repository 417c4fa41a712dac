package auth

import (
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/haven-tre/haven"
)

func TestMain(m *testing.M) {
	// Cheap parameters keep the suite fast; TestDefaultParams checks the
	// real ones.
	HashParams = Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}
	os.Exit(m.Run())
}

func TestValidatePassword(t *testing.T) {
	for _, tc := range []struct {
		pw   string
		want string // substring of the error, "" for ok
	}{
		{"correct horse", ""},
		{"0123456789", ""},
		{"éééééééééé", ""}, // ten characters, twenty bytes
		{"", "too short: use at least 10 characters (it has 0)"},
		{"short", "too short: use at least 10 characters (it has 5)"},
		{"123456789", "too short"},
		{"éééé", "too short"},
		{strings.Repeat(" ", 12), "only spaces"},
		{strings.Repeat("a", 1025), "too long"},
		{"abcdefghij\xff", "not valid UTF-8"},
	} {
		err := ValidatePassword(tc.pw)
		if tc.want == "" {
			if err != nil {
				t.Errorf("ValidatePassword(%q) = %v; want ok", tc.pw, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || haven.ErrorCode(err) != haven.EINVALID {
			t.Errorf("ValidatePassword(%q) = %v; want EINVALID containing %q", tc.pw, err, tc.want)
		}
	}
}

func TestHashAndCheckPassword(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`).MatchString(h) {
		t.Fatalf("hash %q is not a PHC argon2id string", h)
	}
	h2, _ := HashPassword("correct horse battery")
	if h == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	if !CheckPassword(h, "correct horse battery") || !CheckPassword(h2, "correct horse battery") {
		t.Error("the right password does not match")
	}
	for _, pw := range []string{"", "correct horse batterY", "correct horse battery ", "correct horse"} {
		if CheckPassword(h, pw) {
			t.Errorf("CheckPassword(%q) matched", pw)
		}
	}
	if _, err := HashPassword("short"); haven.ErrorCode(err) != haven.EINVALID {
		t.Errorf("HashPassword(short) = %v; want EINVALID", err)
	}
}

func TestCheckPasswordRefusesMalformedHashes(t *testing.T) {
	good, _ := HashPassword("correct horse battery")
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	for _, h := range []string{
		"",
		"correct horse battery",
		"$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1,x=2$" + salt + "$" + key,
		"$argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=99,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=4294967295,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=300$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "=$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "$",
		"$argon2id$v=19$m=64,t=1,p=1$$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$",
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:10],
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$!!" + key[2:],
	} {
		if CheckPassword(h, "correct horse battery") {
			t.Errorf("CheckPassword accepted malformed hash %q", h)
		}
	}
	if !CheckPassword(good, "correct horse battery") {
		t.Fatal("the well-formed hash does not match")
	}
}

func TestDefaultParams(t *testing.T) {
	// A hash made with the production parameters verifies, and its
	// parameters are within what CheckPassword accepts.
	h := hashWith("correct horse battery", DefaultParams)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q does not carry the default parameters", h)
	}
	if !CheckPassword(h, "correct horse battery") || CheckPassword(h, "wrong horse battery") {
		t.Fatal("default-parameter hash does not verify")
	}
}

func TestCheckNoUser(t *testing.T) {
	if CheckNoUser("anything at all") {
		t.Fatal("CheckNoUser returned true")
	}
}

func TestTokens(t *testing.T) {
	a, b := NewToken(), NewToken()
	if a == b {
		t.Fatal("two tokens are equal")
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(a) {
		t.Fatalf("token %q is not 43 URL-safe characters", a)
	}
	for _, tc := range []struct{ tok, want string }{
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	} {
		if got := HashToken(tc.tok); got != tc.want {
			t.Errorf("HashToken(%q) = %s; want %s", tc.tok, got, tc.want)
		}
	}
}

func TestIdentifiers(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		id := NewIdentifier()
		if !regexp.MustCompile(`^[a-z2-7]{16}$`).MatchString(id) {
			t.Fatalf("identifier %q is not 16 base32 characters", id)
		}
		if !ValidIdentifier(id) {
			t.Fatalf("ValidIdentifier(%q) = false", id)
		}
		if seen[id] {
			t.Fatalf("identifier %q repeated", id)
		}
		seen[id] = true
	}
	for _, tc := range []struct {
		s  string
		ok bool
	}{
		{"egdoqvhx25cbvasp", true},
		{"0123456789abcdef", true}, // older identifiers had digits 0, 1, 8, 9
		{"egdoqvhx25cbvas", false},
		{"egdoqvhx25cbvaspq", false},
		{"EGDOQVHX25CBVASP", false},
		{"egdoqvhx-5cbvasp", false},
		{"", false},
		{"egdoqvhx25cbvas\n", false},
	} {
		if got := ValidIdentifier(tc.s); got != tc.ok {
			t.Errorf("ValidIdentifier(%q) = %v; want %v", tc.s, got, tc.ok)
		}
	}
}

func TestBearerToken(t *testing.T) {
	tok := NewToken()
	tests := []struct {
		header, want string
	}{
		{"Bearer " + tok, tok},
		{"bearer " + tok, tok},
		{"Bearer  " + tok + " ", tok},
		{"", ""},
		{"Basic " + tok, ""},
		{"Bearer", ""},
		{"Bearer short", ""},
		{"Bearer " + strings.Repeat("a", 257), ""},
		{"Bearer " + tok[:20] + " " + tok[20:], ""},
		{"Bearer " + tok + "\x01", ""},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		if tt.header != "" {
			r.Header.Set("Authorization", tt.header)
		}
		if got := BearerToken(r); got != tt.want {
			t.Errorf("BearerToken(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}
