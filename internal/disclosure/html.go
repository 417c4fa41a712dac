package disclosure

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// HTML and SVG outputs (docs/outputs.md, rules F6 and F7a–F7d).
//
// Both the checker and the stripper parse with the HTML5 parser of
// golang.org/x/net/html, as a browser would (scripting enabled), and decide
// what is active content with the same classifiers (htmlClassifyElement,
// htmlClassifyAttr), so that whatever StripHTML keeps CheckHTML accepts.
// SVG files go through the same parser: it builds SVG elements in the SVG
// namespace, where <script>, <style> and on… attributes mean the same.

const (
	// htmlMaxFindings caps the findings of one rule in one file; the
	// evidence "count" of each still holds the number of all occurrences.
	htmlMaxFindings = 20
	// htmlMaxNumbers caps the numbers listed in the F7d evidence.
	htmlMaxNumbers = 50
	// htmlMaxPasses bounds StripHTML's strip–render–reparse rounds.
	htmlMaxPasses = 4

	htmlHintScripts = "remove scripts and event handlers: haven outputs strip-html IN OUT"
	htmlHintStyles  = "remove styling: haven outputs strip-html IN OUT"
	htmlHintData    = "request each embedded output as its own file (haven outputs strip-html moves them out)"
	htmlHintUTF8    = "save the file as UTF-8"
	htmlHintParse   = "export the output again as simpler HTML (or release the table as CSV)"
	htmlHintNumbers = "check every number against the profile's rules; counts from 1 to the threshold are listed first"
)

var htmlBOM = []byte("\xef\xbb\xbf")

// htmlURLAttrs are the attributes (lower-case, namespace-qualified) whose
// value is a single URL that a browser may follow or load.
var htmlURLAttrs = map[string]bool{
	"href":       true,
	"src":        true,
	"action":     true,
	"formaction": true,
	"xlink:href": true,
	"poster":     true,
	"background": true,
	"data":       true,
	"cite":       true,
}

// CheckHTML applies the HTML disclosure rules to an HTML or SVG output file
// named file and returns its findings, never modifying data:
//
//   - F6 (ERROR): the file is not valid UTF-8;
//   - F7a (FAIL): a <script> element, an on… event handler attribute or a
//     javascript:/vbscript: URL;
//   - F7b (verdict styles): a <style> element, a style attribute, a
//     <link rel=stylesheet> or an <?xml-stylesheet?> instruction;
//   - F7c (REVIEW): a data: URI, which embeds another output;
//   - F7d (REVIEW, always exactly one): a person must read every number in
//     the text; the evidence lists them, integers from 1 to threshold (the
//     profile's largest unsafe count) first.
//
// F7a, F7b and F7c give one finding per occurrence, at most 20 each, with
// the number of all occurrences in Evidence["count"]. Findings are ordered
// by rule (F6, F7a, F7b, F7c, F7d), then in document order.
func CheckHTML(file string, data []byte, styles Verdict, threshold int) []Finding {
	var out []Finding
	if off := htmlInvalidUTF8(data); off >= 0 {
		out = append(out, Finding{
			Rule: "F6", Verdict: Error, File: file,
			Evidence: map[string]any{"offset": off},
			Message:  fmt.Sprintf("file is not valid UTF-8 (first invalid byte at offset %d)", off),
			Hint:     htmlHintUTF8,
		})
	}
	doc, err := html.Parse(bytes.NewReader(bytes.TrimPrefix(data, htmlBOM)))
	if err != nil { // e.g. elements nested more than 512 deep
		return append(out, Finding{
			Rule: "F6", Verdict: Error, File: file,
			Message: "file cannot be parsed as HTML: " + err.Error(),
			Hint:    htmlHintParse,
		})
	}
	c := &htmlChecker{
		file:      file,
		styles:    styles,
		threshold: threshold,
		byRule:    map[string][]Finding{},
		count:     map[string]int{},
	}
	c.walk(doc, false)
	for _, rule := range []string{"F7a", "F7b", "F7c"} {
		for _, f := range c.byRule[rule] {
			f.Evidence["count"] = c.count[rule]
			out = append(out, f)
		}
	}
	numbers := make([]string, 0, min(len(c.small)+len(c.other), htmlMaxNumbers))
	numbers = append(numbers, c.small...)
	numbers = append(numbers, c.other...)
	total := len(numbers)
	numbers = numbers[:min(total, htmlMaxNumbers)]
	return append(out, Finding{
		Rule: "F7d", Verdict: Review, File: file,
		Evidence: map[string]any{
			"numbers":        numbers,
			"small_integers": len(c.small),
			"count":          total,
			"threshold":      threshold,
		},
		Message: "HTML output: a person must read every number in it",
		Hint:    htmlHintNumbers,
	})
}

// htmlChecker accumulates CheckHTML's findings during one walk of the tree.
type htmlChecker struct {
	file      string
	styles    Verdict
	threshold int
	byRule    map[string][]Finding
	count     map[string]int
	small     []string // integers in [1, threshold], document order
	other     []string // every other number, document order
}

// add records an occurrence of rule and keeps its finding if it is among
// the first htmlMaxFindings.
func (c *htmlChecker) add(rule string, v Verdict, msg, hint string, ev map[string]any) {
	c.count[rule]++
	if c.count[rule] > htmlMaxFindings {
		return
	}
	ev["occurrence"] = c.count[rule]
	c.byRule[rule] = append(c.byRule[rule], Finding{
		Rule: rule, Verdict: v, File: c.file, Evidence: ev, Message: msg, Hint: hint,
	})
}

// walk visits n and its descendants in document order. hidden is set
// inside <script> and <style>, whose text is not read for numbers.
func (c *htmlChecker) walk(n *html.Node, hidden bool) {
	switch n.Type {
	case html.TextNode:
		if !hidden {
			htmlScanNumbers(n.Data, func(tok string) {
				if htmlIsSmallInt(tok, c.threshold) {
					c.small = append(c.small, tok)
				} else {
					c.other = append(c.other, tok)
				}
			})
		}
		return
	case html.CommentNode:
		if htmlIsXMLStylesheet(n) {
			c.add("F7b", c.styles, "file contains an <?xml-stylesheet?> instruction", htmlHintStyles,
				map[string]any{"element": "?xml-stylesheet"})
		}
		return
	case html.ElementNode:
		c.element(n)
		switch htmlClassifyElement(n) {
		case htmlElemScript, htmlElemStyle:
			hidden = true
		case htmlElemNoscript:
			if n.Namespace == "" {
				// With scripting enabled a <noscript> holds raw text, but
				// a browser with scripting disabled parses that text as
				// markup: check it as such.
				for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
					if ch.Type == html.TextNode {
						c.noscript(ch.Data, hidden)
					} else {
						c.walk(ch, hidden)
					}
				}
				return
			}
		}
	}
	for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
		c.walk(ch, hidden)
	}
}

// noscript checks the raw text of a <noscript> element as the markup a
// browser without scripting would see.
func (c *htmlChecker) noscript(text string, hidden bool) {
	body := &html.Node{Type: html.ElementNode, Data: "body", DataAtom: atom.Body}
	nodes, err := html.ParseFragmentWithOptions(strings.NewReader(text), body, html.ParseOptionEnableScripting(false))
	if err != nil {
		c.walk(&html.Node{Type: html.TextNode, Data: text}, hidden)
		return
	}
	for _, n := range nodes {
		c.walk(n, hidden)
	}
}

// element records the findings of element n itself and of its attributes.
func (c *htmlChecker) element(n *html.Node) {
	tag := n.Data
	switch htmlClassifyElement(n) {
	case htmlElemScript:
		ev := map[string]any{"element": "script"}
		if src, ok := htmlAttrValue(n, "src"); ok {
			ev["src"] = src
		}
		c.add("F7a", Fail, "HTML contains a <script> element", htmlHintScripts, ev)
	case htmlElemStyle:
		c.add("F7b", c.styles, "HTML contains a <style> element", htmlHintStyles,
			map[string]any{"element": "style"})
	case htmlElemStylesheet:
		rel, _ := htmlAttrValue(n, "rel")
		ev := map[string]any{"element": "link", "attribute": "rel", "rel": rel}
		if href, ok := htmlAttrValue(n, "href"); ok {
			ev["href"] = href
		}
		c.add("F7b", c.styles, "HTML links a stylesheet (<link rel=stylesheet>)", htmlHintStyles, ev)
	}
	for _, a := range n.Attr {
		name := htmlAttrName(a)
		kind, detail := htmlClassifyAttr(n, a)
		switch kind {
		case htmlAttrEvent:
			c.add("F7a", Fail, fmt.Sprintf("HTML contains an event handler attribute %s on <%s>", name, tag),
				htmlHintScripts, map[string]any{"element": tag, "attribute": name})
		case htmlAttrAnimateEvent:
			c.add("F7a", Fail, fmt.Sprintf("HTML animates the event handler attribute %s with <%s>", detail, tag),
				htmlHintScripts, map[string]any{"element": tag, "attribute": name, "target": detail})
		case htmlAttrScriptURL:
			c.add("F7a", Fail, fmt.Sprintf("HTML contains a %s: URL in the %s attribute of <%s>", detail, name, tag),
				htmlHintScripts, map[string]any{"element": tag, "attribute": name, "scheme": detail})
		case htmlAttrStyle:
			c.add("F7b", c.styles, fmt.Sprintf("HTML contains a style attribute on <%s>", tag),
				htmlHintStyles, map[string]any{"element": tag, "attribute": name})
		case htmlAttrDataURI:
			c.dataURI(tag, name, htmlDecodeDataURI(a.Val))
		case htmlAttrDataSrcset:
			for _, u := range htmlSrcsetURLs(a.Val) {
				if htmlURLScheme(u) == "data" {
					c.dataURI(tag, name, htmlDecodeDataURI(u))
				}
			}
		}
	}
}

// dataURI records an F7c finding for a data: URI in attribute attr of <tag>.
func (c *htmlChecker) dataURI(tag, attr string, d htmlDataURI) {
	ev := map[string]any{
		"element":    tag,
		"attribute":  attr,
		"media_type": d.mediaType,
		"bytes":      len(d.data),
		"base64":     d.base64,
	}
	what := fmt.Sprintf("%s, %d bytes", d.mediaType, len(d.data))
	if !d.ok {
		ev["bytes"] = d.encoded
		ev["malformed"] = true
		what = fmt.Sprintf("%s, %d bytes encoded, cannot be decoded", d.mediaType, d.encoded)
	}
	c.add("F7c", Review, fmt.Sprintf("HTML embeds a data: URI (%s) in the %s attribute of <%s>", what, attr, tag),
		htmlHintData, ev)
}

// StripResult is the outcome of StripHTML.
type StripResult struct {
	// HTML is the cleaned document (an SVG document when the input was one).
	HTML []byte
	// Removed describes what was removed or moved, one sorted line per
	// kind with its count, e.g. "removed <script> (2)" or "moved data: URI
	// to <name> (image/png, 1234 bytes)" (never nil).
	Removed []string
	// Payloads are the decoded data: URIs, in order of first appearance,
	// each once (never nil); HTML refers to them by Name, relative to its
	// own folder.
	Payloads []Payload
}

// Payload is an output that was embedded in an HTML file as a data: URI.
type Payload struct {
	// Name is "<SHA256>.<ext>", the extension following MediaType.
	Name      string
	MediaType string
	Data      []byte
	// SHA256 is the lower-case hex SHA-256 of Data.
	SHA256 string
}

// StripHTML removes active content and styling from an HTML or SVG
// document and moves embedded data: URIs out, so that CheckHTML finds no
// F7a and no F7b in the result. It removes, with their content, <script>,
// <style>, <noscript>, <iframe>, <object>, <embed>, <frame>, <frameset>,
// <applet>, <base>, <link rel=stylesheet>, <meta http-equiv=refresh>,
// comments and processing instructions; it drops on… and style
// attributes, javascript:/vbscript: URLs and srcset attributes holding
// data: URIs. A data: URI in a URL attribute is decoded into a Payload and
// the attribute refers to the payload's name instead. Text, tables,
// headings, lists, paragraphs, links, images and inline SVG stay.
//
// Rendering can rearrange malformed markup, so the result is parsed and
// stripped again until nothing is left to remove; StripHTML fails if that
// takes more than a few rounds, and when data is not UTF-8 or is nested
// too deeply to parse.
//
// The document is rendered by html.Render, so equal inputs give equal
// bytes; an input whose first tag is <svg> is rendered as an SVG document.
func StripHTML(data []byte) (StripResult, error) {
	if off := htmlInvalidUTF8(data); off >= 0 {
		return StripResult{}, fmt.Errorf("strip-html: the file is not UTF-8 (invalid byte at offset %d): save it as UTF-8 and try again", off)
	}
	data = bytes.TrimPrefix(data, htmlBOM)
	svg := htmlStartsWithSVG(data)
	s := &htmlStripper{removed: map[string]int{}, moved: map[string]int{}, seen: map[string]bool{}, payloads: []Payload{}}
	out := data
	for pass := 0; ; pass++ {
		if pass == htmlMaxPasses {
			return StripResult{}, fmt.Errorf("strip-html: scripts or styles reappear after %d rounds of cleaning (the markup is too malformed): remove them by hand and try again", htmlMaxPasses)
		}
		doc, err := html.Parse(bytes.NewReader(out))
		if err != nil {
			return StripResult{}, fmt.Errorf("strip-html: cannot parse the HTML (%w): %s", err, htmlHintParse)
		}
		before := s.changes
		s.strip(doc)
		// Rendering and reparsing can rearrange malformed markup; stop
		// only once the parsed output has nothing left to strip.
		if pass > 0 && s.changes == before {
			break
		}
		if out, err = htmlRender(doc, svg); err != nil {
			return StripResult{}, fmt.Errorf("strip-html: cannot write the cleaned HTML: %w", err)
		}
	}
	return StripResult{HTML: out, Removed: s.lines(), Payloads: s.payloads}, nil
}

// htmlStripper accumulates what StripHTML removed and moved.
type htmlStripper struct {
	removed  map[string]int // "removed <script>" → count
	moved    map[string]int // "moved data: URI to …" → count
	seen     map[string]bool
	payloads []Payload
	changes  int
}

func (s *htmlStripper) note(what string) {
	s.removed[what]++
	s.changes++
}

// strip removes the active children of n, recursively, and cleans the
// attributes of the elements that stay.
func (s *htmlStripper) strip(n *html.Node) {
	for c := n.FirstChild; c != nil; {
		next := c.NextSibling
		if why := htmlDropReason(c); why != "" {
			n.RemoveChild(c)
			s.note(why)
		} else if c.Type == html.ElementNode {
			s.attrs(c)
			s.strip(c)
		}
		c = next
	}
}

// htmlDropReason says why StripHTML removes node n entirely, or returns "".
func htmlDropReason(n *html.Node) string {
	switch n.Type {
	case html.CommentNode:
		if strings.HasPrefix(n.Data, "?") { // <?xml …?>, <?xml-stylesheet …?>
			return "removed processing instruction"
		}
		return "removed comment"
	case html.ElementNode:
		switch htmlClassifyElement(n) {
		case htmlElemScript, htmlElemStyle, htmlElemActive, htmlElemBase, htmlElemNoscript:
			return "removed <" + strings.ToLower(n.Data) + ">"
		case htmlElemStylesheet:
			return "removed <link rel=stylesheet>"
		case htmlElemRefresh:
			return "removed <meta http-equiv=refresh>"
		}
	}
	return ""
}

// attrs drops the active attributes of element n and moves its data: URIs
// to payloads.
func (s *htmlStripper) attrs(n *html.Node) {
	kept := n.Attr[:0]
	for _, a := range n.Attr {
		name := htmlAttrName(a)
		kind, detail := htmlClassifyAttr(n, a)
		switch kind {
		case htmlAttrEvent:
			s.note("removed " + strings.ToLower(name) + " attribute")
			continue
		case htmlAttrAnimateEvent:
			s.note("removed " + name + " attribute animating an event handler")
			continue
		case htmlAttrScriptURL:
			s.note("removed " + detail + ": URL in " + name + " attribute")
			continue
		case htmlAttrStyle:
			s.note("removed style attribute")
			continue
		case htmlAttrDataSrcset:
			s.note("removed srcset attribute with data: URIs")
			continue
		case htmlAttrDataURI:
			d := htmlDecodeDataURI(a.Val)
			if !d.ok {
				s.note("removed undecodable data: URI in " + name + " attribute")
				continue
			}
			a.Val = s.payload(d)
			if d.fragment != "" {
				a.Val += "#" + d.fragment
			}
			s.changes++
		}
		kept = append(kept, a)
	}
	n.Attr = kept
}

// payload records d as a payload, once per name, and returns its name.
func (s *htmlStripper) payload(d htmlDataURI) string {
	sum := sha256.Sum256(d.data)
	hexSum := hex.EncodeToString(sum[:])
	name := hexSum + "." + htmlExtension(d.mediaType)
	s.moved[fmt.Sprintf("data: URI to %s (%s, %d bytes)", name, d.mediaType, len(d.data))]++
	if !s.seen[name] {
		s.seen[name] = true
		s.payloads = append(s.payloads, Payload{Name: name, MediaType: d.mediaType, Data: d.data, SHA256: hexSum})
	}
	return name
}

// lines returns the sorted Removed lines.
func (s *htmlStripper) lines() []string {
	out := make([]string, 0, len(s.removed)+len(s.moved))
	for what, n := range s.removed {
		out = append(out, fmt.Sprintf("%s (%d)", what, n))
	}
	for what, n := range s.moved {
		if n == 1 {
			out = append(out, "moved "+what)
		} else {
			out = append(out, fmt.Sprintf("moved %d %s", n, strings.Replace(what, "data: URI", "data: URIs", 1)))
		}
	}
	sort.Strings(out)
	return out
}

// htmlRender writes doc. When the input was an SVG document (svg) and the
// parsed body holds that <svg> element and nothing else, only the <svg>
// element is written, so that the result is an SVG file again.
func htmlRender(doc *html.Node, svg bool) ([]byte, error) {
	root := doc
	if svg {
		if el := htmlSoleSVG(doc); el != nil {
			root = el
		}
	}
	var b bytes.Buffer
	if err := html.Render(&b, root); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// htmlSoleSVG returns the <svg> element that is the only content of doc's
// body (apart from white space), or nil.
func htmlSoleSVG(doc *html.Node) *html.Node {
	var root, head, body *html.Node
	for c := doc.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && c.DataAtom == atom.Html {
			root = c
		}
	}
	if root == nil {
		return nil
	}
	for c := root.FirstChild; c != nil; c = c.NextSibling {
		switch {
		case c.Type == html.ElementNode && c.DataAtom == atom.Head:
			head = c
		case c.Type == html.ElementNode && c.DataAtom == atom.Body:
			body = c
		case c.Type == html.TextNode && strings.TrimSpace(c.Data) == "":
		default:
			return nil
		}
	}
	if body == nil || (head != nil && head.FirstChild != nil) {
		return nil
	}
	var svg *html.Node
	for c := body.FirstChild; c != nil; c = c.NextSibling {
		switch {
		case c.Type == html.ElementNode && c.Namespace == "svg" && c.Data == "svg" && svg == nil:
			svg = c
		case c.Type == html.TextNode && strings.TrimSpace(c.Data) == "":
		default:
			return nil
		}
	}
	return svg
}

// htmlStartsWithSVG reports whether the first tag of data is <svg>.
func htmlStartsWithSVG(data []byte) bool {
	z := html.NewTokenizer(bytes.NewReader(data))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return false
		case html.StartTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			return string(name) == "svg"
		case html.EndTagToken:
			return false
		case html.TextToken:
			if len(bytes.TrimSpace(z.Text())) > 0 {
				return false
			}
		}
	}
}

// htmlElemKind classifies elements for both CheckHTML and StripHTML.
type htmlElemKind int

const (
	htmlElemKeep       htmlElemKind = iota
	htmlElemScript                  // <script>: F7a, removed
	htmlElemStyle                   // <style>: F7b, removed
	htmlElemStylesheet              // <link rel=stylesheet>: F7b, removed
	htmlElemNoscript                // <noscript>: checked as markup, removed
	htmlElemActive                  // frames, plugins: removed
	htmlElemRefresh                 // <meta http-equiv=refresh>: removed
	htmlElemBase                    // <base>: removed (it would redirect relative payload names)
)

func htmlClassifyElement(n *html.Node) htmlElemKind {
	switch strings.ToLower(n.Data) {
	case "script":
		return htmlElemScript
	case "style":
		return htmlElemStyle
	case "link":
		if rel, _ := htmlAttrValue(n, "rel"); htmlHasToken(rel, "stylesheet") {
			return htmlElemStylesheet
		}
	case "noscript":
		return htmlElemNoscript
	case "iframe", "object", "embed", "frame", "frameset", "applet":
		return htmlElemActive
	case "meta":
		if v, _ := htmlAttrValue(n, "http-equiv"); strings.EqualFold(strings.TrimSpace(v), "refresh") {
			return htmlElemRefresh
		}
	case "base":
		return htmlElemBase
	}
	return htmlElemKeep
}

// htmlAttrKind classifies attributes for both CheckHTML and StripHTML.
type htmlAttrKind int

const (
	htmlAttrKeep         htmlAttrKind = iota
	htmlAttrEvent                     // on…: F7a, dropped
	htmlAttrAnimateEvent              // SVG <set>/<animate> attributeName=on…: F7a, dropped
	htmlAttrScriptURL                 // javascript:/vbscript: URL: F7a, dropped
	htmlAttrStyle                     // style: F7b, dropped
	htmlAttrDataURI                   // data: URI in a URL attribute: F7c, moved to a payload
	htmlAttrDataSrcset                // srcset with a data: URI: F7c, dropped
)

// htmlClassifyAttr classifies attribute a of element n. detail is the URL
// scheme for htmlAttrScriptURL and the animated attribute for
// htmlAttrAnimateEvent.
func htmlClassifyAttr(n *html.Node, a html.Attribute) (kind htmlAttrKind, detail string) {
	name := strings.ToLower(htmlAttrName(a))
	switch {
	case strings.HasPrefix(name, "on"):
		return htmlAttrEvent, ""
	case name == "style":
		return htmlAttrStyle, ""
	case htmlURLAttrs[name]:
		switch scheme := htmlURLScheme(a.Val); scheme {
		case "javascript", "vbscript":
			return htmlAttrScriptURL, scheme
		case "data":
			return htmlAttrDataURI, ""
		}
	case name == "srcset":
		for _, u := range htmlSrcsetURLs(a.Val) {
			if htmlURLScheme(u) == "data" {
				return htmlAttrDataSrcset, ""
			}
		}
	case htmlIsAnimation(n):
		// SVG animation can set an attribute such as href to a
		// javascript: URL, or target an event handler.
		switch name {
		case "to", "from", "by", "values":
			for v := range strings.SplitSeq(a.Val, ";") {
				if scheme := htmlURLScheme(v); scheme == "javascript" || scheme == "vbscript" {
					return htmlAttrScriptURL, scheme
				}
			}
		case "attributename":
			if target := strings.ToLower(strings.TrimSpace(a.Val)); strings.HasPrefix(target, "on") {
				return htmlAttrAnimateEvent, target
			}
		}
	}
	return htmlAttrKeep, ""
}

func htmlIsAnimation(n *html.Node) bool {
	switch strings.ToLower(n.Data) {
	case "set", "animate":
		return true
	}
	return false
}

// htmlIsXMLStylesheet reports whether comment n is an
// <?xml-stylesheet?> processing instruction, which the HTML parser turns
// into a comment.
func htmlIsXMLStylesheet(n *html.Node) bool {
	d := strings.ToLower(strings.TrimSpace(n.Data))
	return strings.HasPrefix(d, "?xml-stylesheet")
}

// htmlAttrName is the attribute's name with its namespace prefix, as
// written: "onclick", "xlink:href".
func htmlAttrName(a html.Attribute) string {
	if a.Namespace != "" {
		return a.Namespace + ":" + a.Key
	}
	return a.Key
}

// htmlAttrValue returns the value of n's attribute key (case-insensitive,
// no namespace).
func htmlAttrValue(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Namespace == "" && strings.EqualFold(a.Key, key) {
			return a.Val, true
		}
	}
	return "", false
}

// htmlHasToken reports whether the space-separated list v holds tok
// (ASCII case-insensitive).
func htmlHasToken(v, tok string) bool {
	for _, f := range strings.Fields(v) {
		if strings.EqualFold(f, tok) {
			return true
		}
	}
	return false
}

// htmlCleanURL prepares an attribute value as a browser's URL parser does:
// it trims leading and trailing spaces and control characters and removes
// tabs and newlines anywhere ("java\tscript:" is a javascript: URL).
func htmlCleanURL(v string) string {
	v = strings.TrimFunc(v, func(r rune) bool { return r <= ' ' })
	if strings.ContainsAny(v, "\t\n\r") {
		v = strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(v)
	}
	return v
}

// htmlURLScheme returns "javascript", "vbscript" or "data" when the URL v
// has that scheme (in any case), and "" otherwise.
func htmlURLScheme(v string) string {
	v = htmlCleanURL(v)
	i := strings.IndexByte(v, ':')
	if i <= 0 {
		return ""
	}
	switch s := strings.ToLower(v[:i]); s {
	case "javascript", "vbscript", "data":
		return s
	}
	return ""
}

// htmlSrcsetURLs returns the URLs of the image candidates of a srcset
// value, following the HTML parsing rules (a URL is a run of non-space
// characters, so it may contain commas, as data: URIs do).
func htmlSrcsetURLs(v string) []string {
	var urls []string
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }
	i := 0
	for {
		for i < len(v) && (isSpace(v[i]) || v[i] == ',') {
			i++
		}
		if i >= len(v) {
			return urls
		}
		start := i
		for i < len(v) && !isSpace(v[i]) {
			i++
		}
		u := v[start:i]
		if strings.HasSuffix(u, ",") {
			u = strings.TrimRight(u, ",")
		} else {
			// Skip the descriptors, up to a comma outside parentheses.
			depth := 0
			for ; i < len(v); i++ {
				if c := v[i]; c == '(' {
					depth++
				} else if c == ')' && depth > 0 {
					depth--
				} else if c == ',' && depth == 0 {
					i++
					break
				}
			}
		}
		if u != "" {
			urls = append(urls, u)
		}
	}
}

// htmlDataURI is a decoded data: URI.
type htmlDataURI struct {
	mediaType string // lower-case, without parameters; text/plain by default
	base64    bool
	data      []byte // the decoded payload, when ok
	fragment  string // after '#', not part of the payload
	encoded   int    // the length of the encoded payload
	ok        bool   // whether the payload could be decoded
}

// htmlDecodeDataURI decodes the data: URI v (RFC 2397, as browsers read
// it: the payload is percent-decoded, then base64-decoded if marked so,
// ignoring white space).
func htmlDecodeDataURI(v string) htmlDataURI {
	d := htmlDataURI{mediaType: "text/plain"}
	v = htmlCleanURL(v)
	if len(v) < 5 || !strings.EqualFold(v[:5], "data:") {
		return d
	}
	rest := v[5:]
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest, d.fragment = rest[:i], rest[i+1:]
	}
	meta, body, found := strings.Cut(rest, ",")
	if !found {
		d.encoded = len(rest)
		return d
	}
	d.encoded = len(body)
	params := strings.Split(meta, ";")
	if last := params[len(params)-1]; len(params) > 1 && strings.EqualFold(strings.TrimSpace(last), "base64") {
		d.base64 = true
		params = params[:len(params)-1]
	}
	if mt := strings.ToLower(strings.TrimSpace(params[0])); mt != "" {
		d.mediaType = mt
	}
	raw := htmlPercentDecode(body)
	if !d.base64 {
		d.data, d.ok = raw, true
		return d
	}
	clean := bytes.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' {
			return -1
		}
		return r
	}, raw)
	if len(clean)%4 == 0 {
		clean = bytes.TrimSuffix(bytes.TrimSuffix(clean, []byte("=")), []byte("="))
	}
	dec := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
	n, err := base64.RawStdEncoding.Decode(dec, clean)
	if err != nil {
		return d
	}
	d.data, d.ok = dec[:n], true
	return d
}

// htmlPercentDecode decodes %XX escapes, leaving malformed ones as they
// are.
func htmlPercentDecode(s string) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			hi, okHi := htmlUnhex(s[i+1])
			lo, okLo := htmlUnhex(s[i+2])
			if okHi && okLo {
				out = append(out, hi<<4|lo)
				i += 2
				continue
			}
		}
		out = append(out, s[i])
	}
	return out
}

func htmlUnhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// htmlExtension is the file extension for a payload of media type mt.
func htmlExtension(mt string) string {
	switch mt {
	case "image/png":
		return "png"
	case "image/jpeg", "image/jpg":
		return "jpg"
	case "image/svg+xml":
		return "svg"
	case "image/gif":
		return "gif"
	case "text/csv":
		return "csv"
	case "application/json":
		return "json"
	case "text/plain":
		return "txt"
	case "text/html":
		return "html"
	case "text/markdown":
		return "md"
	}
	return "bin"
}

// htmlScanNumbers calls emit with each numeric token of text s, in order.
// A token is an optional minus, digits (1,234 with thousands separators),
// an optional decimal part and an optional "%". It must stand as a word of
// its own: "v2", "5th" and "x1" hold no token, and digits right after a
// "." start none (".5", the "3" of "1.2.3").
func htmlScanNumbers(s string, emit func(string)) {
	isDigit := func(i int) bool { return i < len(s) && '0' <= s[i] && s[i] <= '9' }
	wordRune := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' }
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		j := i
		switch {
		case (r == '-' || r == '\u2212') && isDigit(i+size):
			j = i + size
		case '0' <= r && r <= '9':
		default:
			i += size
			continue
		}
		if i > 0 {
			if p, _ := utf8.DecodeLastRuneInString(s[:i]); wordRune(p) || p == '.' {
				i += size
				continue
			}
		}
		k := j
		for isDigit(k) {
			k++
		}
		if k-j <= 3 {
			for k+3 < len(s) && s[k] == ',' && isDigit(k+1) && isDigit(k+2) && isDigit(k+3) && !isDigit(k+4) {
				k += 4
			}
		}
		if k < len(s) && s[k] == '.' && isDigit(k+1) {
			k++
			for isDigit(k) {
				k++
			}
		}
		if k < len(s) && s[k] == '%' {
			k++
		}
		if k < len(s) {
			if nx, _ := utf8.DecodeRuneInString(s[k:]); wordRune(nx) {
				i = k
				continue
			}
		}
		emit(s[i:k])
		i = k
	}
}

// htmlIsSmallInt reports whether tok is an integer from 1 to threshold.
func htmlIsSmallInt(tok string, threshold int) bool {
	if strings.ContainsAny(tok, "-\u2212.%") {
		return false
	}
	digits := strings.ReplaceAll(tok, ",", "")
	if len(digits) > 9 {
		return false
	}
	v, err := strconv.Atoi(digits)
	return err == nil && v >= 1 && v <= threshold
}

// htmlInvalidUTF8 returns the offset of the first byte of data that is not
// valid UTF-8, or -1.
func htmlInvalidUTF8(data []byte) int {
	if utf8.Valid(data) {
		return -1
	}
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}
