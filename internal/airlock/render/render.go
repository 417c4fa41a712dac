// Package render builds the content responses Airlock shows inside a
// sandboxed iframe (spec §12): its own HTML table for CSV files, escaped
// text for text files and logs, images in a scaling wrapper, HTML and SVG
// as raw bytes under a sandbox with no scripts, and downloads.
//
// File content is never trusted: every byte of it is escaped, served with
// an explicit type from the allow-list and a Content-Security-Policy whose
// sandbox has no tokens, except CSV tables, which may run Haven's own
// script and nothing else (allowed by its hash).
package render

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html"
	"net/http"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/haven-tre/haven/internal/disclosure"
	"github.com/haven-tre/haven/internal/policy"
)

// TemplateVersion changes whenever a rendering changes, so that cached
// renderings of frozen files are not reused.
const TemplateVersion = "1"

// ContentSecurityPolicy is sent with every content response but CSV
// tables: a sandbox with no tokens (no scripts, no same origin, no
// forms), no network, inline styles and data: images only.
const ContentSecurityPolicy = policy.ContentSecurityPolicy

// csvPolicy is sent with CSV tables: scripts may run in the sandbox (never
// with the same origin), and the only script allowed is Haven's, by hash.
var csvPolicy = "sandbox allow-scripts; default-src 'none'; script-src '" + scriptHash(tableScript) + "'; style-src 'unsafe-inline'; img-src data:"

// Content is a file to render.
type Content struct {
	Name     string // workspace-relative path; its suffix decides the rendering
	Data     []byte // the file's bytes, at most policy.MaxFileSize
	SHA256   string // set for frozen, immutable files: cached with an ETag; "" for workspace files
	Findings []disclosure.Finding
	Plain    bool // show any allowed type as escaped text
	Download bool // send the bytes as an attachment
}

// FrameSandbox returns the sandbox attribute of the iframe that shows a
// file: "allow-scripts" for a CSV table, "" (every restriction) otherwise.
func FrameSandbox(name string, plain bool) string {
	if !plain && policy.Suffix(name) == ".csv" && policy.AllowedType(name) {
		return "allow-scripts"
	}
	return ""
}

// response is a rendered body with its headers.
type response struct {
	status int
	ctype  string
	csp    string
	body   []byte
	attach bool
}

// Serve writes the content response for c: its security headers, caching
// headers (an ETag and a year's immutable caching when c.SHA256 is set,
// no-store otherwise; If-None-Match answers 304) and its body.
func Serve(w http.ResponseWriter, r *http.Request, c Content) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")

	allowed := policy.AllowedType(c.Name)
	etag := ""
	if c.SHA256 != "" && allowed {
		etag = `"` + c.SHA256 + "-" + TemplateVersion + `"`
		if etagMatch(r.Header.Get("If-None-Match"), etag) {
			h.Set("ETag", etag)
			h.Set("Cache-Control", "private, max-age=31536000, immutable")
			// A cache takes the headers of a 304 for the stored response,
			// so the policy must be the one the full response had.
			h.Set("Content-Security-Policy", cspFor(c))
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	resp := render(c, allowed)
	h.Set("Content-Security-Policy", resp.csp)
	h.Set("Content-Type", resp.ctype)
	h.Set("Content-Length", strconv.Itoa(len(resp.body)))
	if etag != "" && resp.status == http.StatusOK {
		h.Set("ETag", etag)
		h.Set("Cache-Control", "private, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-store")
	}
	if resp.attach {
		h.Set("Content-Disposition", attachment(path.Base(c.Name)))
	}
	w.WriteHeader(resp.status)
	if r.Method != http.MethodHead {
		w.Write(resp.body)
	}
}

// cspFor is the Content-Security-Policy of c's rendering: the CSV
// policy for a CSV table, ContentSecurityPolicy for everything else.
func cspFor(c Content) string {
	if !c.Download && FrameSandbox(c.Name, c.Plain) == "allow-scripts" {
		return csvPolicy
	}
	return ContentSecurityPolicy
}

// render builds the response for c.
func render(c Content, allowed bool) response {
	r := renderBody(c, allowed)
	r.csp = ContentSecurityPolicy
	if r.ctype == htmlType && r.status == http.StatusOK {
		r.csp = cspFor(c)
	}
	return r
}

// renderBody builds the body and type of c's response.
func renderBody(c Content, allowed bool) response {
	if !allowed {
		return invalidPage()
	}
	if int64(len(c.Data)) > policy.MaxFileSize {
		return errorPage(c.Name, fmt.Errorf("it is larger than %d MiB", policy.MaxFileSize>>20))
	}
	ext := policy.Suffix(c.Name)
	if c.Download {
		return response{status: http.StatusOK, ctype: downloadTypes[ext], body: c.Data, attach: true}
	}
	if c.Plain {
		data := c.Data
		if ext == ".svgz" {
			svg, err := policy.Gunzip(bytes.NewReader(data), policy.MaxFileSize)
			if err != nil {
				return errorPage(c.Name, err)
			}
			data = svg
		}
		return htmlPage(page(c.Name, "", preBody(text(data), "")))
	}
	switch ext {
	case ".csv":
		return htmlPage(csvPage(c))
	case ".txt", ".json", ".md":
		return htmlPage(page(c.Name, "", preBody(text(c.Data), "")))
	case ".log":
		return htmlPage(logPage(c.Name, c.Data))
	case ".png", ".jpg", ".jpeg":
		return htmlPage(imagePage(c.Name, imageTypes[ext], c.Data))
	case ".html":
		return response{status: http.StatusOK, ctype: htmlType, body: c.Data}
	case ".svg":
		return response{status: http.StatusOK, ctype: svgType, body: c.Data}
	case ".svgz":
		svg, err := policy.Gunzip(bytes.NewReader(c.Data), policy.MaxFileSize)
		if err != nil {
			return errorPage(c.Name, err)
		}
		return response{status: http.StatusOK, ctype: svgType, body: svg}
	}
	return invalidPage()
}

const (
	htmlType = "text/html; charset=utf-8"
	svgType  = "image/svg+xml"
)

// imageTypes are the types of the images shown in a wrapper.
var imageTypes = map[string]string{".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}

// downloadTypes are the types downloads are sent with: the file's own
// type, plain text for text that has no type of its own, and gzip for a
// .svgz, which is sent as it is.
var downloadTypes = map[string]string{
	".csv":  "text/csv; charset=utf-8",
	".jpg":  "image/jpeg",
	".jpeg": "image/jpeg",
	".png":  "image/png",
	".svg":  svgType,
	".svgz": "application/gzip",
	".html": htmlType,
	".txt":  "text/plain; charset=utf-8",
	".log":  "text/plain; charset=utf-8",
	".json": "application/json",
	".md":   "text/plain; charset=utf-8",
}

// htmlPage is a 200 response with an HTML wrapper.
func htmlPage(body []byte) response {
	return response{status: http.StatusOK, ctype: htmlType, body: body}
}

// invalidPage is the fixed answer for a file type Airlock does not show.
func invalidPage() response {
	return htmlPage(page("Not a valid file type", "", `<p class="message">This is not a valid file type for Airlock.</p>`))
}

// errorPage says why a file cannot be shown.
func errorPage(name string, err error) response {
	r := htmlPage(page(name, "", `<p class="message">`+html.EscapeString(name)+` cannot be shown: `+html.EscapeString(err.Error())+`. Download it instead.</p>`))
	r.status = http.StatusUnprocessableEntity
	return r
}

// text decodes bytes as UTF-8, replacing invalid bytes, and drops a
// leading byte order mark.
func text(data []byte) string {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if utf8.Valid(data) {
		return string(data)
	}
	return strings.ToValidUTF8(string(data), "\uFFFD")
}

// etagMatch reports whether an If-None-Match header matches etag.
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// attachment is a Content-Disposition for a download named name: an
// ASCII filename with quotes and backslashes escaped, and the exact name
// in filename* when it is not plain ASCII.
func attachment(name string) string {
	var ascii strings.Builder
	plain := true
	for _, r := range name {
		switch {
		case r < 0x20 || r == 0x7f || r >= utf8.RuneSelf:
			ascii.WriteByte('_')
			plain = false
		case r == '"' || r == '\\':
			ascii.WriteByte('\\')
			ascii.WriteRune(r)
		default:
			ascii.WriteRune(r)
		}
	}
	v := `attachment; filename="` + ascii.String() + `"`
	if !plain {
		var enc strings.Builder
		for _, b := range []byte(name) {
			if b < 0x80 && (b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || strings.IndexByte("!#$&+-.^_`|~", b) >= 0) {
				enc.WriteByte(b)
			} else {
				fmt.Fprintf(&enc, "%%%02X", b)
			}
		}
		v += "; filename*=UTF-8''" + enc.String()
	}
	return v
}

// pageStyle is the style sheet of every wrapper page.
const pageStyle = `body{margin:0;padding:8px;font-family:system-ui,sans-serif;font-size:14px;color:#1a1a1a;background:#fff}
pre{margin:0;white-space:pre-wrap;word-break:break-word;font-family:ui-monospace,monospace;font-size:13px}
.message{padding:1em;border:1px solid #c9c9c9;background:#f6f6f6}
.note{color:#555;font-style:italic;margin:0 0 8px}
img{max-width:100%;height:auto;display:block}`

// page is a complete HTML document around body.
func page(title, extraStyle, body string) []byte {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>")
	b.WriteString(html.EscapeString(title))
	b.WriteString("</title><style>")
	b.WriteString(pageStyle)
	b.WriteString(extraStyle)
	b.WriteString("</style></head><body>")
	b.WriteString(body)
	b.WriteString("</body></html>\n")
	return []byte(b.String())
}

// preBody is escaped text in a <pre>, after an optional note.
func preBody(s, note string) string {
	var b strings.Builder
	if note != "" {
		b.WriteString(`<p class="note">` + html.EscapeString(note) + `</p>`)
	}
	b.WriteString("<pre>")
	b.WriteString(html.EscapeString(s))
	b.WriteString("</pre>")
	return b.String()
}

// imagePage shows an image as a data: URL scaled to the frame.
func imagePage(name, ctype string, data []byte) []byte {
	var b strings.Builder
	b.WriteString(`<img alt="`)
	b.WriteString(html.EscapeString(path.Base(name)))
	b.WriteString(`" src="data:`)
	b.WriteString(ctype)
	b.WriteString(";base64,")
	b.WriteString(base64.StdEncoding.EncodeToString(data))
	b.WriteString(`">`)
	return page(name, "", b.String())
}
