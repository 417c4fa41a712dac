package webkit

import (
	"fmt"
	"html/template"
	"io/fs"
)

// SiteConfig is what NewSite needs.
type SiteConfig struct {
	Cookies    CookieConfig
	Templates  fs.FS  // holds templates/*.html: base.html, partials.html and the pages
	Static     fs.FS  // holds static/*
	Stylesheet string // the stylesheet's name in static/
	Funcs      template.FuncMap
}

// Site is one site's parsed pages, static files and cookies.
type Site struct {
	Cookies *Cookies
	Pages   Pages
	Static  Static
	CSSPath string // the stylesheet's versioned path
}

// NewSite parses a site's templates and finds its stylesheet once, at
// start-up, so that a broken template stops the program there.
func NewSite(cfg SiteConfig) (*Site, error) {
	s := &Site{}
	var err error
	if s.Cookies, err = NewCookies(cfg.Cookies); err != nil {
		return nil, err
	}
	if s.Static, err = NewStatic(cfg.Static, "static"); err != nil {
		return nil, fmt.Errorf("the static files: %w", err)
	}
	if s.CSSPath, err = s.Static.Path(cfg.Stylesheet); err != nil {
		return nil, fmt.Errorf("the stylesheet: %w", err)
	}
	if s.Pages, err = ParsePages(cfg.Templates, "templates", cfg.Funcs); err != nil {
		return nil, fmt.Errorf("the page templates: %w", err)
	}
	return s, nil
}

// Page is what every page template of a site receives; U is the type of
// the site's signed-in user.
type Page[U any] struct {
	Title string
	User  U      // the zero value when signed out
	CSRF  string // the token every form carries
	Flash *Flash // a one-time message from the previous request
	CSS   string // the stylesheet's versioned path
	Path  string // the request path, for "next" on a sign-in link
	Data  any    // the page's own view model
}
