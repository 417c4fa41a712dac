package disclosure

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// Kind is what a cell holds once normalised.
type Kind uint8

const (
	KindMissing   Kind = iota // "", null, none, nan, .
	KindRedacted              // [REDACTED], suppressed, *, …
	KindAmbiguous             // na, n/a: redacted in count columns, missing elsewhere
	KindBound                 // <=N, ≤N, <N: a redaction in counts, a bound elsewhere
	KindNumber                // a number, possibly with %, £/$, thousands separators
	KindText                  // anything else
)

// Value is one normalised cell. It is 32 bytes: a long table holds
// one per cell.
type Value struct {
	Raw string
	// Num is the number (KindNumber) or the bound (KindBound). For
	// "12 (3.4%)" it is 12 and HasPct is set.
	Num  float64
	Kind Kind
	// Decimals is how many digits follow the decimal point, which sets the
	// display tolerance (half a unit in the last place).
	Decimals int8
	Percent  bool // a trailing %
	Money    bool // a leading £ or $
	HasPct   bool // a composite "count (pct%)"
}

// IsInt reports whether the cell is a whole number, however many zero
// decimals it shows (pandas writes counts as 6.0 when a column has a
// missing value).
func (v Value) IsInt() bool {
	return v.Kind == KindNumber && !v.Percent && v.Num > -(1<<53) && v.Num < 1<<53 && float64(int64(v.Num)) == v.Num
}

// Tolerance is half a unit in the last place shown.
func (v Value) Tolerance() float64 {
	if int(v.Decimals) < len(tolerances) {
		return tolerances[v.Decimals]
	}
	return 0.5 * math.Pow10(-int(v.Decimals))
}

var tolerances = [...]float64{0.5, 0.05, 0.005, 0.0005, 0.00005, 0.000005, 0.0000005}

// Table is one parsed CSV table (a file, or one block of a file holding
// several stacked tables).
type Table struct {
	File   string
	Header []string
	// Columns holds the cells column by column: Columns[c][r] is data row
	// r+1 of column c+1.
	Columns [][]Value
	// FirstLine is the file line of the header, for stacked tables.
	FirstLine int
}

// Rows is the number of data rows.
func (t *Table) Rows() int {
	if len(t.Columns) == 0 {
		return 0
	}
	return len(t.Columns[0])
}

// ParseError says why a file cannot be read as a table (rule F6).
type ParseError struct {
	Line    int // 1-based file line, 0 when not about one
	Message string
	Hint    string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Message)
	}
	return e.Message
}

// tokens are the cell vocabularies of a profile, lower-cased.
type tokens struct {
	missing  map[string]bool
	redacted map[string]bool
	// texts caches the normalisation of cells that are not plain numbers:
	// labels repeat on every row of a long table.
	texts map[string]Value
}

func newTokens(p *Profile) *tokens {
	t := &tokens{
		missing:  map[string]bool{"": true, "null": true, "none": true, "nan": true, ".": true},
		redacted: map[string]bool{"[redacted]": true, "redacted": true, "suppressed": true, "supp": true, "c": true, "*": true, "~": true},
		texts:    map[string]Value{},
	}
	if p != nil {
		for _, s := range p.MissingTokens {
			t.missing[strings.ToLower(strings.TrimSpace(s))] = true
		}
		for _, s := range p.RedactionTokens {
			t.redacted[strings.ToLower(strings.TrimSpace(s))] = true
		}
	}
	return t
}

// ParseCSV reads a CSV file's bytes (UTF-8, optional BOM, RFC 4180, comma
// delimiter) into tables: one, or several when blank lines separate
// blocks that each start with a header (stacked tables). Bytes that are
// not a table give a *ParseError.
func ParseCSV(file string, data []byte, p *Profile) ([]*Table, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &ParseError{Message: "the file is empty", Hint: "remove the file from the request, or write the table into it"}
	}
	if !utf8.Valid(data) {
		line := 1 + bytes.Count(data[:firstInvalidUTF8(data)], []byte("\n"))
		return nil, &ParseError{Line: line, Message: "the file is not valid UTF-8", Hint: "save the file as UTF-8 (for example pandas' to_csv(..., encoding=\"utf-8\"))"}
	}
	tk := newTokens(p)
	// The tables' Raw strings point into data, which is read only from
	// here on: no copy of the file is made.
	text := unsafe.String(unsafe.SliceData(data), len(data))
	if t, ok, err := parseSimple(file, text, tk); ok {
		if err != nil {
			return nil, err
		}
		return []*Table{t}, nil
	}
	records, lines, err := splitRecords(text)
	if err != nil {
		return nil, err
	}
	// Blocks: runs of records separated by blank records.
	var tables []*Table
	start := 0
	// A blank line followed by a record with a number in it (a total row
	// after a gap, say) continues the table; blocks that start with a
	// header of their own are stacked tables.
	var kept [][]string
	var keptLines []int
	var blocks [][2]int
	bstart := 0
	for i := 0; i < len(records); i++ {
		if len(records[i]) == 1 && strings.TrimSpace(records[i][0]) == "" {
			continue
		}
		if i > 0 && len(records[i-1]) == 1 && strings.TrimSpace(records[i-1][0]) == "" && len(kept) > bstart && !hasNumber(records[i], tk) {
			blocks = append(blocks, [2]int{bstart, len(kept)})
			bstart = len(kept)
		}
		kept = append(kept, records[i])
		keptLines = append(keptLines, lines[i])
	}
	if len(kept) > bstart {
		blocks = append(blocks, [2]int{bstart, len(kept)})
	}
	for _, b := range blocks {
		t, err := buildTable(file, kept[b[0]:b[1]], keptLines[b[0]:b[1]], tk)
		if err != nil {
			return nil, err
		}
		tables = append(tables, t)
	}
	_ = start
	if len(tables) == 0 {
		return nil, &ParseError{Message: "the file holds no table", Hint: "write a header line and data rows"}
	}
	return tables, nil
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// splitRecords splits CSV text into records of fields, with each record's
// 1-based starting line. Unquoted fields are substrings of s (no copy).
func splitRecords(s string) (records [][]string, lines []int, err error) {
	line := 1
	i := 0
	n := len(s)
	fields := make([]string, 0, 16)
	for i < n {
		recLine := line
		fields = fields[:0]
		for {
			// One field.
			if i < n && s[i] == '"' {
				openLine := line
				var sb strings.Builder
				i++
				for {
					j := strings.IndexByte(s[i:], '"')
					if j < 0 {
						return nil, nil, &ParseError{Line: openLine, Message: "a quoted field is never closed (unbalanced quotes)", Hint: "close the quote, or double any quote inside a quoted field (\"\")"}
					}
					chunk := s[i : i+j]
					line += strings.Count(chunk, "\n")
					sb.WriteString(chunk)
					i += j + 1
					if i < n && s[i] == '"' {
						sb.WriteByte('"')
						i++
						continue
					}
					break
				}
				fields = append(fields, sb.String())
				if i < n && s[i] != ',' && s[i] != '\n' && s[i] != '\r' {
					return nil, nil, &ParseError{Line: line, Message: "text follows a closing quote", Hint: "quote the whole field, and double any quote inside it (\"\")"}
				}
			} else {
				j := i
				for j < n && s[j] != ',' && s[j] != '\n' && s[j] != '\r' {
					if s[j] == '"' {
						return nil, nil, &ParseError{Line: line, Message: "a quote inside an unquoted field", Hint: "quote the whole field, and double any quote inside it (\"\")"}
					}
					j++
				}
				fields = append(fields, s[i:j])
				i = j
			}
			if i < n && s[i] == ',' {
				i++
				continue
			}
			break
		}
		// End of record.
		if i < n && s[i] == '\r' {
			i++
		}
		if i < n && s[i] == '\n' {
			i++
		}
		line++
		rec := make([]string, len(fields))
		copy(rec, fields)
		records = append(records, rec)
		lines = append(lines, recLine)
	}
	return records, lines, nil
}

// buildTable turns one block of records (the first is the header) into a
// table of normalised cells.
func buildTable(file string, records [][]string, lines []int, tk *tokens) (*Table, error) {
	header := records[0]
	width := len(header)
	if width == 1 && len(records) > 1 {
		for _, sep := range []string{";", "\t", "|"} {
			if strings.Contains(header[0], sep) && strings.Contains(records[1][0], sep) {
				name := map[string]string{";": "semicolons", "\t": "tabs", "|": "vertical bars"}[sep]
				return nil, &ParseError{Line: lines[0], Message: "the file has one column whose values contain " + name + ": it is not comma-separated", Hint: "write the table with commas between fields (pandas: to_csv(path, sep=\",\"))"}
			}
		}
	}
	t := &Table{File: file, FirstLine: lines[0], Header: make([]string, width), Columns: make([][]Value, width)}
	for c, h := range header {
		t.Header[c] = strings.TrimSpace(h)
	}
	rows := len(records) - 1
	for c := range t.Columns {
		t.Columns[c] = make([]Value, rows)
	}
	for r, rec := range records[1:] {
		if len(rec) != width {
			return nil, &ParseError{Line: lines[r+1], Message: fmt.Sprintf("row has %d fields but the header has %d (ragged rows)", len(rec), width), Hint: "give every row as many fields as the header; quote fields that contain commas"}
		}
		for c, raw := range rec {
			t.Columns[c][r] = normalise(raw, tk)
		}
	}
	return t, nil
}

// normalise classifies one cell's text. Cells that are not numbers
// (labels, dates, bands, tokens) repeat on every row of a long table and
// are cached.
func normalise(raw string, tk *tokens) Value {
	if raw != "" && (raw[0] >= '0' && raw[0] <= '9' || raw[0] == '-' || raw[0] == '.') {
		var v Value
		if n, ok := parseNumber(raw, &v); ok {
			v.Raw, v.Kind, v.Num = raw, KindNumber, n
			return v
		}
	}
	if v, ok := tk.texts[raw]; ok {
		return v
	}
	v := normaliseSlow(raw, tk)
	if v.Kind != KindNumber && len(tk.texts) < 4096 {
		tk.texts[raw] = v
	}
	return v
}

// normaliseSlow is normalise without the cache.
func normaliseSlow(raw string, tk *tokens) Value {
	s := strings.TrimSpace(raw)
	v := Value{Raw: s}
	if s == "" {
		v.Kind = KindMissing
		return v
	}
	if n, ok := parseNumber(s, &v); ok {
		v.Kind, v.Num = KindNumber, n
		return v
	}
	if len(s) > 16 { // longer than any token
		v.Kind = KindText
		if open := strings.IndexByte(s, '('); open <= 0 || !strings.HasSuffix(s, ")") {
			return v
		}
	}
	low := strings.ToLower(s)
	switch {
	case tk.missing[low]:
		v.Kind = KindMissing
		return v
	case tk.redacted[low]:
		v.Kind = KindRedacted
		return v
	case low == "na" || low == "n/a":
		v.Kind = KindAmbiguous
		return v
	}
	for _, prefix := range []string{"<=", "≤", "<"} {
		if rest, ok := strings.CutPrefix(s, prefix); ok {
			var b Value
			if n, ok := parseNumber(strings.TrimSpace(rest), &b); ok {
				v.Kind, v.Num, v.Decimals = KindBound, n, b.Decimals
				return v
			}
		}
	}
	// "count (pct%)"
	if open := strings.IndexByte(s, '('); open > 0 && strings.HasSuffix(s, ")") {
		var a, b Value
		if n, ok := parseNumber(strings.TrimSpace(s[:open]), &a); ok {
			if _, ok := parseNumber(strings.TrimSpace(s[open+1:len(s)-1]), &b); ok && b.Percent {
				v.Kind, v.Num, v.Decimals = KindNumber, n, a.Decimals
				v.HasPct = true
				return v
			}
		}
	}
	v.Kind = KindText
	return v
}

// parseNumber reads an optional sign, an optional leading £ or $, digits
// with optional valid thousands separators, an optional decimal part and
// exponent, and an optional trailing %. It sets v's Decimals, Percent and
// Money.
func parseNumber(s string, v *Value) (float64, bool) {
	if s == "" {
		return 0, false
	}
	i := 0
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		i++
	}
	if strings.HasPrefix(s[i:], "£") {
		v.Money = true
		i += len("£")
	} else if i < len(s) && s[i] == '$' {
		v.Money = true
		i++
	}
	end := len(s)
	if strings.HasSuffix(s, "%") {
		v.Percent = true
		end--
	}
	body := s[i:end]
	if body == "" {
		return 0, false
	}
	// Fast path: plain digits.
	plain := true
	for k := 0; k < len(body); k++ {
		if body[k] < '0' || body[k] > '9' {
			plain = false
			break
		}
	}
	if plain && len(body) <= 15 {
		var n int64
		for k := 0; k < len(body); k++ {
			n = n*10 + int64(body[k]-'0')
		}
		f := float64(n)
		if neg {
			f = -f
		}
		return f, true
	}
	if strings.IndexByte(body, ',') >= 0 {
		intPart, frac, hasDot := strings.Cut(body, ".")
		groups := strings.Split(intPart, ",")
		if len(groups[0]) == 0 || len(groups[0]) > 3 {
			return 0, false
		}
		for _, g := range groups[1:] {
			if len(g) != 3 {
				return 0, false
			}
		}
		body = strings.Join(groups, "")
		if hasDot {
			body += "." + frac
		}
	}
	// From here: digits, at most one dot, an optional exponent.
	dot, exp, digits := -1, -1, 0
	for k := 0; k < len(body); k++ {
		switch c := body[k]; {
		case c >= '0' && c <= '9':
			if exp < 0 {
				digits++
			}
		case c == '.' && dot < 0 && exp < 0:
			dot = k
		case (c == 'e' || c == 'E') && exp < 0 && digits > 0:
			exp = k
			if k+1 < len(body) && (body[k+1] == '-' || body[k+1] == '+') {
				k++
			}
			if k+1 == len(body) {
				return 0, false // "1e" or "1e-"
			}
		default:
			return 0, false
		}
	}
	if digits == 0 {
		return 0, false
	}
	if dot >= 0 {
		e := len(body)
		if exp > dot {
			e = exp
		}
		v.Decimals = int8(min(e-dot-1, 15))
	}
	var f float64
	if exp < 0 && digits <= 15 {
		// Exact: the mantissa and the power of ten are both exact
		// float64s, and one division rounds correctly.
		var n int64
		for k := 0; k < len(body); k++ {
			if body[k] != '.' {
				n = n*10 + int64(body[k]-'0')
			}
		}
		f = float64(n)
		if dot >= 0 {
			f /= pow10[len(body)-dot-1]
		}
	} else {
		var err error
		f, err = strconv.ParseFloat(body, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return 0, false
		}
	}
	if neg {
		f = -f
	}
	return f, true
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// hasNumber reports whether any field of a record is a number.
func hasNumber(rec []string, tk *tokens) bool {
	for _, f := range rec {
		if v := normalise(f, tk); v.Kind == KindNumber {
			return true
		}
	}
	return false
}

// parseSimple parses the common case in one pass, straight into columns:
// no quotes anywhere, no blank lines, no CR but in CRLF line ends, more
// than one column. ok is false when the input is not that case (ParseCSV
// then takes the general path, which gives the same tables); err is a
// ragged row. Plain integers (the most common cell of an aggregated
// table) are read while the field is scanned.
func parseSimple(file, s string, tk *tokens) (t *Table, ok bool, err error) {
	if strings.IndexByte(s, '"') >= 0 {
		return nil, false, nil
	}
	crlf := false
	if cr := strings.Count(s, "\r"); cr > 0 {
		if cr != strings.Count(s, "\r\n") {
			return nil, false, nil // a lone CR: the general path
		}
		crlf = true
	}
	nl := strings.IndexByte(s, '\n')
	if nl < 0 {
		nl = len(s)
	}
	headerLine := strings.TrimSuffix(s[:nl], "\r")
	if strings.TrimSpace(headerLine) == "" {
		return nil, false, nil
	}
	header := strings.Split(headerLine, ",")
	width := len(header)
	if width < 2 {
		return nil, false, nil
	}
	est := strings.Count(s, "\n")
	t = &Table{File: file, FirstLine: 1, Header: make([]string, width), Columns: make([][]Value, width)}
	for c, h := range header {
		t.Header[c] = strings.TrimSpace(h)
		t.Columns[c] = make([]Value, 0, est)
	}
	cols := t.Columns
	line := 1
	for pos := nl + 1; pos < len(s); {
		line++
		recStart := pos
		for c := 0; ; c++ {
			// Scan one field, reading it as an integer on the way.
			start, i := pos, pos
			var n int64
			digits := true
			for ; i < len(s); i++ {
				b := s[i]
				if b == ',' || b == '\n' {
					break
				}
				if d := b - '0'; d <= 9 {
					n = n*10 + int64(d)
				} else {
					digits = false
				}
			}
			end := i
			last := i == len(s) || s[i] == '\n'
			if last && crlf && end > start && s[end-1] == '\r' {
				end--
				digits = false
			}
			field := s[start:end]
			pos = i + 1
			if last && c == 0 && strings.TrimSpace(field) == "" {
				return nil, false, nil // a blank line: the general path
			}
			if c >= width || last && c != width-1 {
				rec := s[recStart:]
				if j := strings.IndexByte(rec, '\n'); j >= 0 {
					rec = s[recStart : recStart+j]
				}
				n := strings.Count(strings.TrimSuffix(rec, "\r"), ",") + 1
				return nil, true, &ParseError{Line: line, Message: fmt.Sprintf("row has %d fields but the header has %d (ragged rows)", n, width), Hint: "give every row as many fields as the header; quote fields that contain commas"}
			}
			if digits && len(field) > 0 && len(field) <= 15 {
				cols[c] = append(cols[c], Value{Raw: field, Kind: KindNumber, Num: float64(n)})
			} else {
				cols[c] = append(cols[c], normalise(field, tk))
			}
			if last {
				break
			}
		}
	}
	return t, true, nil
}
