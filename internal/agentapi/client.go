package agentapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultRequestTimeout bounds one request from the agent (spec §7.1).
const DefaultRequestTimeout = 60 * time.Second

// maxResponseBytes bounds how much of an answer the client reads.
const maxResponseBytes = 1 << 20

// Client calls the agent endpoints of a job server.
type Client struct {
	// BaseURL is the server's address, e.g. https://jobs.example.org.
	BaseURL string
	// Token is the backend's agent token.
	Token string
	// Backend is the slug of the backend the agent was configured for,
	// sent in the Haven-Backend header; "" sends none.
	Backend string
	// HTTP sends the requests; http.DefaultClient if nil. Its transport
	// decides TLS verification (and pinning).
	HTTP *http.Client
	// Timeout bounds each request (DefaultRequestTimeout if 0); it must be
	// longer than the server's long-poll hold.
	Timeout time.Duration
}

// StatusError is an answer other than 200 or 204.
type StatusError struct {
	Code    int    // HTTP status
	Message string // the server's "error" text, or the status text
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("server answered %d: %s", e.Code, e.Message)
}

// IsConflict reports whether err is a 409: the lease was lost or the
// attempt superseded. The agent stops working on that attempt.
func IsConflict(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == http.StatusConflict
}

// IsRetryable reports whether a request that failed with err may succeed
// if sent again unchanged: the server could not be reached, timed out, or
// answered 5xx or 429. Other answers (400, 401, 403, 404, 409) will not
// change by retrying.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code >= 500 || se.Code == http.StatusTooManyRequests
	}
	return true
}

// Poll asks for the next task; nil (and no error) when there is none.
func (c *Client) Poll(ctx context.Context, req PollRequest) (*Task, error) {
	var t Task
	ok, err := c.do(ctx, PathPoll, nil, req, &t)
	if err != nil || !ok {
		return nil, err
	}
	switch t.Kind {
	case TaskRun, TaskCancel, TaskRecover:
	default:
		return nil, fmt.Errorf("poll: the server sent a task of unknown kind %q", t.Kind)
	}
	return &t, nil
}

// Extend renews a lease; the answer says whether the job was cancelled.
func (c *Client) Extend(ctx context.Context, lease, agentID string) (ExtendResponse, error) {
	var out ExtendResponse
	_, err := c.do(ctx, PathExtend, map[string]string{"lease": lease}, ExtendRequest{AgentID: agentID}, &out)
	return out, err
}

// Release gives a claimed job that has not started back to the queue.
func (c *Client) Release(ctx context.Context, lease, agentID, reason string) error {
	_, err := c.do(ctx, PathRelease, map[string]string{"lease": lease}, ReleaseRequest{AgentID: agentID, Reason: reason}, nil)
	return err
}

// Update sends a status update; applied is false for a replay.
func (c *Client) Update(ctx context.Context, job string, u Update) (applied bool, err error) {
	var out UpdateResponse
	_, err = c.do(ctx, PathStatus, map[string]string{"job": job}, u, &out)
	return out.Applied, err
}

// do POSTs body as JSON to path (with {name} segments filled from vars)
// and decodes a 200 answer into out. It reports false for a 204.
func (c *Client) do(ctx context.Context, path string, vars map[string]string, body, out any) (bool, error) {
	for k, v := range vars {
		path = strings.Replace(path, "{"+k+"}", url.PathEscape(v), 1)
	}
	data, err := json.Marshal(body)
	if err != nil {
		return false, err
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultRequestTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.BaseURL, "/")+path, bytes.NewReader(data))
	if err != nil {
		return false, fmt.Errorf("server address %q: %w", c.BaseURL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if c.Backend != "" {
		req.Header.Set(HeaderBackend, c.Backend)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return false, fmt.Errorf("read the server's answer: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusNoContent:
		return false, nil
	case resp.StatusCode != http.StatusOK:
		var e ErrorResponse
		msg := http.StatusText(resp.StatusCode)
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return false, &StatusError{Code: resp.StatusCode, Message: msg}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return false, fmt.Errorf("the server's answer to %s is not valid JSON: %w", path, err)
		}
	}
	return true, nil
}
