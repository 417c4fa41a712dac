package render

import (
	"bytes"
	"fmt"
	"html"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/haven-tre/haven/internal/outputs"
)

// LogTail is how many bytes of a job's output a log view keeps, besides
// the job summary at its end.
const LogTail = 10_000

// logStyle colours the classes ansiHTML writes.
const logStyle = `
.ansi-bold{font-weight:bold}.ansi-dim{opacity:.7}.ansi-italic{font-style:italic}.ansi-underline{text-decoration:underline}
.ansi-fg-0{color:#000}.ansi-fg-1{color:#b21818}.ansi-fg-2{color:#18a218}.ansi-fg-3{color:#9a7a00}.ansi-fg-4{color:#1d4fbf}.ansi-fg-5{color:#b218b2}.ansi-fg-6{color:#18a2a2}.ansi-fg-7{color:#767676}
.ansi-fg-b0{color:#686868}.ansi-fg-b1{color:#e0362c}.ansi-fg-b2{color:#2fb52f}.ansi-fg-b3{color:#b59b00}.ansi-fg-b4{color:#4169e1}.ansi-fg-b5{color:#d63ad6}.ansi-fg-b6{color:#20b2b2}.ansi-fg-b7{color:#9a9a9a}
.ansi-bg-0{background:#000;color:#fff}.ansi-bg-1{background:#f6d5d5}.ansi-bg-2{background:#d5f0d5}.ansi-bg-3{background:#f4ecc2}.ansi-bg-4{background:#d6e0f5}.ansi-bg-5{background:#f0d5f0}.ansi-bg-6{background:#d2f0f0}.ansi-bg-7{background:#e5e5e5}
.ansi-bg-b0{background:#686868;color:#fff}.ansi-bg-b1{background:#f9b8b8}.ansi-bg-b2{background:#b8f2b8}.ansi-bg-b3{background:#f7ea9e}.ansi-bg-b4{background:#b8c9f5}.ansi-bg-b5{background:#f2b8f2}.ansi-bg-b6{background:#b2f0f0}.ansi-bg-b7{background:#f4f4f4}`

// logPage shows a job log: the last LogTail bytes of the job's output
// (whole lines) and the whole job summary, however long, with ANSI
// colours as styled spans.
func logPage(name string, data []byte) []byte {
	shown, omitted := logTail(data, LogTail)
	var b strings.Builder
	if omitted > 0 {
		fmt.Fprintf(&b, `<p class="note">… %s earlier bytes not shown</p>`, groupDigits(omitted))
	}
	b.WriteString("<pre>")
	b.WriteString(ansiHTML(text(shown)))
	b.WriteString("</pre>")
	return page(name, logStyle, b.String())
}

// logTail keeps the last n bytes of a log's job output, from the start of
// a line, and the job summary that follows it (from the last line that is
// outputs.JobLogMarker to the end), and says how many bytes it left out.
func logTail(data []byte, n int) (shown []byte, omitted int) {
	start := summaryStart(data)
	body, summary := data[:start], data[start:]
	if len(body) <= n {
		return data, 0
	}
	tail := body[len(body)-n:]
	if i := bytes.IndexByte(tail, '\n'); i >= 0 && i < len(tail)-1 {
		tail = tail[i+1:] // drop the partial first line
	} else {
		for len(tail) > 0 && !utf8.RuneStart(tail[0]) {
			tail = tail[1:]
		}
	}
	out := make([]byte, 0, len(tail)+len(summary))
	out = append(append(out, tail...), summary...)
	return out, len(body) - len(tail)
}

// summaryStart is the offset of the last line that is the job summary
// marker, or len(data) when there is none.
func summaryStart(data []byte) int {
	marker := []byte(outputs.JobLogMarker)
	end := len(data)
	for end > 0 {
		i := bytes.LastIndex(data[:end], marker)
		if i < 0 {
			break
		}
		after := i + len(marker)
		if (i == 0 || data[i-1] == '\n') && (after == len(data) || data[after] == '\n' || data[after] == '\r') {
			return i
		}
		end = i
	}
	return len(data)
}

// groupDigits writes n with thousands separators.
func groupDigits(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// sgr is the graphic state ANSI SGR codes set.
type sgr struct {
	bold, dim, italic, underline bool
	fg, bg                       string // "" for the default, "3" or "b3" (bright)
}

// class is the state as CSS classes, "" for the default state.
func (s sgr) class() string {
	var c []string
	if s.bold {
		c = append(c, "ansi-bold")
	}
	if s.dim {
		c = append(c, "ansi-dim")
	}
	if s.italic {
		c = append(c, "ansi-italic")
	}
	if s.underline {
		c = append(c, "ansi-underline")
	}
	if s.fg != "" {
		c = append(c, "ansi-fg-"+s.fg)
	}
	if s.bg != "" {
		c = append(c, "ansi-bg-"+s.bg)
	}
	return strings.Join(c, " ")
}

// apply updates the state with the parameters of one SGR sequence.
func (s *sgr) apply(params string) {
	if params == "" {
		*s = sgr{}
		return
	}
	codes := strings.Split(strings.ReplaceAll(params, ":", ";"), ";")
	for i := 0; i < len(codes); i++ {
		n := 0 // an empty parameter is 0
		if codes[i] != "" {
			var err error
			if n, err = strconv.Atoi(codes[i]); err != nil {
				continue
			}
		}
		switch {
		case n == 0:
			*s = sgr{}
		case n == 1:
			s.bold = true
		case n == 2:
			s.dim = true
		case n == 3:
			s.italic = true
		case n == 4:
			s.underline = true
		case n == 22:
			s.bold, s.dim = false, false
		case n == 23:
			s.italic = false
		case n == 24:
			s.underline = false
		case n >= 30 && n <= 37:
			s.fg = strconv.Itoa(n - 30)
		case n == 39:
			s.fg = ""
		case n >= 40 && n <= 47:
			s.bg = strconv.Itoa(n - 40)
		case n == 49:
			s.bg = ""
		case n >= 90 && n <= 97:
			s.fg = "b" + strconv.Itoa(n-90)
		case n >= 100 && n <= 107:
			s.bg = "b" + strconv.Itoa(n-100)
		case n == 38 || n == 48:
			// 256-colour and true-colour forms are skipped, not shown.
			if i+1 < len(codes) {
				switch codes[i+1] {
				case "5":
					i += 2
				case "2":
					i += 4
				}
			}
		}
	}
}

// ansiHTML escapes text for HTML, turning ANSI SGR sequences into spans
// with classes and dropping every other escape sequence and control
// character but tab, newline and carriage return.
func ansiHTML(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	var st sgr
	open := "" // the class of the open span
	written := 0
	flush := func(end int) {
		if end <= written {
			return
		}
		if want := st.class(); want != open {
			if open != "" {
				b.WriteString("</span>")
			}
			if want != "" {
				b.WriteString(`<span class="` + want + `">`)
			}
			open = want
		}
		b.WriteString(html.EscapeString(s[written:end]))
	}
	for i := 0; i < len(s); {
		c := s[i]
		csi8 := c == 0xc2 && i+1 < len(s) && s[i+1] == 0x9b // U+009B, the 8-bit CSI
		if c != 0x1b && !csi8 && (c >= 0x20 || c == '\t' || c == '\n' || c == '\r') && c != 0x7f {
			i++
			continue
		}
		// Text before the sequence keeps the state it was written in.
		flush(i)
		var next int
		switch {
		case c == 0x1b:
			next = skipEscape(s, i+1, &st)
		case csi8:
			next = skipCSI(s, i+2, &st)
		default:
			next = i + 1
		}
		written, i = next, next
	}
	flush(len(s))
	if open != "" {
		b.WriteString("</span>")
	}
	return b.String()
}

// skipEscape returns the end of the escape sequence whose ESC precedes
// s[i], applying it to st when it is an SGR sequence.
func skipEscape(s string, i int, st *sgr) int {
	if i >= len(s) {
		return i
	}
	switch s[i] {
	case '[':
		return skipCSI(s, i+1, st)
	case ']', 'P', '_', '^', 'X':
		// A string ends at BEL or ESC \; an unterminated one at the end
		// of its line.
		for j := i + 1; j < len(s); j++ {
			switch s[j] {
			case 0x07:
				return j + 1
			case 0x1b:
				if j+1 < len(s) && s[j+1] == '\\' {
					return j + 2
				}
				return j
			case '\n':
				return j
			}
		}
		return len(s)
	}
	// ESC, intermediates, one final byte.
	j := i
	for j < len(s) && s[j] >= 0x20 && s[j] <= 0x2f {
		j++
	}
	if j < len(s) && s[j] >= 0x30 && s[j] <= 0x7e {
		j++
	}
	return j
}

// skipCSI returns the end of a control sequence whose parameters start at
// s[i], applying it to st when it is an SGR sequence (final byte m).
func skipCSI(s string, i int, st *sgr) int {
	j := i
	for j < len(s) && s[j] >= 0x30 && s[j] <= 0x3f {
		j++
	}
	params := s[i:j]
	for j < len(s) && s[j] >= 0x20 && s[j] <= 0x2f {
		j++
	}
	if j < len(s) && s[j] >= 0x40 && s[j] <= 0x7e {
		if s[j] == 'm' && j == i+len(params) && strings.Trim(params, "0123456789;:") == "" {
			st.apply(params)
		}
		return j + 1
	}
	return j // unterminated: drop what there is
}
