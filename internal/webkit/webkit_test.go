package webkit

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/haven-tre/haven"
)

func newCookies(t *testing.T, cfg CookieConfig) *Cookies {
	t.Helper()
	if cfg.Session == "" {
		cfg.Session, cfg.CSRF, cfg.Flash = "s", "c", "f"
	}
	c, err := NewCookies(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// carry returns a GET request with the cookies rec set.
func carry(rec *httptest.ResponseRecorder) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, ck := range rec.Result().Cookies() {
		r.AddCookie(ck)
	}
	return r
}

func cookieNamed(rec *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

func TestNewCookiesNeedsNames(t *testing.T) {
	if _, err := NewCookies(CookieConfig{Session: "s", CSRF: "c"}); err == nil || !strings.Contains(err.Error(), "flash") {
		t.Fatalf("no flash cookie name: %v", err)
	}
}

func TestSetCookie(t *testing.T) {
	for _, secure := range []bool{false, true} {
		c := newCookies(t, CookieConfig{Session: "s", CSRF: "c", Flash: "f", Secure: secure})
		rec := httptest.NewRecorder()
		c.Set(rec, "s", "v", 2*time.Hour)
		c.Clear(rec, "c")
		set, cleared := cookieNamed(rec, "s"), cookieNamed(rec, "c")
		if set == nil || set.Value != "v" || set.MaxAge != 7200 || set.Path != "/" || !set.HttpOnly ||
			set.SameSite != http.SameSiteLaxMode || set.Secure != secure {
			t.Errorf("secure=%v: set cookie %+v", secure, set)
		}
		if cleared == nil || cleared.MaxAge >= 0 || cleared.Secure != secure {
			t.Errorf("secure=%v: cleared cookie %+v", secure, cleared)
		}
	}
}

func TestSessionID(t *testing.T) {
	c := newCookies(t, CookieConfig{})
	tok := RandomToken(32)
	for _, tc := range []struct {
		value, want string
	}{
		{tok, tok},
		{tok[:42], ""},
		{tok + "x", ""},
		{"", ""},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if tc.value != "" {
			r.AddCookie(&http.Cookie{Name: "s", Value: tc.value})
		}
		if got := c.SessionID(r); got != tc.want {
			t.Errorf("SessionID with cookie %q = %q, want %q", tc.value, got, tc.want)
		}
	}
}

func TestRandomToken(t *testing.T) {
	a, b := RandomToken(32), RandomToken(32)
	if len(a) != TokenLen || a == b || strings.ContainsAny(a, "+/=") {
		t.Fatalf("RandomToken(32): %q, %q", a, b)
	}
	if id := NewRequestID(); len(id) != 16 || id == NewRequestID() {
		t.Fatalf("NewRequestID: %q", id)
	}
}

func TestFlashRoundTrip(t *testing.T) {
	c := newCookies(t, CookieConfig{})
	long := strings.Repeat("x", 1500)
	for _, tc := range []struct {
		kind, msg string
		want      Flash
	}{
		{FlashSuccess, "Saved.", Flash{FlashSuccess, "Saved."}},
		{FlashWarning, "Nothing to do: a: b.", Flash{FlashWarning, "Nothing to do: a: b."}},
		{FlashError, "<script>no</script> ünïcode", Flash{FlashError, "<script>no</script> ünïcode"}},
		{"danger", "unknown kind", Flash{FlashSuccess, "unknown kind"}},
		{FlashSuccess, long, Flash{FlashSuccess, long[:1000]}},
	} {
		rec := httptest.NewRecorder()
		c.SetFlash(rec, tc.kind, tc.msg)
		if ck := cookieNamed(rec, "f"); ck == nil || ck.MaxAge != 300 || !ck.HttpOnly {
			t.Fatalf("flash cookie %+v", ck)
		}
		take := httptest.NewRecorder()
		got := c.TakeFlash(take, carry(rec))
		if got == nil || *got != tc.want {
			t.Errorf("SetFlash(%q, %.20q): took %+v, want %+v", tc.kind, tc.msg, got, tc.want)
		}
		if ck := cookieNamed(take, "f"); ck == nil || ck.MaxAge >= 0 {
			t.Errorf("taking the flash did not clear its cookie: %+v", ck)
		}
	}
	if got := c.TakeFlash(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil)); got != nil {
		t.Errorf("no cookie: %+v", got)
	}
}

func TestFlashForgeryRefused(t *testing.T) {
	c := newCookies(t, CookieConfig{})
	other := newCookies(t, CookieConfig{}) // another process: another key
	rec := httptest.NewRecorder()
	c.SetFlash(rec, FlashSuccess, "Released.")
	good := cookieNamed(rec, "f").Value
	body, mac, _ := strings.Cut(good, ".")
	otherRec := httptest.NewRecorder()
	other.SetFlash(otherRec, FlashError, "Your account is locked; visit evil.example.")
	forged := base64.RawURLEncoding.EncodeToString([]byte("error:Withdrawn.")) + "." + mac
	for name, value := range map[string]string{
		"signed by another key": cookieNamed(otherRec, "f").Value,
		"body changed":          forged,
		"no signature":          body,
		"empty signature":       body + ".",
		"signature only":        "." + mac,
		"garbage":               "%%%." + mac,
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: "f", Value: value})
		take := httptest.NewRecorder()
		if got := c.TakeFlash(take, r); got != nil {
			t.Errorf("%s: accepted as %+v", name, got)
		}
		if ck := cookieNamed(take, "f"); ck == nil || ck.MaxAge >= 0 {
			t.Errorf("%s: the refused cookie was not cleared", name)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/workspaces/ws/", "/workspaces/ws/"},
		{"/p/w/run-jobs/?x=1&y=2#top", "/p/w/run-jobs/?x=1&y=2#top"},
		{"//evil", "/"},
		{"///evil", "/"},
		{"/\\evil", "/"},
		{"\\\\evil", "/"},
		{"/\\/evil", "/"},
		{"https://evil", "/"},
		{"HTTPS://EVIL/", "/"},
		{" https://evil", "/"},
		{"https:\\\\evil", "/"},
		{"javascript:alert(1)", "/"},
		{"data:text/html,x", "/"},
		{"evil", "/"},
		{"//user@evil/", "/"},
		{"/a\r\nSet-Cookie: x=1", "/"},
		{"/\tevil", "/"},
		{"/a\x00b", "/"},
		{"/a\x1bb", "/"},
		{"/a\x7fb", "/"},
		{"/" + strings.Repeat("a", 1000), "/"},
		{"/%zz", "/"},
		// An encoded slash stays a path on this site: the browser asks
		// this site for it, it does not leave.
		{"/%2f%2fevil", "/%2f%2fevil"},
		{"/%5cevil", "/%5cevil"},
	} {
		got := SafeNext(tc.in)
		if got != tc.want {
			t.Errorf("SafeNext(%q) = %q, want %q", tc.in, got, tc.want)
		}
		// Whatever it returns, a browser following it stays on the site.
		base, _ := url.Parse("https://haven.test/login/")
		u, err := base.Parse(got)
		if err != nil || u.Host != "haven.test" || u.Scheme != "https" {
			t.Errorf("SafeNext(%q) = %q leaves the site: %v %v", tc.in, got, u, err)
		}
	}
}

func TestCSRFEqual(t *testing.T) {
	tok := RandomToken(32)
	for _, tc := range []struct {
		got, want string
		ok        bool
	}{
		{tok, tok, true},
		{tok, RandomToken(32), false},
		{tok[:42], tok, false},
		{tok + "a", tok, false},
		{"", "", false},
		{"", tok, false},
		{tok, "", false},
	} {
		if ok := CSRFEqual(tc.got, tc.want); ok != tc.ok {
			t.Errorf("CSRFEqual(%q, %q) = %v", tc.got, tc.want, ok)
		}
	}
}

func TestCheckCSRF(t *testing.T) {
	session, signedOut := RandomToken(32), RandomToken(32)
	post := func(field, header, cookie string) *http.Request {
		form := url.Values{"x": {"1"}}
		if field != "" {
			form.Set(CSRFField, field)
		}
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if header != "" {
			r.Header.Set(CSRFHeader, header)
		}
		if cookie != "" {
			r.AddCookie(&http.Cookie{Name: "c", Value: cookie})
		}
		return r
	}
	for _, tc := range []struct {
		name         string
		header       bool // the site accepts the header
		r            *http.Request
		sessionToken string
		want         bool
	}{
		{"session token in the form", false, post(session, "", ""), session, true},
		{"wrong token in the form", false, post(signedOut, "", ""), session, false},
		{"no token", false, post("", "", signedOut), session, false},
		{"the signed-out cookie does not stand in for a session", false, post(signedOut, "", signedOut), session, false},
		{"signed out: double-submit cookie", false, post(signedOut, "", signedOut), "", true},
		{"signed out: cookie differs", false, post(session, "", signedOut), "", false},
		{"signed out: no cookie", false, post(signedOut, "", ""), "", false},
		{"signed out: both empty", false, post("", "", ""), "", false},
		{"header accepted", true, post("", session, ""), session, true},
		{"header wins over the field", true, post(session, signedOut, ""), session, false},
		{"header ignored where not accepted", false, post("", session, ""), session, false},
	} {
		cfg := CookieConfig{Session: "s", CSRF: "c", Flash: "f"}
		if tc.header {
			cfg.CSRFHeader = CSRFHeader
		}
		c := newCookies(t, cfg)
		if got := c.CheckCSRF(httptest.NewRecorder(), tc.r, tc.sessionToken); got != tc.want {
			t.Errorf("%s: CheckCSRF = %v, want %v", tc.name, got, tc.want)
		}
	}
	// A form over the size limit is refused, even with the right token.
	c := newCookies(t, CookieConfig{})
	big := url.Values{CSRFField: {session}, "pad": {strings.Repeat("a", MaxFormBytes)}}
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(big.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.CheckCSRF(httptest.NewRecorder(), r, session) {
		t.Error("an oversized form passed the CSRF check")
	}
}

func TestSignedOutCSRF(t *testing.T) {
	c := newCookies(t, CookieConfig{})
	rec := httptest.NewRecorder()
	tok := c.SignedOutCSRF(rec, httptest.NewRequest(http.MethodGet, "/login/", nil))
	ck := cookieNamed(rec, "c")
	if len(tok) != TokenLen || ck == nil || ck.Value != tok || ck.MaxAge != 86400 {
		t.Fatalf("token %q, cookie %+v", tok, ck)
	}
	again := httptest.NewRecorder()
	if got := c.SignedOutCSRF(again, carry(rec)); got != tok || cookieNamed(again, "c") != nil {
		t.Errorf("second visit: token %q (want %q), cookie set again: %v", got, tok, cookieNamed(again, "c"))
	}
	r := httptest.NewRequest(http.MethodGet, "/login/", nil)
	r.AddCookie(&http.Cookie{Name: "c", Value: "short"})
	if got := c.SignedOutCSRF(httptest.NewRecorder(), r); got == "short" || len(got) != TokenLen {
		t.Errorf("a malformed cookie was reused: %q", got)
	}
}

func TestMiddleware(t *testing.T) {
	const csp = "default-src 'self'"
	var logs bytes.Buffer
	m := &Middleware{CSP: csp, Log: slog.New(slog.NewTextHandler(&logs, nil)), Failed: func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "sorry", http.StatusInternalServerError)
	}}
	for _, tc := range []struct {
		name    string
		route   string
		handler http.HandlerFunc
		status  int
		body    string
	}{
		{"ok", "GET /x/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }, 200, "hello"},
		{"no write", "", func(w http.ResponseWriter, r *http.Request) {}, 200, ""},
		{"teapot", "GET /x/", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(418) }, 418, ""},
		{"panic", "GET /x/", func(w http.ResponseWriter, r *http.Request) { panic("boom") }, 500, "sorry\n"},
		{"panic after writing", "", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			panic("late")
		}, 202, ""},
	} {
		logs.Reset()
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/x/?token=secret", nil)
		status, _ := m.Serve(rec, r, "ref123", tc.route, tc.handler)
		if status != tc.status || rec.Code != tc.status || rec.Body.String() != tc.body {
			t.Errorf("%s: returned %d, wrote %d %q; want %d %q", tc.name, status, rec.Code, rec.Body.String(), tc.status, tc.body)
		}
		for k, want := range map[string]string{
			"Content-Security-Policy": csp,
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "same-origin",
			"X-Frame-Options":         "SAMEORIGIN",
		} {
			if got := rec.Header().Get(k); got != want {
				t.Errorf("%s: %s %q, want %q", tc.name, k, got, want)
			}
		}
		out := logs.String()
		if strings.Contains(out, "secret") {
			t.Errorf("%s: the query string was logged: %s", tc.name, out)
		}
		if !strings.Contains(out, "msg=request") || !strings.Contains(out, "ref=ref123") || !strings.Contains(out, "path=/x/") {
			t.Errorf("%s: request not logged: %s", tc.name, out)
		}
		if (tc.route != "") != strings.Contains(out, "route=") {
			t.Errorf("%s: route logged wrongly: %s", tc.name, out)
		}
		if strings.HasPrefix(tc.name, "panic") != strings.Contains(out, "panic serving request") {
			t.Errorf("%s: panic logged wrongly: %s", tc.name, out)
		}
	}
}

func TestMiddlewarePassesAbort(t *testing.T) {
	m := &Middleware{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	defer func() {
		if p := recover(); p != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler", p)
		}
	}()
	m.Serve(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil), "r", "", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	t.Error("the abort did not propagate")
}

func TestStatic(t *testing.T) {
	fsys := fstest.MapFS{
		"static/site.css":  {Data: []byte("body{color:red}")},
		"static/logo.svg":  {Data: []byte("<svg/>")},
		"static/data.bin":  {Data: []byte{1, 2}},
		"static/.hidden":   {Data: []byte("x")},
		"other/secret.txt": {Data: []byte("no")},
	}
	s, err := NewStatic(fsys, "static")
	if err != nil {
		t.Fatal(err)
	}
	p1, err := s.Path("site.css")
	if err != nil || !strings.HasPrefix(p1, "/static/site.css?v=") || len(p1) != len("/static/site.css?v=")+12 {
		t.Fatalf("Path: %q, %v", p1, err)
	}
	fsys["static/site.css"] = &fstest.MapFile{Data: []byte("body{color:blue}")}
	if p2, _ := s.Path("site.css"); p2 == p1 {
		t.Error("the versioned path did not change with the content")
	}
	if _, err := s.Path("missing.css"); err == nil {
		t.Error("Path of a missing file")
	}
	for _, tc := range []struct {
		name, ctype string
		ok          bool
	}{
		{"site.css", "text/css; charset=utf-8", true},
		{"logo.svg", "image/svg+xml", true},
		{"data.bin", "application/octet-stream", true},
		{"missing.css", "", false},
		{".hidden", "", false},
		{"../other/secret.txt", "", false},
		{"Site.css", "", false},
		{"", "", false},
	} {
		rec := httptest.NewRecorder()
		ok := s.Serve(rec, httptest.NewRequest(http.MethodGet, "/static/x", nil), tc.name)
		if ok != tc.ok {
			t.Errorf("Serve(%q) = %v, want %v", tc.name, ok, tc.ok)
			continue
		}
		if !ok {
			if rec.Body.Len() != 0 || len(rec.Header()) != 0 {
				t.Errorf("Serve(%q) refused but wrote %v %q", tc.name, rec.Header(), rec.Body.String())
			}
			continue
		}
		if rec.Code != 200 || rec.Header().Get("Content-Type") != tc.ctype ||
			rec.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("Serve(%q): %d %v", tc.name, rec.Code, rec.Header())
		}
	}
}

func TestPages(t *testing.T) {
	fsys := fstest.MapFS{
		"t/base.html":     {Data: []byte(`<title>{{.Title}}</title>{{template "content" .}}{{template "footer"}}`)},
		"t/partials.html": {Data: []byte(`{{define "footer"}}<footer>f</footer>{{end}}`)},
		"t/home.html":     {Data: []byte(`{{define "content"}}<p>{{shout .Body}}</p>{{end}}`)},
		"t/broken.html":   {Data: []byte(`{{define "content"}}{{.Missing.Field}}{{end}}`)},
	}
	pages, err := ParsePages(fsys, "t", template.FuncMap{"shout": strings.ToUpper})
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 2 || pages["home"] == nil || pages["broken"] == nil {
		t.Fatalf("pages: %v", pages)
	}
	type data struct{ Title, Body string }
	rec := httptest.NewRecorder()
	if err := pages.Render(rec, http.StatusTeapot, "home", data{"T<", "hi"}); err != nil {
		t.Fatal(err)
	}
	if want := "<title>T&lt;</title><p>HI</p><footer>f</footer>"; rec.Code != 418 || rec.Body.String() != want ||
		rec.Header().Get("Content-Type") != "text/html; charset=utf-8" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("Render: %d %v %q", rec.Code, rec.Header(), rec.Body.String())
	}
	for _, name := range []string{"broken", "nosuch", "base", "partials"} {
		rec := httptest.NewRecorder()
		if err := pages.Render(rec, 200, name, data{}); err == nil {
			t.Errorf("Render(%q): no error", name)
		}
		if rec.Body.Len() != 0 || len(rec.Header()) != 0 {
			t.Errorf("Render(%q) failed but wrote %v %q", name, rec.Header(), rec.Body.String())
		}
	}
	if _, err := ParsePages(fstest.MapFS{"t/base.html": {Data: []byte("{{")}}, "t", nil); err == nil {
		t.Error("a broken base template parsed")
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		err     error
		status  int
		msg     string
		heading string
		ref     string
	}{
		{nil, 200, "fallback", "Server error", "R"},
		{haven.Errorf(haven.EINVALID, "bad input"), 400, "bad input", "That did not work", ""},
		{haven.Errorf(haven.ENOTFOUND, "no such thing"), 404, "no such thing", "Nothing here", ""},
		{haven.Errorf(haven.ECONFLICT, "already done"), 409, "already done", "That did not work", ""},
		{haven.Errorf(haven.EFORBIDDEN, "not yours"), 403, "not yours", "Not allowed", ""},
		{&haven.Error{Code: haven.EINVALID, Message: "shown", Err: errors.New("hidden cause")}, 400, "shown", "That did not work", ""},
		{haven.Errorf(haven.EINTERNAL, "disk on fire"), 500, "fallback", "Server error", "R"},
		{errors.New("plain"), 500, "fallback", "Server error", "R"},
	} {
		if got := HTTPStatus(tc.err); got != tc.status {
			t.Errorf("HTTPStatus(%v) = %d, want %d", tc.err, got, tc.status)
		}
		if got := UserMessage(tc.err, "fallback"); got != tc.msg {
			t.Errorf("UserMessage(%v) = %q, want %q", tc.err, got, tc.msg)
		}
		p := NewErrorPage(tc.status, "m", "R", "Nothing here")
		if p.Status != tc.status || p.Heading != tc.heading || p.Ref != tc.ref || p.Message != "m" {
			t.Errorf("NewErrorPage(%d) = %+v, want heading %q ref %q", tc.status, p, tc.heading, tc.ref)
		}
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"abc", 3, "abc"},
		{"abcd", 3, "abc…"},
		{"", 0, ""},
	} {
		if got := Truncate(tc.s, tc.n); got != tc.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}

func TestNewSite(t *testing.T) {
	tmpl := fstest.MapFS{
		"templates/base.html":     {Data: []byte(`{{template "content" .}}`)},
		"templates/partials.html": {Data: []byte(``)},
		"templates/home.html":     {Data: []byte(`{{define "content"}}{{.CSS}}{{end}}`)},
	}
	static := fstest.MapFS{"static/site.css": {Data: []byte("p{}")}}
	cfg := SiteConfig{Cookies: CookieConfig{Session: "s", CSRF: "c", Flash: "f"}, Templates: tmpl, Static: static, Stylesheet: "site.css"}
	s, err := NewSite(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.CSSPath, "/static/site.css?v=") || s.Pages["home"] == nil || s.Cookies.Session != "s" {
		t.Fatalf("site: %+v", s)
	}
	rec := httptest.NewRecorder()
	if err := s.Pages.Render(rec, 200, "home", Page[*struct{}]{CSS: s.CSSPath}); err != nil || rec.Body.String() != s.CSSPath {
		t.Errorf("Render: %v %q", err, rec.Body.String())
	}
	cfg.Stylesheet = "missing.css"
	if _, err := NewSite(cfg); err == nil || !strings.Contains(err.Error(), "stylesheet") {
		t.Errorf("missing stylesheet: %v", err)
	}
	cfg.Stylesheet, cfg.Templates = "site.css", fstest.MapFS{}
	if _, err := NewSite(cfg); err == nil || !strings.Contains(err.Error(), "templates") {
		t.Errorf("no templates: %v", err)
	}
}

func TestWriteJSONAndPublicMessage(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteJSON(rec, http.StatusBadRequest, map[string]string{"error": "File size should be <16Mb"})
	if rec.Code != http.StatusBadRequest || rec.Body.String() != `{"error":"File size should be <16Mb"}`+"\n" {
		t.Errorf("WriteJSON: %d %q", rec.Code, rec.Body.String())
	}
	for k, v := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	rec = httptest.NewRecorder()
	WriteJSON(rec, http.StatusOK, map[string]any{"f": func() {}}) // cannot be encoded
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "internal error") {
		t.Errorf("unencodable value: %d %q", rec.Code, rec.Body.String())
	}
	wrapped := haven.Errorf(haven.EINVALID, "bad name")
	wrapped.Err = errors.New("/secret/path: permission denied")
	if got := PublicMessage(fmt.Errorf("create: %w", wrapped)); got != "bad name" {
		t.Errorf("PublicMessage = %q, want the haven message without its cause", got)
	}
	if got := PublicMessage(errors.New("plain")); got != "plain" {
		t.Errorf("PublicMessage(plain) = %q", got)
	}
}
