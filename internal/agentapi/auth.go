package agentapi

import (
	"net/http"
	"strings"
)

// Token lengths accepted in an Authorization header. auth.NewToken makes
// 43-character tokens; anything much shorter or longer is refused before
// the database is asked.
const (
	minTokenLen = 32
	maxTokenLen = 256
)

// bearerToken returns the token of an "Authorization: Bearer <token>"
// header, or "" when the header is missing, has another scheme, or holds
// something that cannot be a token.
func bearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	tok = strings.TrimSpace(tok)
	if len(tok) < minTokenLen || len(tok) > maxTokenLen {
		return ""
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c <= ' ' || c >= 0x7f {
			return ""
		}
	}
	return tok
}
