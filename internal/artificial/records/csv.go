package records

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
)

// CSV is read as RFC 4180 with the same rules as Go's encoding/csv (comma
// separator, no lazy quotes, no leading-space trimming): fields may be
// quoted, a quote inside a quoted field is doubled, quoted fields may span
// lines, "\r\n" is read as "\n", blank lines are skipped and a UTF-8 byte
// order mark before the header is ignored. Every row must have as many
// fields as the header, and the file must be UTF-8.
//
// The reader works on blocks of the file held in one buffer: a row without
// quotes is split in place with no allocation, and a row with quotes has
// its fields unescaped in place (unescaping only shrinks a field). Cells
// point into the buffer until the next batch.

// bufSize is the read block; a row longer than it grows the buffer.
const bufSize = 1 << 20

// maxCells bounds the cells of one batch (rows times columns).
const maxCells = 1 << 18

type csvReader struct {
	r     *Reader
	src   io.Reader
	gz    *gzip.Reader
	buf   []byte
	start int // first unparsed byte
	end   int // end of the data in buf
	eof   bool
	line  int64 // physical line number of buf[start], 1-based
	row   int64 // data rows parsed so far
	ncols int
	max   int // rows per batch
	batch Batch
	// fields holds the cells of the record being parsed.
	fields [][]byte
	// spans records the fields of a quoted record between its two passes.
	spans []span
	// recordLines is the number of line breaks the last record spanned.
	recordLines int64
}

type span struct {
	start, end int  // content, relative to the record start
	quoted     bool // content needs unescaping
}

// needMore says the buffer ends inside a record.
var needMore = errors.New("need more data")

func newCSV(r *Reader, f io.Reader, gz bool) (*csvReader, error) {
	return newCSVSize(r, f, gz, bufSize)
}

// NewCSV reads CSV text (not compressed) from src; name is used in
// messages. Offset and Size report nothing useful for it.
func NewCSV(name string, src io.Reader) (*Reader, error) {
	r := &Reader{path: name, format: CSV}
	c, err := newCSVSize(r, src, false, bufSize)
	if err != nil {
		return nil, err
	}
	r.impl = c
	return r, nil
}

func newCSVSize(r *Reader, f io.Reader, gz bool, size int) (*csvReader, error) {
	c := &csvReader{r: r, line: 1}
	var src io.Reader = countingReader{r: f, n: &r.read}
	if gz {
		z, err := gzip.NewReader(src)
		if err != nil {
			return nil, &Error{Path: r.path, Msg: fmt.Sprintf("not a valid gzip file (%v): check the file is complete, or decompress it and read the .csv", err)}
		}
		c.gz = z
		src = z
	}
	c.src = src
	c.buf = make([]byte, size)
	if err := c.fill(); err != nil {
		return nil, err
	}
	// A UTF-8 byte order mark is not part of the first column's name.
	if bytes.HasPrefix(c.buf[c.start:c.end], []byte("\xef\xbb\xbf")) {
		c.start += 3
	}
	for {
		err := c.parseRecord()
		if err == needMore {
			if err := c.fill(); err != nil {
				return nil, err
			}
			continue
		}
		if err == io.EOF {
			return nil, &Error{Path: r.path, Msg: "the file is empty: a CSV needs a header row naming its columns"}
		}
		if err != nil {
			return nil, err
		}
		break
	}
	r.cols = make([]string, len(c.fields))
	for i, f := range c.fields {
		r.cols[i] = string(f)
	}
	r.kinds = make([]Kind, len(c.fields))
	c.ncols = len(c.fields)
	c.max = maxCells / c.ncols
	if c.max < 64 {
		c.max = 64
	}
	if c.max > 16384 {
		c.max = 16384
	}
	c.batch.Cols = make([]Column, c.ncols)
	for i := range c.batch.Cols {
		c.batch.Cols[i].Text = make([][]byte, c.max)
	}
	return c, nil
}

// fill moves the unparsed tail to the front of the buffer and reads until
// the buffer is full or the file ends. A buffer already full of one
// unfinished record is doubled.
func (c *csvReader) fill() error {
	if c.eof {
		return nil
	}
	if c.start > 0 {
		n := copy(c.buf, c.buf[c.start:c.end])
		c.start, c.end = 0, n
	}
	if c.end == len(c.buf) {
		nb := make([]byte, 2*len(c.buf))
		copy(nb, c.buf[:c.end])
		c.buf = nb
	}
	for c.end < len(c.buf) {
		n, err := c.src.Read(c.buf[c.end:])
		c.end += n
		if err == io.EOF {
			c.eof = true
			break
		}
		if err != nil {
			return c.readError(err)
		}
	}
	return nil
}

func (c *csvReader) readError(err error) error {
	if c.gz != nil {
		return &Error{Path: c.r.path, Msg: fmt.Sprintf("the gzip stream is damaged (%v): check the file is complete", err)}
	}
	return fmt.Errorf("%s: %w", c.r.path, err)
}

func (c *csvReader) close() {
	if c.gz != nil {
		c.gz.Close()
	}
}

func (c *csvReader) next() (*Batch, error) {
	// The previous batch is done with: refill when less than half a
	// buffer is left, so batches stay large.
	if !c.eof && c.end-c.start < len(c.buf)/2 {
		if err := c.fill(); err != nil {
			return nil, err
		}
	}
	b := &c.batch
	for i := range b.Cols {
		b.Cols[i].Text = b.Cols[i].Text[:c.max]
	}
	rows := 0
	for rows < c.max {
		err := c.parseRecord()
		if err == needMore {
			if rows > 0 {
				break // cells point into the buffer: refill on the next call
			}
			if err := c.fill(); err != nil {
				return nil, err
			}
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		c.row++
		if len(c.fields) != c.ncols {
			return nil, c.errorf(c.line-c.recordLines, "row %d has %d %s, the header has %d: every row needs one value per column (quote values that contain commas, as in \"a, b\")",
				c.row, len(c.fields), pluralField(len(c.fields)), c.ncols)
		}
		for i, f := range c.fields {
			b.Cols[i].Text[rows] = f
		}
		rows++
	}
	if rows == 0 {
		return nil, io.EOF
	}
	b.Len = rows
	for i := range b.Cols {
		b.Cols[i].Text = b.Cols[i].Text[:rows]
	}
	return b, nil
}

func pluralField(n int) string {
	if n == 1 {
		return "field"
	}
	return "fields"
}

func (c *csvReader) errorf(line int64, format string, args ...any) error {
	return &Error{Path: c.r.path, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// colName names field i for messages.
func (c *csvReader) colName(i int) string {
	if c.ncols > 0 && i < len(c.r.cols) {
		return fmt.Sprintf("column %d (%q)", i+1, c.r.cols[i])
	}
	return fmt.Sprintf("column %d", i+1)
}

// parseRecord parses the next record of the buffer into c.fields and
// advances past it. It returns needMore when the buffer ends inside the
// record and the file has more, io.EOF when no record is left.
// c.recordLines is the number of line breaks the record spanned.
func (c *csvReader) parseRecord() error {
	for {
		data := c.buf[c.start:c.end]
		if len(data) == 0 {
			if c.eof {
				return io.EOF
			}
			return needMore
		}
		nl := bytes.IndexByte(data, '\n')
		line, adv := data, len(data)
		if nl >= 0 {
			line, adv = data[:nl], nl+1
		} else if !c.eof {
			return needMore
		}
		if bytes.IndexByte(line, '"') >= 0 {
			return c.parseQuoted(data)
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if len(line) == 0 { // blank line
			c.start += adv
			if nl >= 0 {
				c.line++
			}
			continue
		}
		if !utf8.Valid(line) {
			return c.utf8Error(line, c.line)
		}
		f := c.fields[:0]
		for {
			i := bytes.IndexByte(line, ',')
			if i < 0 {
				f = append(f, line)
				break
			}
			f = append(f, line[:i:i])
			line = line[i+1:]
		}
		c.fields = f
		c.start += adv
		c.recordLines = 0
		if nl >= 0 {
			c.line++
			c.recordLines = 1
		}
		return nil
	}
}

func (c *csvReader) utf8Error(b []byte, line int64) error {
	off := 0
	for off < len(b) {
		r, size := utf8.DecodeRune(b[off:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		off += size
	}
	// Report the physical line and the byte's position in it.
	lineStart := bytes.LastIndexByte(b[:off], '\n') + 1
	line += int64(bytes.Count(b[:off], []byte{'\n'}))
	bad := byte(0)
	if off < len(b) {
		bad = b[off]
	}
	return c.errorf(line, "byte %d of the line (0x%02X) is not valid UTF-8: save the file as UTF-8 (for example: iconv -f latin1 -t utf-8 in.csv > out.csv)", off-lineStart+1, bad)
}

// parseQuoted parses a record with at least one quote in its first line.
// The first pass finds the record's end and checks its syntax without
// changing the buffer (so a record cut by the buffer's end can be parsed
// again after a refill); the second unescapes quoted fields in place.
func (c *csvReader) parseQuoted(data []byte) error {
	n := len(data)
	spans := c.spans[:0]
	p := 0
	recEnd := -1 // end of the record including its line break
	for recEnd < 0 {
		if p < n && data[p] == '"' {
			fieldStart := p
			q := p + 1
			for {
				i := bytes.IndexByte(data[q:], '"')
				if i < 0 {
					if !c.eof {
						return needMore
					}
					return c.errorf(c.line+int64(bytes.Count(data[:fieldStart], []byte{'\n'})),
						"a quoted value in %s is never closed: add the closing quote (\")", c.colName(len(spans)))
				}
				closeAt := q + i
				q = closeAt + 1
				if q == n {
					if !c.eof {
						return needMore
					}
					spans = append(spans, span{fieldStart + 1, closeAt, true})
					recEnd = n
					break
				}
				switch data[q] {
				case '"':
					q++
					continue
				case ',':
					spans = append(spans, span{fieldStart + 1, closeAt, true})
					p = q + 1
				case '\n':
					spans = append(spans, span{fieldStart + 1, closeAt, true})
					recEnd = q + 1
				case '\r':
					switch {
					case q+1 < n && data[q+1] == '\n':
						spans = append(spans, span{fieldStart + 1, closeAt, true})
						recEnd = q + 2
					case q+1 == n && !c.eof:
						return needMore
					case q+1 == n:
						spans = append(spans, span{fieldStart + 1, closeAt, true})
						recEnd = n
					default:
						return c.quoteError(data, closeAt, len(spans))
					}
				default:
					return c.quoteError(data, closeAt, len(spans))
				}
				break
			}
			continue
		}
		// An unquoted field runs to the next comma or line break.
		j := p
		for j < n && data[j] != ',' && data[j] != '\n' {
			j++
		}
		if j == n && !c.eof {
			return needMore
		}
		field := data[p:j]
		if k := bytes.IndexByte(field, '"'); k >= 0 {
			return c.errorf(c.line+int64(bytes.Count(data[:p], []byte{'\n'})),
				"a quote (\") inside the unquoted value in %s: quote the whole value and double the quotes inside it, as in \"say \"\"hi\"\"\"", c.colName(len(spans)))
		}
		if j < n && data[j] == ',' {
			spans = append(spans, span{p, j, false})
			p = j + 1
			continue
		}
		end := j
		if end > p && data[end-1] == '\r' {
			end--
		}
		spans = append(spans, span{p, end, false})
		if j < n {
			recEnd = j + 1
		} else {
			recEnd = n
		}
	}
	rec := data[:recEnd]
	if !utf8.Valid(rec) {
		return c.utf8Error(rec, c.line)
	}
	f := c.fields[:0]
	for _, s := range spans {
		if !s.quoted {
			f = append(f, rec[s.start:s.end:s.end])
			continue
		}
		f = append(f, unescape(rec[s.start:s.end]))
	}
	c.fields = f
	c.spans = spans
	lines := int64(bytes.Count(rec, []byte{'\n'}))
	c.line += lines
	c.recordLines = lines
	c.start += recEnd
	return nil
}

// unescape turns `""` into `"` and "\r\n" into "\n" in place, returning
// the shortened field.
func unescape(b []byte) []byte {
	if bytes.IndexByte(b, '"') < 0 && bytes.IndexByte(b, '\r') < 0 {
		return b[:len(b):len(b)]
	}
	w := 0
	for r := 0; r < len(b); r++ {
		ch := b[r]
		if ch == '"' && r+1 < len(b) && b[r+1] == '"' {
			r++
		} else if ch == '\r' && r+1 < len(b) && b[r+1] == '\n' {
			continue
		}
		b[w] = ch
		w++
	}
	return b[:w:w]
}

func (c *csvReader) quoteError(data []byte, closeAt, field int) error {
	return c.errorf(c.line+int64(bytes.Count(data[:closeAt], []byte{'\n'})),
		"the quoted value in %s has characters after its closing quote: write a quote inside a quoted value as two quotes (\"\"), or remove the stray quote", c.colName(field))
}
