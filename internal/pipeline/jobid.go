package pipeline

import (
	"crypto/sha1"
	"encoding/base32"
	"strings"
)

// JobID derives the id of the job that runs an action for a job request. It
// is deterministic, and identical to upstream's: the first 10 bytes of
// SHA-1("<requestID>\n<action>") in lowercase RFC 4648 base32, 16
// characters from a-z and 2-7.
func JobID(requestID, action string) string {
	sum := sha1.Sum([]byte(requestID + "\n" + action))
	return strings.ToLower(base32.StdEncoding.EncodeToString(sum[:10]))
}
