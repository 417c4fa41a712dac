package pipeline

import (
	"errors"
	"regexp"
	"strings"
)

// Command is an action's parsed `run` line: `image:tag arg1 arg2 …`, split
// into words with POSIX shell rules as upstream does.
type Command struct {
	Raw   string   // the run string exactly as written
	Parts []string // the words: Parts[0] is image:tag
	Image string   // the image name, before the first ':'
	Tag   string   // the tag, after the first ':'
}

// Args returns the words after image:tag.
func (c Command) Args() []string {
	if len(c.Parts) < 2 {
		return nil
	}
	return c.Parts[1:]
}

// ImageRef returns image:tag, with `latest` shown as v1 as upstream's
// action_images does (latest has always meant v1).
func (c Command) ImageRef() string {
	tag := c.Tag
	if tag == "latest" {
		tag = "v1"
	}
	return c.Image + ":" + tag
}

// tagRE is upstream's accepted version tag.
var tagRE = regexp.MustCompile(`^((v[0-9.]+(-pre)?)|dev|latest)$`)

// ValidTag reports whether tag is an accepted image tag (v1, v1.2.3, v1-pre,
// dev, latest).
func ValidTag(tag string) bool { return tagRE.MatchString(tag) }

// databaseCommands lists, per image, the first arguments that make an action
// a database action; "*" means any.
var databaseCommands = map[string][]string{
	"ehrql":           {"generate-dataset", "generate-measures"},
	"sqlrunner":       {"*"},
	"cohortextractor": {"generate_cohort", "generate_codelist_report"},
	"databuilder":     {"generate-dataset"},
}

// IsDatabaseAction reports whether the command needs database access, which
// only these trusted commands ever get.
func (c Command) IsDatabaseAction() bool {
	cmds, ok := databaseCommands[c.Image]
	if !ok {
		return false
	}
	if cmds[0] == "*" {
		return true
	}
	if len(c.Parts) < 2 {
		return false
	}
	for _, s := range cmds {
		if c.Parts[1] == s {
			return true
		}
	}
	return false
}

// RuntimeImages are the images that run code directly; any other image name
// is a reusable action. The backend allows these; local runs also allow the
// extraction tools cohortextractor and databuilder.
var RuntimeImages = []string{"ehrql", "stata-mp", "r", "jupyter", "python", "sqlrunner"}

// IsReusableAction reports whether the image is not a runtime or extraction
// tool, and so names a reusable action repository.
func (c Command) IsReusableAction() bool {
	switch c.Image {
	case "ehrql", "stata-mp", "r", "jupyter", "python", "sqlrunner", "cohortextractor", "databuilder":
		return false
	}
	return true
}

var (
	errNoClosingQuote = errors.New("No closing quotation")
	errNoEscapedChar  = errors.New("No escaped character")
)

// SplitWords splits s into words with the POSIX rules of Python's
// shlex.split: whitespace separates words, single quotes keep everything,
// double quotes keep everything but \" and \\, and a backslash outside quotes
// takes the next character literally. An empty quoted string is a word.
func SplitWords(s string) ([]string, error) {
	words, _, err := splitWords(s)
	return words, err
}

// isShellSpace is the white space that separates words.
func isShellSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\r' || r == '\n' }

// splitWords is SplitWords that also returns, on error, the byte offset of
// the quote left open or of the trailing backslash.
func splitWords(s string) ([]string, int, error) {
	if !strings.ContainsAny(s, `'"\\`) {
		// No quoting: the words are the runs between white space.
		words := strings.FieldsFunc(s, isShellSpace)
		if len(words) == 0 {
			return nil, 0, nil
		}
		return words, 0, nil
	}
	// Every special character is ASCII, so the loop runs over bytes and any
	// other byte, valid UTF-8 or not, passes through unchanged.
	var (
		openedAt int // offset of the current quote or escape
		words    []string
		cur      strings.Builder
		inWord   bool
		quote    byte // 0, '\'' or '"'
		escaped  bool // the previous byte was a backslash
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			if quote == '"' && c != '"' && c != '\\' {
				cur.WriteByte('\\')
			}
			cur.WriteByte(c)
			escaped = false
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case quote == '"':
			switch c {
			case '"':
				quote = 0
			case '\\':
				escaped = true // inside quotes: the open quote is still the culprit
			default:
				cur.WriteByte(c)
			}
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'' || c == '"':
			quote, inWord, openedAt = c, true, i
		case c == '\\':
			escaped, inWord, openedAt = true, true, i
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, openedAt, errNoClosingQuote
	}
	if escaped {
		return nil, openedAt, errNoEscapedChar
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, 0, nil
}

// QuoteWord quotes one word for a POSIX shell as Python's shlex.quote does:
// words of ASCII letters, digits and @%+=:,./-_ stay as they are.
func QuoteWord(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for i := 0; i < len(s) && safe; i++ {
		c := s[i]
		safe = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("@%+=:,./-_", c) >= 0
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// JoinWords quotes each word and joins them with spaces (shlex.join).
func JoinWords(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = QuoteWord(w)
	}
	return strings.Join(q, " ")
}

// OutputSpec returns the value of an `--output X` or `--output=X` argument,
// wherever it stands among the words, and whether there was one. A trailing
// `--output` with no value gives "".
func OutputSpec(words []string) (string, bool) {
	for i, w := range words {
		if w == "--output" {
			if i+1 < len(words) {
				return words[i+1], true
			}
			return "", true
		}
		if v, ok := strings.CutPrefix(w, "--output="); ok {
			return v, true
		}
	}
	return "", false
}
