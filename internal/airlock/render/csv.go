package render

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"html"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/haven-tre/haven/internal/disclosure"
)

// MaxTableRows is how many data rows a CSV table shows.
const MaxTableRows = 5000

// tableScript sorts a CSV table by a column and hides columns. It is the
// only script a content response may run: the CSP allows it by hash, and
// it uses no inline handlers.
const tableScript = `(function () {
  "use strict";
  var table = document.getElementById("csv");
  if (!table || !table.tHead || !table.tBodies.length) { return; }
  var body = table.tBodies[0];
  var showAll = document.getElementById("show-all");
  var order = {};
  function number(s) {
    var t = s.replace(/,/g, "").replace(/%$/, "").trim();
    if (t === "" || isNaN(t)) { return null; }
    return parseFloat(t);
  }
  function sortBy(col) {
    var dir = order[col] === 1 ? -1 : 1;
    order = {};
    order[col] = dir;
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col] ? a.cells[col].textContent : "";
      var y = b.cells[col] ? b.cells[col].textContent : "";
      var nx = number(x), ny = number(y);
      if (nx !== null && ny !== null) { return dir * (nx - ny); }
      if (nx !== null) { return -dir; }
      if (ny !== null) { return dir; }
      return dir * x.localeCompare(y);
    });
    rows.forEach(function (r) { body.appendChild(r); });
    var heads = table.tHead.rows[0].cells;
    for (var i = 0; i < heads.length; i++) {
      heads[i].setAttribute("aria-sort", i === col ? (dir === 1 ? "ascending" : "descending") : "none");
    }
  }
  function setColumn(col, shown) {
    var rows = table.rows;
    for (var i = 0; i < rows.length; i++) {
      if (rows[i].cells[col]) { rows[i].cells[col].style.display = shown ? "" : "none"; }
    }
  }
  var hidden = {};
  table.tHead.addEventListener("click", function (e) {
    var button = e.target.closest("button");
    if (!button) { return; }
    var col = parseInt(button.getAttribute("data-col"), 10);
    if (button.classList.contains("hide")) {
      hidden[col] = true;
      setColumn(col, false);
      if (showAll) { showAll.hidden = false; }
    } else {
      sortBy(col);
    }
  });
  if (showAll) {
    showAll.addEventListener("click", function () {
      Object.keys(hidden).forEach(function (c) { setColumn(parseInt(c, 10), true); });
      hidden = {};
      showAll.hidden = true;
    });
  }
}());`

// scriptHash is a script's CSP source: 'sha256-' and its base64 digest.
func scriptHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// tableStyle styles a CSV table page.
const tableStyle = `
table{border-collapse:collapse;font-size:13px}
#csv th,#csv td{border:1px solid #d0d0d0;padding:2px 6px;text-align:left;vertical-align:top;white-space:pre-wrap}
#csv thead th{position:sticky;top:0;background:#eef0f3;z-index:1}
#csv th button{font:inherit;border:0;background:none;padding:0;cursor:pointer}
#csv th button.sort{font-weight:bold}
#csv th button.hide{margin-left:4px;color:#777}
#csv td.rownum,#csv th.rownum{color:#777;text-align:right}
.f-pass{background:#e6f2ff}.f-review{background:#fff1c2}.f-error{background:#f3d9ff}.f-fail{background:#ffc9c9;outline:2px solid #c00}
details.summary{margin:0 0 8px}details.summary table td,details.summary table th{border:1px solid #d0d0d0;padding:2px 6px}
ul.findings{margin:0 0 8px;padding-left:1.2em}`

// csvPage renders a CSV file as Haven's table: the summary panel, the
// file's findings, and at most MaxTableRows rows, every cell escaped and
// highlighted with its findings.
func csvPage(c Content) []byte {
	var b strings.Builder
	src := text(c.Data)
	records, total, err := readRecords(src)
	summaryPanel(&b, c.Data)
	fs := indexFindings(c.Findings)
	if len(fs.file) > 0 {
		b.WriteString(`<ul class="findings">`)
		for _, f := range fs.file {
			fmt.Fprintf(&b, `<li class="%s">%s</li>`, verdictClass(f.Verdict), html.EscapeString(findingText(f)))
		}
		b.WriteString(`</ul>`)
	}
	switch {
	case err != nil:
		b.WriteString(preBody(src, "This file cannot be read as a table ("+err.Error()+"), so it is shown as text."))
	case len(records) == 0:
		b.WriteString(`<p class="message">The file is empty.</p>`)
	default:
		writeTable(&b, records, total, fs)
	}
	b.WriteString("<script>" + tableScript + "</script>")
	return page(c.Name, tableStyle, b.String())
}

// readRecords reads CSV text leniently (ragged rows, stray quotes),
// keeping the header and the first MaxTableRows data rows, and counts all
// data rows.
func readRecords(src string) (records [][]string, total int, err error) {
	r := csv.NewReader(strings.NewReader(src))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	n := 0
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		if len(records) <= MaxTableRows {
			records = append(records, rec)
		}
		n++
	}
	return records, max(n-1, 0), nil
}

// cellFindings indexes findings by where they are shown.
type cellFindings struct {
	cell map[[2]int][]disclosure.Finding // (row, col), 1-based
	col  map[int][]disclosure.Finding
	row  map[int][]disclosure.Finding
	file []disclosure.Finding
	// byName resolves findings that name their column but not its index.
	byName map[string][]disclosure.Finding
}

func indexFindings(fs []disclosure.Finding) *cellFindings {
	x := &cellFindings{cell: map[[2]int][]disclosure.Finding{}, col: map[int][]disclosure.Finding{}, row: map[int][]disclosure.Finding{}, byName: map[string][]disclosure.Finding{}}
	for _, f := range fs {
		switch {
		case f.Col == 0 && f.Column != "":
			x.byName[f.Column] = append(x.byName[f.Column], f)
		case f.Row > 0 && f.Col > 0:
			x.cell[[2]int{f.Row, f.Col}] = append(x.cell[[2]int{f.Row, f.Col}], f)
		case f.Col > 0:
			x.col[f.Col] = append(x.col[f.Col], f)
		case f.Row > 0:
			x.row[f.Row] = append(x.row[f.Row], f)
		default:
			x.file = append(x.file, f)
		}
		for _, c := range f.Cells {
			if c.Row > 0 && c.Col > 0 && (c.Row != f.Row || c.Col != f.Col) {
				x.cell[[2]int{c.Row, c.Col}] = append(x.cell[[2]int{c.Row, c.Col}], f)
			}
		}
	}
	return x
}

// resolveNames moves findings that name a column into the cell, column or
// row maps, using the header; a name not in the header makes them
// file-level.
func (x *cellFindings) resolveNames(header []string) {
	names := make([]string, 0, len(x.byName))
	for n := range x.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		col := 0
		for i, h := range header {
			if strings.TrimSpace(h) == name {
				col = i + 1
				break
			}
		}
		for _, f := range x.byName[name] {
			switch {
			case col == 0:
				x.file = append(x.file, f)
			case f.Row > 0:
				x.cell[[2]int{f.Row, col}] = append(x.cell[[2]int{f.Row, col}], f)
			default:
				x.col[col] = append(x.col[col], f)
			}
		}
	}
	x.byName = nil
}

// writeTable writes the table with a sticky header, sort and hide
// buttons, row numbers and highlighted findings.
func writeTable(b *strings.Builder, records [][]string, total int, fs *cellFindings) {
	header, rows := records[0], records[1:]
	fs.resolveNames(header)
	width := len(header)
	for _, r := range rows {
		width = max(width, len(r))
	}
	if total > len(rows) {
		fmt.Fprintf(b, `<p class="note">Showing the first %s of %s rows.</p>`, groupDigits(len(rows)), groupDigits(total))
	}
	b.WriteString(`<p><button id="show-all" type="button" hidden>Show all columns</button></p>`)
	b.WriteString(`<table id="csv"><thead><tr><th class="rownum"><button class="sort" type="button" data-col="0">#</button></th>`)
	for c := 1; c <= width; c++ {
		name := ""
		if c <= len(header) {
			name = header[c-1]
		}
		b.WriteString("<th")
		writeFindingAttrs(b, fs.col[c], "")
		fmt.Fprintf(b, `><button class="sort" type="button" data-col="%d">%s</button><button class="hide" type="button" data-col="%d" title="Hide this column">×</button></th>`, c, html.EscapeString(name), c)
	}
	b.WriteString("</tr></thead><tbody>")
	for i, rec := range rows {
		row := i + 1
		b.WriteString("<tr><td")
		writeFindingAttrs(b, fs.row[row], "rownum")
		fmt.Fprintf(b, ">%d</td>", row)
		for c := 1; c <= width; c++ {
			v := ""
			if c <= len(rec) {
				v = rec[c-1]
			}
			b.WriteString("<td")
			writeFindingAttrs(b, fs.cell[[2]int{row, c}], "")
			b.WriteString(">")
			b.WriteString(html.EscapeString(v))
			b.WriteString("</td>")
		}
		b.WriteString("</tr>")
	}
	b.WriteString("</tbody></table>")
}

// writeFindingAttrs writes the class and title of a cell: the worst
// verdict of its findings, and each finding's rule and message.
func writeFindingAttrs(b *strings.Builder, fs []disclosure.Finding, class string) {
	if len(fs) > 0 {
		worst := disclosure.Pass
		lines := make([]string, len(fs))
		for i, f := range fs {
			worst = disclosure.Worst(worst, f.Verdict)
			lines[i] = findingText(f)
		}
		class = strings.TrimSpace(class + " " + verdictClass(worst))
		fmt.Fprintf(b, ` title="%s"`, html.EscapeString(strings.Join(lines, "\n")))
	}
	if class != "" {
		fmt.Fprintf(b, ` class="%s"`, class)
	}
}

// findingText is a finding as one line: rule, verdict and message.
func findingText(f disclosure.Finding) string {
	return f.Rule + " " + f.Verdict.String() + ": " + f.Message
}

// verdictClass is the CSS class of a verdict.
func verdictClass(v disclosure.Verdict) string {
	switch v {
	case disclosure.Fail:
		return "f-fail"
	case disclosure.Error:
		return "f-error"
	case disclosure.Review:
		return "f-review"
	}
	return "f-pass"
}

// summaryPanel writes the CSV summary panel, or why there is none.
func summaryPanel(b *strings.Builder, data []byte) {
	s, err := Summarise(data)
	b.WriteString(`<details class="summary"><summary>Summary statistics</summary>`)
	if err != nil {
		b.WriteString(`<p class="note">No summary: ` + html.EscapeString(err.Error()) + `</p></details>`)
		return
	}
	fmt.Fprintf(b, `<p class="note">%s data rows.</p>`, groupDigits(s.Rows))
	b.WriteString(`<table><thead><tr><th>Column</th><th>Type</th><th>Total</th><th>Numeric</th><th>Missing</th><th>Redacted</th><th>Min</th><th>Min non-zero</th><th>Max</th><th>Sum</th><th>Divisible by 5</th><th>Divisible by 6</th><th>Midpoint 6 rounded</th></tr></thead><tbody>`)
	for _, c := range s.Columns {
		cells := []string{c.Name, c.Type, strconv.Itoa(c.Total), strconv.Itoa(c.Numeric), strconv.Itoa(c.Missing), strconv.Itoa(c.Redacted)}
		if c.Numeric > 0 {
			minNZ := "-"
			if c.MinNonZero != 0 {
				minNZ = formatNumber(c.MinNonZero)
			}
			cells = append(cells, formatNumber(c.Min), minNZ, formatNumber(c.Max), formatNumber(c.Sum), yesNo(c.DivisibleBy5), yesNo(c.DivisibleBy6), yesNo(c.Midpoint6Rounded))
		} else {
			cells = append(cells, "-", "-", "-", "-", "-", "-", "-")
		}
		b.WriteString("<tr>")
		for _, v := range cells {
			b.WriteString("<td>" + html.EscapeString(v) + "</td>")
		}
		b.WriteString("</tr>")
	}
	b.WriteString("</tbody></table></details>")
}

func formatNumber(f float64) string { return strconv.FormatFloat(f, 'g', 15, 64) }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
