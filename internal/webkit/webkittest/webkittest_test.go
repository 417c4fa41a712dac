package webkittest

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestDoKeepsCookies(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Fatal(err)
		}
		seen, _ := r.Cookie("a")
		switch r.PostForm.Get("step") {
		case "set":
			http.SetCookie(w, &http.Cookie{Name: "a", Value: "1"})
		case "check":
			if seen == nil || seen.Value != "1" {
				t.Errorf("cookie not sent back: %v", seen)
			}
			http.SetCookie(w, &http.Cookie{Name: "a", MaxAge: -1})
		}
	})
	jar := map[string]*http.Cookie{}
	Do(h, jar, PostForm("/", url.Values{"step": {"set"}}))
	if jar["a"] == nil || jar["a"].Value != "1" {
		t.Fatalf("jar after set: %v", jar)
	}
	Do(h, jar, PostForm("/", url.Values{"step": {"check"}}))
	if _, ok := jar["a"]; ok {
		t.Errorf("a deleted cookie is still in the jar: %v", jar)
	}
}

func TestClock(t *testing.T) {
	t0 := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	c := NewClock(t0)
	c.Advance(time.Hour)
	if got := c.Now(); !got.Equal(t0.Add(time.Hour)) {
		t.Errorf("after Advance: %v", got)
	}
	c.Set(t0)
	if got := c.Now(); !got.Equal(t0) {
		t.Errorf("after Set: %v", got)
	}
}
