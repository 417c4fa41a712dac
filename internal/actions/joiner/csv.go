package joiner

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
)

// CSV is read record by record, keeping each record's bytes as they are
// in the file so that output lines repeat them exactly. The rules are RFC
// 4180's, as Go's encoding/csv applies them: comma separator, fields may
// be quoted, a quote in a quoted field is doubled, quoted fields may span
// lines, a line may end in "\r\n", blank lines are skipped and a UTF-8
// byte order mark before the header is dropped. Every record must have as
// many fields as the header, and the file must be UTF-8.

// csvReader reads the records of a CSV or gzip-compressed CSV file.
type csvReader struct {
	rel   string // the file's workspace path, for messages
	f     *os.File
	gz    *gzip.Reader
	br    *bufio.Reader
	line  int64 // line number of the next physical line, from 1
	first bool  // the next record is the file's first
	rec   []byte
	spans []span
}

// span is one field of a record: rec[start:end], quotes included.
type span struct {
	start, end int
	quoted     bool
}

// readBuf is the size of the read buffers; records longer than it are
// read in pieces.
var readBuf = 1 << 20

// openCSV opens full (rel in messages) as CSV, decompressing it when gz.
func openCSV(full, rel string, gz bool) (*csvReader, error) {
	f, err := os.Open(full)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", rel, osErr(err))
	}
	r := &csvReader{rel: rel, f: f, line: 1, first: true}
	br := bufio.NewReaderSize(f, readBuf)
	magic, _ := br.Peek(2)
	isGz := len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b
	switch {
	case gz && !isGz && len(magic) > 0:
		f.Close()
		return nil, fmt.Errorf("%s: the name ends in .gz but the file is not gzip-compressed: rename it to .csv, or compress it with gzip", rel)
	case !gz && isGz:
		f.Close()
		return nil, fmt.Errorf("%s: the file is gzip-compressed but its name ends in .csv: rename it to .csv.gz", rel)
	case gz && isGz:
		z, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: not a valid gzip file (%v): check the file is complete", rel, err)
		}
		r.gz = z
		br = bufio.NewReaderSize(z, readBuf)
	}
	r.br = br
	return r, nil
}

func (r *csvReader) close() {
	if r.gz != nil {
		r.gz.Close()
	}
	r.f.Close()
}

// header reads the header record and returns its raw record, its fields
// and the column names.
func (r *csvReader) header() (rec []byte, spans []span, names []string, err error) {
	rec, _, err = r.next()
	if err == io.EOF {
		return nil, nil, nil, fmt.Errorf("%s: the file is empty: a CSV needs a header row naming its columns", r.rel)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	rec = bytes.Clone(rec)
	spans, err = r.split(rec, 1)
	if err != nil {
		return nil, nil, nil, err
	}
	spans = append([]span(nil), spans...)
	names = make([]string, len(spans))
	for i, s := range spans {
		names[i] = string(unquote(rec, s))
	}
	return rec, spans, names, nil
}

// next returns the next record without its line ending, and the line it
// starts on. The record is valid until the next call. After the last
// record it returns io.EOF.
func (r *csvReader) next() ([]byte, int64, error) {
	for {
		r.rec = r.rec[:0]
		start := r.line
		quotes := 0
		for {
			chunk, err := r.br.ReadSlice('\n')
			r.rec = append(r.rec, chunk...)
			quotes += bytes.Count(chunk, []byte{'"'})
			if err == bufio.ErrBufferFull {
				continue
			}
			if len(chunk) > 0 && chunk[len(chunk)-1] == '\n' {
				r.line++
			}
			if err == io.EOF {
				if len(r.rec) == 0 {
					return nil, 0, io.EOF
				}
				if quotes%2 == 1 {
					return nil, 0, fmt.Errorf("%s:%d: a quoted value is never closed: add the closing quote (\")", r.rel, start)
				}
				break
			}
			if err != nil {
				if r.gz != nil {
					return nil, 0, fmt.Errorf("%s: the gzip stream is damaged (%v): check the file is complete", r.rel, err)
				}
				return nil, 0, fmt.Errorf("%s: %v", r.rel, osErr(err))
			}
			if quotes%2 == 0 {
				break
			}
		}
		rec := r.rec
		if n := len(rec); n > 0 && rec[n-1] == '\n' {
			rec = rec[:n-1]
			if n := len(rec); n > 0 && rec[n-1] == '\r' {
				rec = rec[:n-1]
			}
		}
		if r.first {
			r.first = false
			rec = bytes.TrimPrefix(rec, []byte("\xef\xbb\xbf"))
		}
		if len(rec) == 0 {
			continue // a blank line
		}
		if !utf8.Valid(rec) {
			return nil, 0, r.utf8Error(rec, start)
		}
		return rec, start, nil
	}
}

func (r *csvReader) utf8Error(rec []byte, line int64) error {
	off := 0
	for off < len(rec) {
		c, size := utf8.DecodeRune(rec[off:])
		if c == utf8.RuneError && size <= 1 {
			break
		}
		off += size
	}
	line += int64(bytes.Count(rec[:off], []byte{'\n'}))
	return fmt.Errorf("%s:%d: the file is not valid UTF-8 (byte 0x%02X): save it as UTF-8", r.rel, line, rec[off])
}

// split finds the fields of rec, which starts on line; the spans are
// valid until the next call.
func (r *csvReader) split(rec []byte, line int64) ([]span, error) {
	spans, col, msg := splitFields(rec, r.spans[:0])
	r.spans = spans
	if msg != "" {
		return nil, fmt.Errorf("%s:%d: field %d %s", r.rel, line, col+1, msg)
	}
	return spans, nil
}

// splitFields appends the fields of rec to dst. On a syntax error it
// returns the 0-based field and what is wrong with it.
func splitFields(rec []byte, dst []span) ([]span, int, string) {
	if bytes.IndexByte(rec, '"') < 0 {
		start := 0
		for {
			i := bytes.IndexByte(rec[start:], ',')
			if i < 0 {
				return append(dst, span{start, len(rec), false}), 0, ""
			}
			dst = append(dst, span{start, start + i, false})
			start += i + 1
		}
	}
	p := 0
	for {
		if p < len(rec) && rec[p] == '"' {
			q := p + 1
			for {
				i := bytes.IndexByte(rec[q:], '"')
				if i < 0 {
					return dst, len(dst), "has a quoted value that is never closed: add the closing quote (\")"
				}
				q += i + 1
				if q < len(rec) && rec[q] == '"' {
					q++
					continue
				}
				break
			}
			dst = append(dst, span{p, q, true})
			if q == len(rec) {
				return dst, 0, ""
			}
			if rec[q] != ',' {
				return dst, len(dst) - 1, "has characters after its closing quote: write a quote inside a quoted value as two quotes (\"\")"
			}
			p = q + 1
			continue
		}
		end := len(rec)
		j := bytes.IndexByte(rec[p:], ',')
		if j >= 0 {
			end = p + j
		}
		if bytes.IndexByte(rec[p:end], '"') >= 0 {
			return dst, len(dst), "has a quote (\") inside an unquoted value: quote the whole value and double the quotes inside it"
		}
		dst = append(dst, span{p, end, false})
		if j < 0 {
			return dst, 0, ""
		}
		p = end + 1
	}
}

// unquote returns the value of field s of rec: its bytes, without the
// quotes and with doubled quotes made single when it is quoted.
func unquote(rec []byte, s span) []byte {
	b := rec[s.start:s.end]
	if !s.quoted {
		return b
	}
	b = b[1 : len(b)-1]
	if bytes.IndexByte(b, '"') < 0 {
		return b
	}
	return bytes.ReplaceAll(b, []byte(`""`), []byte(`"`))
}

// appendField appends v as a CSV field, quoted only when it holds a comma,
// a quote or a line break (Python's csv.QUOTE_MINIMAL, which pandas uses).
func appendField(dst, v []byte) []byte {
	if bytes.IndexAny(v, ",\"\r\n") < 0 {
		return append(dst, v...)
	}
	dst = append(dst, '"')
	for _, c := range v {
		if c == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}

// csvWriter writes CSV, or gzip-compressed CSV, to a file.
type csvWriter struct {
	bw *bufio.Writer
	gz *gzip.Writer
}

func newCSVWriter(w io.Writer, gz bool) (*csvWriter, error) {
	cw := &csvWriter{}
	if gz {
		z, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
		if err != nil {
			return nil, err
		}
		cw.gz = z
		w = z
	}
	cw.bw = bufio.NewWriterSize(w, 1<<20)
	return cw, nil
}

func (w *csvWriter) close() error {
	err := w.bw.Flush()
	if w.gz != nil {
		err = errors.Join(err, w.gz.Close())
	}
	return err
}

// joinCSV streams the CSV left-hand file, appending the right-hand cells of
// each row's patient, and returns the number of rows written.
func (j *job) joinCSV(full, rel string, f format, rhs *rhsTable, out io.Writer) (int64, error) {
	r, err := openCSV(full, rel, f == formatCSVGz)
	if err != nil {
		return 0, err
	}
	defer r.close()
	hrec, hspans, names, err := r.header()
	if err != nil {
		return 0, err
	}
	pid, err := checkNames(rel, names)
	if err != nil {
		return 0, err
	}
	lhsOut, rhsOut, both, err := outputNames(rel, names, rhs)
	if err != nil {
		return 0, err
	}
	j.warnBoth(rel, rhs.rel, both)
	text, err := rhs.textRows(j.ctx)
	if err != nil {
		return 0, err
	}

	w, err := newCSVWriter(out, f == formatCSVGz)
	if err != nil {
		return 0, err
	}
	// The header: each name as written unless renamed.
	var line []byte
	for i, s := range hspans {
		if i > 0 {
			line = append(line, ',')
		}
		if lhsOut[i] == names[i] {
			line = append(line, hrec[s.start:s.end]...)
		} else {
			line = appendField(line, []byte(lhsOut[i]))
		}
	}
	for i, n := range rhsOut {
		line = append(line, ',')
		if n == rhs.names[i] && rhs.rawNames != nil {
			line = append(line, rhs.rawNames[i]...)
		} else {
			line = appendField(line, []byte(n))
		}
	}
	line = append(line, '\n')
	if _, err := w.bw.Write(line); err != nil {
		return 0, fmt.Errorf("%s: writing the output: %v", rel, osErr(err))
	}

	ncols := len(names)
	var rows int64
	for {
		if rows%4096 == 0 {
			if err := j.ctx.Err(); err != nil {
				return 0, err
			}
		}
		rec, ln, err := r.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
		spans, err := r.split(rec, ln)
		if err != nil {
			return 0, err
		}
		if len(spans) != ncols {
			return 0, fmt.Errorf("%s:%d: the row has %d %s, the header has %d: every row needs one value per column (quote values that contain commas)",
				rel, ln, len(spans), plural(int64(len(spans)), "field", "fields"), ncols)
		}
		row, found := rhs.index.lookupText(unquote(rec, spans[pid]))
		w.bw.Write(rec)
		if found {
			w.bw.Write(text.row(row))
		} else {
			w.bw.Write(text.missing)
		}
		if err := w.bw.WriteByte('\n'); err != nil {
			return 0, fmt.Errorf("%s: writing the output: %v", rel, osErr(err))
		}
		rows++
	}
	if err := w.close(); err != nil {
		return 0, fmt.Errorf("%s: writing the output: %v", rel, osErr(err))
	}
	return rows, nil
}
