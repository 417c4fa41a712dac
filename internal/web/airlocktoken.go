package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/jobserver"
	"github.com/haven-tre/haven/internal/store"
	"github.com/haven-tre/haven/internal/webkit"
)

// registerAirlockToken adds the Airlock token page (GET) and its form
// (POST) at jobserver.AirlockTokenPage.
func (h *Handler) registerAirlockToken(mux *http.ServeMux) {
	h.handle(mux, "GET "+jobserver.AirlockTokenPage+"{$}", h.airlockTokenPage)
	h.handle(mux, "POST "+jobserver.AirlockTokenPage+"{$}", h.airlockTokenSubmit)
}

// airlockTokenData is the Airlock token page's view model.
type airlockTokenData struct {
	PostURL  string
	Backends []string // the user's backends, upper-cased; none: no token
	Username string   // what to type into Airlock with the token
	Token    string   // a new token, shown once
	Expires  time.Time
	Error    string
}

// airlockTokenPage explains Airlock sign-in and offers a new token.
func (h *Handler) airlockTokenPage(w http.ResponseWriter, r *http.Request) {
	u, err := h.user(r)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	if u == nil {
		http.Redirect(w, r, loginURL(r), http.StatusSeeOther)
		return
	}
	v, err := h.airlockTokenView(r, u)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "airlocktoken", "Airlock sign-in token", v)
}

// airlockTokenSubmit makes a new token and shows it, once.
func (h *Handler) airlockTokenSubmit(w http.ResponseWriter, r *http.Request) {
	if !h.checkCSRF(w, r) {
		h.renderError(w, r, webkit.ErrCSRF)
		return
	}
	u := state(r).user
	if u == nil {
		h.renderError(w, r, errSignInNeeded)
		return
	}
	v, err := h.airlockTokenView(r, u)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	tok, expires, err := h.svc.CreateAirlockLoginToken(r.Context(), u)
	if err != nil {
		if haven.ErrorCode(err) != haven.EFORBIDDEN {
			h.renderError(w, r, err)
			return
		}
		v.Error = userMessage(err)
		h.render(w, r, http.StatusForbidden, "airlocktoken", "Airlock sign-in token", v)
		return
	}
	v.Token, v.Expires = tok, expires
	h.render(w, r, http.StatusOK, "airlocktoken", "Airlock sign-in token", v)
}

func (h *Handler) airlockTokenView(r *http.Request, u *store.User) (*airlockTokenData, error) {
	bs, err := h.store.UserBackends(r.Context(), u.ID)
	if err != nil {
		return nil, err
	}
	v := &airlockTokenData{PostURL: jobserver.AirlockTokenPage, Username: u.Username}
	for _, b := range bs {
		v.Backends = append(v.Backends, strings.ToUpper(b.Slug))
	}
	return v, nil
}
