package outputs

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/haven-tre/haven/internal/pipeline"
)

// level4Check is the verdict of the Level-4 checks on one
// moderately_sensitive output.
type level4Check struct {
	excluded bool
	message  string // the job message, reasons joined by ","; "" when not excluded
	note     string // the <path>.txt note for the medium-privacy workspace
	rows     *int   // CSV data rows, nil when not counted
	cols     *int   // CSV header columns, nil when not counted
}

// checkLevel4 runs the Level-4 checks on a moderately_sensitive output of
// the given size, in upstream's order (spec §22.6): size, else type, else
// for a .csv the patient_id column and the row count. open gives the
// file's content; it is called only for CSV files within the size limit.
func checkLevel4(name string, size, maxSize int64, maxRows int, open func() (io.ReadCloser, error)) (level4Check, error) {
	var c level4Check
	var msgs, notes []string
	suffix := pathSuffix(path.Base(name))
	switch {
	case size > maxSize:
		msgs = append(msgs, fmt.Sprintf("File size of %sMb is larger that limit of %sMb.", megabytes(size), megabytes(maxSize)))
		notes = append(notes, fmt.Sprintf(maxSizeNote, name, megabytes(size), megabytes(maxSize), name))
	case !isLevel4FileType(suffix):
		msgs = append(msgs, fmt.Sprintf("File type of %s is not valid level 4 file", suffix))
		notes = append(notes, fmt.Sprintf(fileTypeNote, name, suffix))
	case suffix == ".csv":
		r, err := open()
		if err != nil {
			return c, err
		}
		rows, cols, header, err := csvCounts(r)
		r.Close()
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe):
			// As upstream: a CSV that cannot be parsed skips the CSV checks
			// and leaves the counts null.
		case err != nil:
			return c, fmt.Errorf("read %s: %w", name, err)
		default:
			c.rows, c.cols = &rows, &cols
			if hasPatientID(header) {
				msgs = append(msgs, "File has patient_id column")
				notes = append(notes, fmt.Sprintf(patientIDNote, name))
			}
			if rows > maxRows {
				msgs = append(msgs, fmt.Sprintf("File row count (%d) exceeds maximum allowed rows (%d)", rows, maxRows))
				notes = append(notes, fmt.Sprintf(maxRowsNote, name, rows, maxRows))
			}
		}
	}
	if len(msgs) > 0 {
		c.excluded = true
		c.message = strings.Join(msgs, ",")
		c.note = strings.Join(notes, "\n\n")
	}
	return c, nil
}

// hasPatientID reports whether a CSV header has a field that is exactly
// patient_id. A UTF-8 byte-order mark before the first field is ignored
// (upstream would miss such a column; Haven does not).
func hasPatientID(header []string) bool {
	for i, f := range header {
		if i == 0 {
			f = strings.TrimPrefix(f, "\ufeff")
		}
		if f == "patient_id" {
			return true
		}
	}
	return false
}

// csvCounts counts a CSV's data records (after the header; a quoted
// newline does not start a record; blank lines are skipped) and its header
// columns. A file with only a header, or empty, has 0 rows and 0 columns,
// as upstream counts them.
func csvCounts(r io.Reader) (rows, cols int, header []string, err error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	rec, err := cr.Read()
	if err == io.EOF {
		return 0, 0, nil, nil
	}
	if err != nil {
		return 0, 0, nil, err
	}
	header = append([]string(nil), rec...)
	for {
		_, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, 0, header, err
		}
		rows++
	}
	if rows > 0 {
		cols = len(header)
	}
	return rows, cols, header, nil
}

// megabytes writes a byte count as upstream does: MiB rounded to 2
// decimals, in Python's shortest float form with at least one decimal
// (16.0, 17.25).
func megabytes(b int64) string {
	rounded := strconv.FormatFloat(float64(b)/(1<<20), 'f', 2, 64)
	v, _ := strconv.ParseFloat(rounded, 64)
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return s
}

// pathSuffix is Python pathlib's suffix of a file name: from its last dot,
// or "" when the name has no dot, starts with its only dot or ends with a
// dot.
func pathSuffix(name string) string {
	i := strings.LastIndexByte(name, '.')
	if i > 0 && i < len(name)-1 {
		return name[i:]
	}
	return ""
}

// isLevel4FileType reports whether a suffix is allowed at
// moderately_sensitive (case-sensitive).
func isLevel4FileType(suffix string) bool {
	for _, t := range pipeline.Level4FileTypes {
		if suffix == t {
			return true
		}
	}
	return false
}

// The notes written to <path>.txt in the medium-privacy workspace for an
// excluded file, one per reason, joined by a blank line. They are
// upstream's, with the sentence saying the file was not copied added where
// upstream leaves it implicit.
const (
	maxSizeNote = `
The file:

%s

was %sMb, which is above the limit for moderately_sensitive files of
%sMb.

As such, it has *not* been copied to Level 4 storage. Please double check that
%s contains only aggregate information, and is an appropriate size to
be able to be output checked.
`
	fileTypeNote = `
The file:

%s

is of type %s. This is not a valid file type for moderately_sensitive files.

As such, it has *not* been copied to Level 4 storage.

Level 4 files should be aggregate information easily viewable by output checkers.

See available list of file types here: https://docs.opensafely.org/requesting-file-release/#allowed-file-types.
`
	patientIDNote = "\nThe file:\n\n%s\n\nhas not been made available in level 4 because it has a `patient_id` column.\n\n" +
		"As such, it has *not* been copied to Level 4 storage.\n\n" +
		"Patient level data is not allowed by policy in level 4.\n\n" +
		"You should change this file's privacy to `highly_sensitive` in your\n" +
		"project.yaml. Or, if is aggregrate data, you should remove the patient_id\n" +
		"column from your data.\n\n"
	maxRowsNote = `
The file:

%s

contained %d rows, which is above the limit for moderately_sensitive files of
%d rows.

As such, it has *not* been copied to Level 4 storage. Please contact tech-support for
further assistance.
`
)
