package gpucluster

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Download streams an artifact from its URL (Artifact.URL), starting at
// byte offset — so a copier that lost its stream resumes where it stopped
// with a Range request. No bearer token is sent: the URL is the credential.
//
// Getting the response is retried like every call (5xx, 429, timeouts,
// connection errors); the stream itself is the caller's: a read error ends
// it, and the caller resumes with the offset it reached. Options.Timeout
// bounds the wait for the headers and then each wait for body bytes. An
// expired URL is a *Rejected with code URL_EXPIRED: list the artifacts
// again for a fresh one. A server that ignores Range is handled by
// discarding the first offset bytes; an offset at the end gives an empty
// stream.
func (c *Client) Download(ctx context.Context, rawURL string, offset int64) (io.ReadCloser, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &Rejected{Op: "Download", Code: "INVALID_URL", Message: fmt.Sprintf("%q is not an http(s) URL", rawURL)}
	}
	if offset < 0 {
		return nil, &Rejected{Op: "Download", Code: "INVALID_OFFSET", Message: fmt.Sprintf("offset %d is negative", offset)}
	}
	var rc io.ReadCloser
	_, err = c.retry(ctx, "Download", func() (int, time.Duration, error) {
		r, status, ra, err := c.downloadAttempt(ctx, u.String(), offset)
		rc = r
		return status, ra, err
	})
	if err != nil {
		return nil, err
	}
	return rc, nil
}

func (c *Client) downloadAttempt(ctx context.Context, target string, offset int64) (io.ReadCloser, int, time.Duration, error) {
	dctx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(c.o.Timeout, cancel)
	fail := func(status int, ra time.Duration, err error) (io.ReadCloser, int, time.Duration, error) {
		timer.Stop()
		cancel()
		return nil, status, ra, err
	}
	req, err := http.NewRequestWithContext(dctx, http.MethodGet, target, nil)
	if err != nil {
		return fail(0, 0, &Rejected{Op: "Download", Code: "INVALID_URL", Message: err.Error()})
	}
	req.Header.Set("User-Agent", c.o.UserAgent)
	if offset > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fail(0, 0, &transient{err: err})
	}
	timer.Stop()
	body := &idleBody{rc: resp.Body, timer: timer, timeout: c.o.Timeout, cancel: cancel, ctx: ctx}

	switch resp.StatusCode {
	case http.StatusPartialContent:
		start, _, ok := contentRange(resp.Header.Get("Content-Range"))
		if !ok || start != offset {
			body.Close()
			return fail(resp.StatusCode, 0, &Rejected{Op: "Download", StatusCode: resp.StatusCode, Code: "BAD_RANGE",
				Message: fmt.Sprintf("asked for bytes from %d, got Content-Range %q", offset, resp.Header.Get("Content-Range"))})
		}
		return body, resp.StatusCode, 0, nil
	case http.StatusOK:
		if offset > 0 {
			if _, err := io.CopyN(io.Discard, body, offset); err != nil {
				body.Close()
				return fail(resp.StatusCode, 0, &transient{status: resp.StatusCode, err: fmt.Errorf("skipping to offset %d: %w", offset, err)})
			}
		}
		return body, resp.StatusCode, 0, nil
	case http.StatusRequestedRangeNotSatisfiable:
		cr := resp.Header.Get("Content-Range")
		body.Close()
		if total, ok := strings.CutPrefix(cr, "bytes */"); ok {
			if n, err := strconv.ParseInt(total, 10, 64); err == nil && n == offset {
				fail(resp.StatusCode, 0, nil)
				return io.NopCloser(strings.NewReader("")), resp.StatusCode, 0, nil // nothing left to read
			}
		}
		return fail(resp.StatusCode, 0, &Rejected{Op: "Download", StatusCode: resp.StatusCode, Code: "BAD_RANGE",
			Message: fmt.Sprintf("offset %d is past the end (Content-Range %q)", offset, cr)})
	}
	code, msg := readError(resp)
	ra := retryAfter(resp.Header.Get("Retry-After"))
	body.Close()
	return fail(resp.StatusCode, ra, classify("Download", resp.StatusCode, code, msg, ""))
}

// contentRange parses "bytes start-end/total".
func contentRange(v string) (start, end int64, ok bool) {
	r, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, 0, false
	}
	r, _, ok = strings.Cut(r, "/")
	if !ok {
		return 0, 0, false
	}
	a, b, ok := strings.Cut(r, "-")
	if !ok {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	return start, end, err1 == nil && err2 == nil
}

// idleBody is a response body whose reads time out after a while without
// data (the timer cancels the request's context).
type idleBody struct {
	rc      io.ReadCloser
	timer   *time.Timer
	timeout time.Duration
	cancel  context.CancelFunc
	ctx     context.Context // the caller's

	once sync.Once
}

func (b *idleBody) Read(p []byte) (int, error) {
	b.timer.Reset(b.timeout)
	n, err := b.rc.Read(p)
	if !b.timer.Stop() && err != nil && err != io.EOF && b.ctx.Err() == nil {
		err = fmt.Errorf("gpucluster: Download: no data for %s: %w", b.timeout, err)
	}
	return n, err
}

func (b *idleBody) Close() error {
	var err error
	b.once.Do(func() {
		b.timer.Stop()
		err = b.rc.Close()
		b.cancel()
	})
	return err
}
