package gpusim_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brightrun/brightrun/pkg/gpucluster"
	"github.com/brightrun/brightrun/pkg/gpusim"
)

// admin calls a /_sim endpoint.
func (e *env) admin(t *testing.T, method, path, body, tok string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// sleeps records the client's waits instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return nil
}

// Bursts set through POST /_sim/faults hit the next requests; the client
// retries through them.
func TestFaultBursts(t *testing.T) {
	tests := []struct {
		name        string
		faults      string
		timeout     time.Duration
		wantErr     bool
		wantSleeps  int
		wantFirstAt time.Duration // the first wait, if exact (Retry-After)
	}{
		{name: "three 503s", faults: `{"errors":{"count":3}}`, wantSleeps: 3},
		{name: "500 then success", faults: `{"errors":{"count":1,"status":500}}`, wantSleeps: 1},
		{name: "429 with Retry-After", faults: `{"errors":{"count":1,"status":429,"retry_after_seconds":7}}`, wantSleeps: 1, wantFirstAt: 7 * time.Second},
		{name: "slow response times out", faults: `{"delays":{"count":1,"delay_ms":400}}`, timeout: 100 * time.Millisecond, wantSleeps: 1},
		{name: "more 503s than attempts", faults: `{"errors":{"count":10,"status":502}}`, wantErr: true, wantSleeps: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, gpusim.Options{})
			j := e.submit(t, smallRun(t, "job-burst"))
			if code, body := e.admin(t, "POST", "/_sim/faults", tt.faults, token); code != 200 {
				t.Fatalf("POST /_sim/faults = %d %s", code, body)
			}
			var sl sleeps
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			c, err := gpucluster.New(e.url, token, gpucluster.Options{Timeout: timeout, MaxAttempts: 4, Sleep: sl.sleep})
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Status(context.Background(), j.ID)
			if tt.wantErr {
				var cu *gpucluster.ClusterUnavailable
				if !errors.As(err, &cu) || cu.Attempts != 4 || cu.StatusCode != 502 {
					t.Errorf("Status = %v, want ClusterUnavailable after 4 attempts, HTTP 502", err)
				}
			} else if err != nil || got.ID != j.ID {
				t.Errorf("Status = %v, %v", got.ID, err)
			}
			if len(sl.d) != tt.wantSleeps {
				t.Errorf("%d waits %v, want %d", len(sl.d), sl.d, tt.wantSleeps)
			}
			if tt.wantFirstAt != 0 && (len(sl.d) == 0 || sl.d[0] != tt.wantFirstAt) {
				t.Errorf("waits %v, want first %v", sl.d, tt.wantFirstAt)
			}
		})
	}
}

func TestFaultAdmin(t *testing.T) {
	e := newEnv(t, gpusim.Options{})
	if code, _ := e.admin(t, "POST", "/_sim/faults", `{"errors":{"count":1}}`, "wrong"); code != 401 {
		t.Errorf("admin with a wrong token = %d, want 401", code)
	}
	for _, bad := range []string{`{"errors":{"count":1,"status":404}}`, `{"nope":1}`, `{"next_jobs":[{"fail_at_progress":120}]}`} {
		if code, body := e.admin(t, "POST", "/_sim/faults", bad, token); code != 400 {
			t.Errorf("POST %s = %d %s, want 400", bad, code, body)
		}
	}
	code, body := e.admin(t, "POST", "/_sim/faults", `{"errors":{"count":2,"target":"files"},"next_jobs":[{"forget_now":true}]}`, token)
	var f gpusim.Faults
	if err := json.Unmarshal([]byte(body), &f); code != 200 || err != nil || f.Errors.Count != 2 || len(f.NextJobs) != 1 {
		t.Errorf("POST = %d %s", code, body)
	}
	// API requests are not hit by a files burst.
	j := e.submit(t, smallRun(t, "job-admin"))
	// The queued job fault was taken by that submission: forgotten at once.
	if _, err := e.client.Status(context.Background(), j.ID); !errors.As(err, new(*gpucluster.JobNotFound)) {
		t.Errorf("Status of a job forgotten at once: %v", err)
	}
	if code, body := e.admin(t, "DELETE", "/_sim/faults", "", token); code != 200 || !strings.Contains(body, `"errors":{"count":0`) {
		t.Errorf("DELETE = %d %s", code, body)
	}

	// A fault for a running job, by our job id.
	k := e.submit(t, smallRun(t, "job-admin-2"))
	e.clock.Advance(10 * time.Minute)
	if code, body := e.admin(t, "POST", "/_sim/jobs/job-admin-2/faults", `{"fail_at_progress":1,"fail_reason":"Xid 79: GPU has fallen off the bus"}`, token); code != 204 {
		t.Fatalf("job fault = %d %s", code, body)
	}
	s := e.status(t, k.ID)
	if s.Status != gpucluster.StatusFailed || s.Error.Message != "Xid 79: GPU has fallen off the bus" {
		t.Errorf("job with a past fault = %s %+v, want failed now", s.Status, s.Error)
	}
	if code, _ := e.admin(t, "POST", "/_sim/jobs/nope/faults", `{"forget_now":true}`, token); code != 404 {
		t.Errorf("fault for an unknown job = %d, want 404", code)
	}
}

func TestAuthAndRoutes(t *testing.T) {
	e := newEnv(t, gpusim.Options{})
	var calls int
	c, err := gpucluster.New(e.url, "wrong-token", gpucluster.Options{Sleep: func(context.Context, time.Duration) error { calls++; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Status(context.Background(), "sim-x")
	var rej *gpucluster.Rejected
	if !errors.As(err, &rej) || rej.StatusCode != 401 || rej.Code != gpucluster.CodeUnauthorized || calls != 0 {
		t.Errorf("wrong token: %v after %d retries, want Rejected 401 UNAUTHORIZED, no retry", err, calls)
	}
	_, err = e.client.Status(context.Background(), "sim-unknown")
	var nf *gpucluster.JobNotFound
	if !errors.As(err, &nf) || nf.Code != gpucluster.CodeJobNotFound {
		t.Errorf("unknown job: %v, want JobNotFound", err)
	}
	if code, body := e.admin(t, "GET", "/v1/nothing", "", token); code != 404 || !strings.Contains(body, `"code":"NOT_FOUND"`) {
		t.Errorf("unknown route = %d %s", code, body)
	}
	if _, err := e.client.Logs(context.Background(), "x", "not-a-cursor!", 0); !errors.As(err, &rej) || rej.Code != gpucluster.CodeInvalidCursor {
		// 400 on the cursor comes before the job lookup.
		t.Errorf("bad cursor: %v", err)
	}
}

// With FetchDatasets the simulator reads the presigned URL; a mismatch
// fails the job during initializing.
func TestFetchDataset(t *testing.T) {
	data := []byte(strings.Repeat(`{"messages":[]}`+"\n", 100))
	sum := sha256.Sum256(data)
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("X-Amz-Signature") != "ok" {
			http.Error(w, "AccessDenied", http.StatusForbidden)
			return
		}
		_, _ = w.Write(data)
	}))
	defer store.Close()
	tests := []struct {
		name, url, sha string
		size           int64
		wantCode       string
	}{
		{"good", store.URL + "/d?X-Amz-Signature=ok", hex.EncodeToString(sum[:]), int64(len(data)), ""},
		{"expired URL", store.URL + "/d?X-Amz-Signature=expired", hex.EncodeToString(sum[:]), int64(len(data)), "DATASET_UNAVAILABLE"},
		{"wrong sha256", store.URL + "/d?X-Amz-Signature=ok", strings.Repeat("0", 64), int64(len(data)), "DATASET_UNAVAILABLE"},
		{"wrong size", store.URL + "/d?X-Amz-Signature=ok", "", 5, "DATASET_UNAVAILABLE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, gpusim.Options{FetchDatasets: true})
			req := smallRun(t, "job-fetch")
			req.Dataset.URL, req.Dataset.SHA256, req.Dataset.SizeBytes = tt.url, tt.sha, tt.size
			j := e.runToEnd(t, e.submit(t, req).ID)
			switch {
			case tt.wantCode == "" && j.Status != gpucluster.StatusCompleted:
				t.Errorf("status %s %+v, want completed", j.Status, j.Error)
			case tt.wantCode != "" && (j.Status != gpucluster.StatusFailed || j.Error.Code != tt.wantCode || j.Stage != gpucluster.StageInitializing):
				t.Errorf("status %s in %s, %+v; want failed in initializing with %s", j.Status, j.Stage, j.Error, tt.wantCode)
			}
		})
	}
}
