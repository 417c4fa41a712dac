package releaseapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/haven-tre/haven"
)

// Client is how an Airlock calls the job server: sign-in, releases and
// events. Set its fields before use and do not change them afterwards; a
// Client is safe for concurrent use.
type Client struct {
	// BaseURL is the job server's address, e.g. "https://jobs.example.org".
	BaseURL string
	// Token is the backend's airlock token, sent as a bearer token.
	Token string
	// Backend is the backend's slug. The server knows the backend by its
	// token; the slug only names it in error messages.
	Backend string
	// HTTP sends the requests; nil: http.DefaultClient.
	HTTP *http.Client
}

// APIError is an answer of the job server other than a success.
type APIError struct {
	Status  int    // the HTTP status
	Message string // the server's {"error": ...}, or the status text
}

func (e *APIError) Error() string {
	return fmt.Sprintf("the job server answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// Unwrap gives the error a Haven code, so haven.ErrorCode works on it:
// 400 and 413 are EINVALID, 403 and 429 EFORBIDDEN (messages meant for
// the user), 404 ENOTFOUND, 409 and 422 ECONFLICT. Anything else (401: a
// wrong airlock token; 5xx) has no code and counts as EINTERNAL: a
// configuration or server fault, not the user's.
func (e *APIError) Unwrap() error {
	var code string
	switch e.Status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		code = haven.EINVALID
	case http.StatusForbidden, http.StatusTooManyRequests:
		code = haven.EFORBIDDEN
	case http.StatusNotFound:
		code = haven.ENOTFOUND
	case http.StatusConflict, http.StatusUnprocessableEntity:
		code = haven.ECONFLICT
	default:
		return nil
	}
	return &haven.Error{Code: code, Message: e.Message}
}

// maxAnswerBytes bounds an answer the client reads.
const maxAnswerBytes = 16 << 20

// Authenticate signs a user in with the login token they got from the job
// server (POST PathAuthenticate). user is a username or email address.
func (c *Client) Authenticate(ctx context.Context, user, token string) (*Profile, error) {
	var p Profile
	if err := c.postJSON(ctx, PathAuthenticate, nil, AuthenticateRequest{User: user, Token: token}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Authorise fetches a signed-in user's current profile (POST
// PathAuthorise); an error with code EFORBIDDEN means the user may no
// longer use this Airlock.
func (c *Client) Authorise(ctx context.Context, user string) (*Profile, error) {
	var p Profile
	if err := c.postJSON(ctx, PathAuthorise, nil, AuthoriseRequest{User: user}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// CreateRelease declares a release of files on behalf of the output
// checker releasing them (POST PathReleases). Creating the same release
// again returns it unchanged.
func (c *Client) CreateRelease(ctx context.Context, checker string, req CreateRequest) (*Release, error) {
	var rel Release
	if err := c.postJSON(ctx, PathReleases, http.Header{HeaderUser: {checker}}, req, &rel); err != nil {
		return nil, err
	}
	return &rel, nil
}

// Upload sends the bytes of file name (its path relative to the
// workspace) of a release created with CreateRelease. Sending the same
// bytes again succeeds; other bytes are refused (ECONFLICT, 422).
func (c *Client) Upload(ctx context.Context, releaseID, name string, data []byte) (*Upload, error) {
	path := strings.Replace(PathFiles, "{id}", url.PathEscape(releaseID), 1)
	disp := mime.FormatMediaType("attachment", map[string]string{"filename": name})
	if disp == "" {
		return nil, haven.Errorf(haven.EINVALID, "upload to release %s: the file name %q cannot be sent in a Content-Disposition header", releaseID, name)
	}
	h := http.Header{"Content-Disposition": {disp}, "Content-Type": {"application/octet-stream"}}
	var up Upload
	if err := c.do(ctx, path, h, bytes.NewReader(data), int64(len(data)), &up); err != nil {
		return nil, err
	}
	return &up, nil
}

// SendEvent reports a status change of a release request (POST
// PathEvents).
func (c *Client) SendEvent(ctx context.Context, ev Event) error {
	var resp EventResponse
	return c.postJSON(ctx, PathEvents, nil, ev, &resp)
}

func (c *Client) postJSON(ctx context.Context, path string, h http.Header, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", "application/json")
	return c.do(ctx, path, h, bytes.NewReader(b), int64(len(b)), out)
}

// do POSTs body to path and decodes a 2xx JSON answer into out.
func (c *Client) do(ctx context.Context, path string, h http.Header, body io.Reader, size int64, out any) error {
	target := strings.TrimRight(c.BaseURL, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, body)
	if err != nil {
		return fmt.Errorf("%s: %w", c.where(), err)
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	req.ContentLength = size
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: POST %s: %w", c.where(), target, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return fmt.Errorf("%s: POST %s: reading the answer: %w", c.where(), target, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &APIError{Status: resp.StatusCode}
		var er ErrorResponse
		if json.Unmarshal(data, &er) == nil && er.Error != "" {
			e.Message = er.Error
		} else {
			e.Message = strings.TrimSpace(http.StatusText(resp.StatusCode) + " (POST " + target + ")")
		}
		return e
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s: POST %s: the answer (%d, %d bytes) is not the expected JSON: %w",
			c.where(), target, resp.StatusCode, len(data), err)
	}
	return nil
}

// where names the caller in errors.
func (c *Client) where() string {
	if c.Backend != "" {
		return "airlock of backend " + c.Backend
	}
	return "airlock"
}

// IsAPIError reports whether err is an answer of the job server with the
// given status.
func IsAPIError(err error, status int) bool {
	var e *APIError
	return errors.As(err, &e) && e.Status == status
}
