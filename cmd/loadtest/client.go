package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// apiClient makes the set-up and book-keeping calls (sign-up, datasets,
// jobs). It is not the load: those calls are counted apart.
type apiClient struct {
	base  string // e.g. http://127.0.0.1:8080, without /api
	http  *http.Client
	calls atomic.Int64
	fails atomic.Int64
}

// apiError is an answer with an unexpected status.
type apiError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, e.Body)
}

// do sends a JSON request and decodes the envelope's data into out (if
// non-nil); any status but want is an error.
func (c *apiClient) do(ctx context.Context, method, path, token string, body any, headers map[string]string, want int, out any) error {
	c.calls.Add(1)
	err := c.doOnce(ctx, method, path, token, body, headers, want, out)
	if err != nil && ctx.Err() == nil {
		c.fails.Add(1)
	}
	return err
}

func (c *apiClient) doOnce(ctx context.Context, method, path, token string, body any, headers map[string]string, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if res.StatusCode != want {
		return &apiError{method, path, res.StatusCode, strings.TrimSpace(string(raw))}
	}
	if out == nil {
		return nil
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("%s %s: not an envelope: %w", method, path, err)
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return fmt.Errorf("%s %s: decoding data: %w", method, path, err)
	}
	return nil
}

// signUp creates an account and logs in; it returns the user id and ID
// token.
func (c *apiClient) signUp(ctx context.Context, email, password, name string) (id, token string, err error) {
	var u struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if err := c.do(ctx, "POST", "/api/auth/signup", "", map[string]any{"email": email, "password": password, "name": name}, nil, http.StatusCreated, &u); err != nil {
		return "", "", err
	}
	var tok struct {
		IDToken string `json:"id_token"`
	}
	if err := c.do(ctx, "POST", "/api/auth/login", "", map[string]any{"email": email, "password": password}, nil, http.StatusOK, &tok); err != nil {
		return "", "", err
	}
	return u.User.ID, tok.IDToken, nil
}

// uploadDataset creates a dataset, PUTs body to its presigned URL (as a
// browser does) and waits until it is validated.
func (c *apiClient) uploadDataset(ctx context.Context, token, name string, body []byte) (string, error) {
	var created struct {
		Dataset struct {
			ID string `json:"id"`
		} `json:"dataset"`
		UploadURL string `json:"uploadUrl"`
	}
	if err := c.do(ctx, "POST", "/api/datasets", token, map[string]any{"name": name, "file_name": "loadtest.jsonl", "file_size": len(body)}, nil, http.StatusCreated, &created); err != nil {
		return "", err
	}
	if created.UploadURL == "" {
		return "", fmt.Errorf("dataset %s: no single presigned PUT URL (is the file above the multipart threshold?)", created.Dataset.ID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, created.UploadURL, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("PUT to the presigned URL: %w", err)
	}
	msg, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("PUT to the presigned URL: %d %s", res.StatusCode, msg)
	}
	for {
		var d struct {
			Status       string  `json:"status"`
			ErrorMessage *string `json:"error_message"`
		}
		if err := c.do(ctx, "GET", "/api/datasets/"+created.Dataset.ID, token, nil, nil, http.StatusOK, &d); err != nil {
			return "", err
		}
		switch d.Status {
		case "ready":
			return created.Dataset.ID, nil
		case "error":
			return "", fmt.Errorf("dataset %s failed validation: %v", created.Dataset.ID, d.ErrorMessage)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return "", err
		}
	}
}

// createJob launches a balanced run on one A100, with an Idempotency-Key as
// the frontend sends.
func (c *apiClient) createJob(ctx context.Context, token, datasetID, key string) (jobView, error) {
	var created struct {
		Job jobView `json:"job"`
	}
	body := map[string]any{"dataset_id": datasetID, "preset_id": "balanced", "gpu_config": map[string]any{"gpu_type": "A100-80GB", "num_gpus": 1}}
	err := c.do(ctx, "POST", "/api/jobs", token, body, map[string]string{"Idempotency-Key": key}, http.StatusCreated, &created)
	return created.Job, err
}

// listJobs returns up to 100 of the user's jobs, newest first; status may
// be "" or a filter such as "active".
func (c *apiClient) listJobs(ctx context.Context, token, status string) ([]jobView, error) {
	p := "/api/jobs?limit=100"
	if status != "" {
		p += "&status=" + status
	}
	var l struct {
		Jobs []jobView `json:"jobs"`
	}
	err := c.do(ctx, "GET", p, token, nil, nil, http.StatusOK, &l)
	return l.Jobs, err
}

// jobView is the part of a job (docs/openapi.yaml, Job) this tool reads.
// It is declared here rather than imported from pkg/job so the tool builds
// and runs against the API's contract alone.
type jobView struct {
	ID          string    `json:"id"`
	Status      jobStatus `json:"status"`
	CurrentStep int       `json:"current_step"`
}

// jobStatus is a job's status: queued, initializing, running, completed,
// failed or cancelled.
type jobStatus string

const (
	statusRunning   jobStatus = "running"
	statusCompleted jobStatus = "completed"
	statusFailed    jobStatus = "failed"
)

// Terminal: the job will not change any more.
func (s jobStatus) Terminal() bool {
	return s == statusCompleted || s == statusFailed || s == "cancelled"
}

// The feed's final event types (GET /api/jobs/{id}/stream).
const (
	feedComplete = "complete"
	feedError    = "error"
)

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
