package cohortextractor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/actions/dataset"
	"github.com/haven-tre/haven/internal/actions/workspace"
	"github.com/haven-tre/haven/internal/artificial/expect"
	"github.com/haven-tre/haven/internal/artificial/records"
	"github.com/haven-tre/haven/internal/atomicfile"
)

// maxDummyProblems bounds the bad values reported from one file.
const maxDummyProblems = 10

var dateLayouts = map[string]*regexp.Regexp{
	expect.FormatDay:   regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`),
	expect.FormatMonth: regexp.MustCompile(`^\d{4}-\d{2}$`),
	expect.FormatYear:  regexp.MustCompile(`^\d{4}$`),
}

// copyDummy checks a user's dummy data file against the definition and
// copies it, byte for byte, to every output (spec artificial-data 7.7;
// upstream cohort-extractor validates the same way before copying).
func copyDummy(ctx context.Context, dir, file, ext string, jobs []cohortJob, skip bool, stdout io.Writer) error {
	if len(jobs) == 0 {
		return nil
	}
	def := jobs[0].def
	for _, j := range jobs {
		if j.def != def {
			return usage("--dummy-data-file needs one study definition: give --study-definition NAME")
		}
	}
	if !strings.HasSuffix(file, "."+ext) {
		return haven.Errorf(haven.EINVALID, "dummy_data_file %s does not have the output format's extension .%s: convert it, or change --output-format to match it", file, ext)
	}
	full, err := workspace.Resolve(dir, file)
	if err != nil {
		return haven.Errorf(haven.EINVALID, "dummy_data_file %v", err)
	}
	info, err := os.Stat(full)
	if errors.Is(err, os.ErrNotExist) {
		return haven.Errorf(haven.EINVALID, "dummy_data_file %s does not exist: commit the file to the project at that path, or fix dummy_data_file in project.yaml", file)
	}
	if err != nil {
		return &haven.Error{Code: haven.EINTERNAL, Message: "cannot read dummy_data_file " + file, Err: err}
	}
	if !info.Mode().IsRegular() {
		return haven.Errorf(haven.EINVALID, "dummy_data_file %s is not a regular file", file)
	}
	if err := validateDummy(ctx, full, file, def); err != nil {
		return err
	}
	src, err := os.ReadFile(full)
	if err != nil {
		return &haven.Error{Code: haven.EINTERNAL, Message: "cannot read dummy_data_file " + file, Err: err}
	}
	for _, j := range jobs {
		dst, err := workspace.Resolve(dir, j.rel)
		if err != nil {
			return err
		}
		if skip {
			if _, err := os.Stat(dst); err == nil {
				fmt.Fprintf(stdout, "Skipping %s: it exists (--skip-existing)\n", j.rel)
				continue
			}
		}
		if err := atomicfile.WriteFile(dst, src); err != nil {
			return fmt.Errorf("writing %s: %w", j.rel, err)
		}
		fmt.Fprintf(stdout, "Copied dummy data %s to %s\n", file, j.rel)
	}
	return nil
}

// validateDummy checks that a file has exactly the definition's columns
// and that every value parses as its variable's type.
func validateDummy(ctx context.Context, full, file string, def *dataset.Definition) error {
	r, err := records.Open(full)
	if err != nil {
		return haven.Errorf(haven.EINVALID, "dummy_data_file %s cannot be read: %v", file, err)
	}
	defer r.Close()
	cols := r.Columns()
	want := def.Columns()
	var missing, extra []string
	for _, c := range want {
		if !slices.Contains(cols, c) {
			missing = append(missing, c)
		}
	}
	for _, c := range cols {
		if !slices.Contains(want, c) {
			extra = append(extra, c)
		}
	}
	if len(missing) > 0 || len(extra) > 0 {
		var parts []string
		if len(missing) > 0 {
			parts = append(parts, "it lacks "+strings.Join(missing, ", "))
		}
		if len(extra) > 0 {
			parts = append(parts, "it has columns the definition does not declare: "+strings.Join(extra, ", "))
		}
		return haven.Errorf(haven.EINVALID, "dummy_data_file %s does not match %s: %s; its columns must be exactly patient_id and the definition's variables",
			file, def.File, strings.Join(parts, "; "))
	}
	vars := map[string]expect.Variable{}
	for _, v := range def.Study.Variables {
		vars[v.Name] = v
	}
	var problems []string
	row := int64(0)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return haven.Errorf(haven.EINVALID, "dummy_data_file %s: %v", file, err)
		}
		for ci, name := range cols {
			c := &b.Cols[ci]
			for i := 0; i < b.Len && len(problems) < maxDummyProblems; i++ {
				if msg := checkValue(name, vars[name], c, i); msg != "" {
					where := fmt.Sprintf("row %d", row+int64(i)+1)
					if r.Format() == records.CSV || r.Format() == records.CSVGzip {
						where = fmt.Sprintf("line %d", row+int64(i)+2)
					}
					problems = append(problems, fmt.Sprintf("%s:%s: column %s: %s", file, strings.TrimPrefix(where, "line "), name, msg))
				}
			}
		}
		row += int64(b.Len)
	}
	if len(problems) > 0 {
		return haven.Errorf(haven.EINVALID, "dummy_data_file %s has values that do not match %s:\n  %s", file, def.File, strings.Join(problems, "\n  "))
	}
	return nil
}

// checkValue returns what is wrong with row i of column c, "" if nothing.
func checkValue(name string, v expect.Variable, c *records.Column, i int) string {
	if c.Null(i) {
		if name == expect.PatientID {
			return "patient_id is empty: every row needs one"
		}
		return ""
	}
	if c.Kind != records.Text {
		switch {
		case name == expect.PatientID && c.Kind == records.Int,
			v.Kind == expect.Int && c.Kind == records.Int,
			v.Kind == expect.Float && (c.Kind == records.Float || c.Kind == records.Int),
			v.Kind == expect.Bool && (c.Kind == records.Bool || c.Kind == records.Int && (c.Ints[i] == 0 || c.Ints[i] == 1)),
			v.Kind == expect.Date && c.Kind == records.Date:
			return ""
		}
		return fmt.Sprintf("a %s value where the definition declares %s", c.Kind, kindText(name, v))
	}
	s := string(c.Text[i])
	if s == "" {
		if name == expect.PatientID {
			return "patient_id is empty: every row needs one"
		}
		return ""
	}
	bad := func() string { return fmt.Sprintf("%q is not %s", s, kindText(name, v)) }
	if name == expect.PatientID {
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			return bad()
		}
		return ""
	}
	switch v.Kind {
	case expect.Int:
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			return bad()
		}
	case expect.Float:
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return bad()
		}
	case expect.Bool:
		if s != "0" && s != "1" {
			return bad()
		}
	case expect.Date:
		f := v.DateFormat
		if f == "" {
			f = expect.FormatDay
		}
		if !dateLayouts[f].MatchString(s) {
			return bad()
		}
		if f == expect.FormatDay {
			if _, err := expect.ParseISODate(s); err != nil {
				return bad()
			}
		}
	case expect.Category:
		if len(v.Categories) > 0 && !slices.Contains(v.Categories, s) {
			return fmt.Sprintf("%q is not one of the categories %s", s, strings.Join(v.Categories, ", "))
		}
	}
	return ""
}

func kindText(name string, v expect.Variable) string {
	if name == expect.PatientID {
		return "an integer patient_id"
	}
	switch v.Kind {
	case expect.Int:
		return "an integer"
	case expect.Float:
		return "a number"
	case expect.Bool:
		return "a boolean (0 or 1)"
	case expect.Date:
		f := v.DateFormat
		if f == "" {
			f = expect.FormatDay
		}
		return "a date written " + f
	case expect.Category:
		return "a category"
	}
	return v.Kind.String()
}
