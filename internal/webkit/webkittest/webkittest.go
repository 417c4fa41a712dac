// Package webkittest helps tests of the sites built on webkit act as a
// browser.
package webkittest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Do serves req with h as a browser would send it: with the cookies of
// jar, which it then updates from the response (a cookie with a negative
// Max-Age is deleted).
func Do(h http.Handler, jar map[string]*http.Cookie, req *http.Request) *httptest.ResponseRecorder {
	for _, ck := range jar {
		req.AddCookie(ck)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	for _, ck := range rec.Result().Cookies() {
		if ck.MaxAge < 0 {
			delete(jar, ck.Name)
		} else {
			jar[ck.Name] = &http.Cookie{Name: ck.Name, Value: ck.Value}
		}
	}
	return rec
}

// PostForm is a POST of form to target, encoded as a browser would.
func PostForm(target string, form url.Values) *http.Request {
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

// Clock is a settable clock for a site's Now, safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
