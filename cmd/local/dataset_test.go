package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/brightrun/brightrun/pkg/blob"
	"github.com/brightrun/brightrun/pkg/dataset"
	"github.com/brightrun/brightrun/pkg/dataset/datasetgen"
	"github.com/brightrun/brightrun/pkg/event"
	"github.com/brightrun/brightrun/pkg/testkit"
)

// generated returns a realistic brightrun_lora_v4 file of about size bytes.
func generated(t testing.TB, size int64, seed uint64, errorRate float64) []byte {
	t.Helper()
	r, err := datasetgen.NewReader(datasetgen.Options{Seed: seed, ErrorRate: errorRate}, size)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func createDataset(t testing.TB, tok, name, file string, size int) dataset.Created {
	t.Helper()
	var c dataset.Created
	api.Expect(t, testkit.Request{Method: "POST", Path: "/api/datasets", Token: tok,
		Body: map[string]any{"name": name, "file_name": file, "file_size": size}}, http.StatusCreated, "").Into(t, &c)
	return c
}

// putTo uploads body with a plain HTTP PUT, as a browser would.
func putTo(t testing.TB, url string, body []byte) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, url, bytes.NewReader(body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("PUT to the presigned URL: got %d %s", res.StatusCode, msg)
	}
	return res.Header.Get("ETag")
}

// waitFor polls GET /api/datasets/{id} until the status is final.
func waitFor(t testing.TB, tok, id string) dataset.Dataset {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var d dataset.Dataset
		api.Expect(t, testkit.Request{Method: "GET", Path: "/api/datasets/" + id, Token: tok}, http.StatusOK, "").Into(t, &d)
		if d.Status == dataset.StatusReady || d.Status == dataset.StatusError {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("dataset %s still %s after 60 s", id, d.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// validatedEvents returns the DatasetValidated events for a dataset.
func validatedEvents(t *testing.T, id string) []event.DatasetValidatedDetail {
	t.Helper()
	var out []event.DatasetValidatedDetail
	for _, ev := range st.Bus.Events() {
		if ev.DetailType != event.DatasetValidated {
			continue
		}
		var d event.DatasetValidatedDetail
		if err := json.Unmarshal(ev.Detail, &d); err != nil {
			t.Fatal(err)
		}
		if d.DatasetID == id {
			out = append(out, d)
		}
	}
	return out
}

// TestDatasetUploadValidates: create → PUT to the presigned URL → the S3
// event validates it → GET shows ready with statistics → one event.
func TestDatasetUploadValidates(t *testing.T) {
	a := signUp(t, "Uploader")
	body := generated(t, 400<<10, 7, 0)
	c := createDataset(t, a.Token, "Support chats", "support chats (v2).jsonl", len(body))
	if c.Upload.Method != "PUT" || c.UploadURL == "" || c.Upload.Headers["Content-Length"] != fmt.Sprint(len(body)) || c.Dataset.Status != dataset.StatusUploading {
		t.Fatalf("create: got %+v, want a PUT upload bound to the length", c.Upload)
	}
	if want := "datasets/" + a.ID + "/" + c.Dataset.ID + "/support_chats__v2_.jsonl"; c.StoragePath != want || c.Dataset.StoragePath != want {
		t.Fatalf("storage path: got %q, want %q", c.StoragePath, want)
	}

	putTo(t, c.UploadURL, body)
	d := waitFor(t, a.Token, c.Dataset.ID)
	sum := sha256.Sum256(body)
	switch {
	case d.Status != dataset.StatusReady || !d.TrainingReady || d.ErrorMessage != nil:
		t.Fatalf("status: got %s ready=%v err=%v, want ready", d.Status, d.TrainingReady, d.ErrorMessage)
	case d.Format == nil || *d.Format != dataset.FormatLoRAv4:
		t.Errorf("format: got %v, want detected brightrun_lora_v4", d.Format)
	case d.SHA256 == nil || *d.SHA256 != hex.EncodeToString(sum[:]):
		t.Errorf("sha256: got %v, want %x", d.SHA256, sum)
	case d.Statistics == nil || d.Statistics.Conversations < 10 || !d.Statistics.TokensExact:
		t.Errorf("statistics: got %+v", d.Statistics)
	case *d.TotalTrainingPairs <= 0 || *d.TotalValidationPairs <= 0 || *d.TotalTokens <= 0 || *d.AvgTurnsPerConversation <= 0 || *d.AvgTokensPerTurn <= 0:
		t.Errorf("spec statistics: pairs %d/%d tokens %d", *d.TotalTrainingPairs, *d.TotalValidationPairs, *d.TotalTokens)
	case len(d.SampleData) != 3 || len(d.ValidationErrors) != 0 || d.ValidatedAt == nil || d.UploadedAt == nil:
		t.Errorf("samples %d, errors %d, validated %v, uploaded %v", len(d.SampleData), len(d.ValidationErrors), d.ValidatedAt, d.UploadedAt)
	}

	// Confirm after the event is a no-op: same state, no second run.
	res := api.Expect(t, testkit.Request{Method: "POST", Path: "/api/datasets/" + c.Dataset.ID + "/confirm", Token: a.Token}, http.StatusAccepted, "")
	var confirmed struct{ Dataset dataset.Dataset }
	res.Into(t, &confirmed)
	if confirmed.Dataset.Status != dataset.StatusReady {
		t.Errorf("confirm after validation: got %s, want ready", confirmed.Dataset.Status)
	}
	st.Host.WaitAsync()
	if evs := validatedEvents(t, c.Dataset.ID); len(evs) != 1 || evs[0].Status != "ready" || evs[0].UserID != a.ID || evs[0].Conversations != d.Statistics.Conversations {
		t.Fatalf("DatasetValidated events: got %+v, want exactly one, ready", evs)
	}
	// The list shows it; the dashboard counts it.
	var stats map[string]float64
	api.Expect(t, testkit.Request{Method: "GET", Path: "/api/dashboard/stats", Token: a.Token}, http.StatusOK, "").Into(t, &stats)
	if stats["total_datasets"] != 1 {
		t.Errorf("total_datasets: got %v, want 1", stats["total_datasets"])
	}
}

// TestDatasetErrorsAreLineNumbered: a broken file ends in error with every
// problem's line, path, code and suggestion.
func TestDatasetErrorsAreLineNumbered(t *testing.T) {
	a := signUp(t, "Broken")
	good := generated(t, 8<<10, 3, 0)
	lines := strings.SplitAfter(strings.TrimSpace(string(good)), "\n")
	broken := strings.Join(lines[:2], "") + "\n" + // line 3 blank: fine
		`{"conversation_id":"x1","turns":[{"role":"user","content":"hi"},{"role":"robot","content":"beep"}]}` + "\n" + // line 4
		`{"conversation_id":"x2","turns":[{"role":"user","content":"hi"}` + "\n" + // line 5: bad JSON
		strings.Join(lines[2:], "")
	c := createDataset(t, a.Token, "Broken", "broken.jsonl", len(broken))
	putTo(t, c.UploadURL, []byte(broken))
	d := waitFor(t, a.Token, c.Dataset.ID)
	if d.Status != dataset.StatusError || d.TrainingReady || d.ErrorMessage == nil || d.ErrorCount < 2 {
		t.Fatalf("got status %s ready %v message %v errors %d, want error", d.Status, d.TrainingReady, d.ErrorMessage, d.ErrorCount)
	}
	want := map[string]dataset.Code{"4 turns[1].role": dataset.CodeUnknownRole, "5 ": dataset.CodeInvalidJSON}
	for _, is := range d.ValidationErrors {
		k := fmt.Sprintf("%d %s", is.Line, is.Path)
		if code, ok := want[k]; ok && is.Code == code && is.Suggestion != "" && is.Message != "" {
			delete(want, k)
		}
	}
	if len(want) != 0 {
		t.Fatalf("missing issues %v in %+v", want, d.ValidationErrors)
	}
	if !strings.Contains(*d.ErrorMessage, "line 4") {
		t.Errorf("error_message should point at the first error: %q", *d.ErrorMessage)
	}
	st.Host.WaitAsync()
	if evs := validatedEvents(t, c.Dataset.ID); len(evs) != 1 || evs[0].Status != "error" {
		t.Fatalf("events: got %+v, want one with status error", evs)
	}
}

// TestDatasetConfirmRacesTheEvent: confirm right after the upload races
// the S3 event; whichever wins validates, once.
func TestDatasetConfirmRacesTheEvent(t *testing.T) {
	a := signUp(t, "Racer")
	body := generated(t, 64<<10, 11, 0)
	for i := range 3 {
		c := createDataset(t, a.Token, fmt.Sprintf("race %d", i), "race.jsonl", len(body))
		api.Expect(t, testkit.Request{Method: "POST", Path: "/api/datasets/" + c.Dataset.ID + "/confirm", Token: a.Token}, http.StatusConflict, "UPLOAD_NOT_FOUND")
		putTo(t, c.UploadURL, body)
		for range 2 { // a double click
			api.Expect(t, testkit.Request{Method: "POST", Path: "/api/datasets/" + c.Dataset.ID + "/confirm", Token: a.Token}, http.StatusAccepted, "")
		}
		if d := waitFor(t, a.Token, c.Dataset.ID); d.Status != dataset.StatusReady {
			t.Fatalf("race %d: got %s, want ready", i, d.Status)
		}
		st.Host.WaitAsync()
		if evs := validatedEvents(t, c.Dataset.ID); len(evs) != 1 {
			t.Fatalf("race %d: got %d DatasetValidated events, want 1", i, len(evs))
		}
	}
}

// TestDatasetMultipart150MiB: a 150 MiB file through presigned multipart.
func TestDatasetMultipart150MiB(t *testing.T) {
	a := signUp(t, "Big")
	body := generated(t, 150<<20, 5, 0)
	c := createDataset(t, a.Token, "Big", "big.jsonl", len(body))
	if c.Upload.Method != "MULTIPART" || len(c.Upload.Parts) != 3 || c.Upload.PartSize != 64<<20 || c.UploadURL != "" {
		t.Fatalf("create: got method %s, %d parts of %d, want MULTIPART with 3 parts of 64 MiB", c.Upload.Method, len(c.Upload.Parts), c.Upload.PartSize)
	}
	var parts []map[string]any
	for _, p := range c.Upload.Parts {
		off := int64(p.Number-1) * c.Upload.PartSize
		etag := putTo(t, p.URL, body[off:off+p.Size])
		parts = append(parts, map[string]any{"part_number": p.Number, "etag": etag})
	}
	path := "/api/datasets/" + c.Dataset.ID + "/upload/complete"
	api.Expect(t, testkit.Request{Method: "POST", Path: path, Token: a.Token, Body: map[string]any{"parts": parts[:2]}}, http.StatusBadRequest, "VALIDATION_ERROR") // a part missing
	api.Expect(t, testkit.Request{Method: "POST", Path: path, Token: a.Token, Body: map[string]any{"parts": parts}}, http.StatusOK, "")
	api.Expect(t, testkit.Request{Method: "POST", Path: path, Token: a.Token, Body: map[string]any{"parts": parts}}, http.StatusOK, "") // repeated: no-op
	d := waitFor(t, a.Token, c.Dataset.ID)
	sum := sha256.Sum256(body)
	if d.Status != dataset.StatusReady || *d.SHA256 != hex.EncodeToString(sum[:]) || d.Statistics.Conversations < 50_000 {
		t.Fatalf("got %s sha %v conversations %d", d.Status, d.SHA256, d.Statistics.Conversations)
	}
}

// TestDatasetManagement: list filters, search, sort, pages; patch; delete.
func TestDatasetManagement(t *testing.T) {
	a := signUp(t, "Librarian")
	ok := generated(t, 64<<10, 1, 0)
	var ids []string
	for _, name := range []string{"Zeta support", "alpha sales", "Beta Support"} {
		c := createDataset(t, a.Token, name, "f.jsonl", len(ok))
		putTo(t, c.UploadURL, ok)
		waitFor(t, a.Token, c.Dataset.ID)
		ids = append(ids, c.Dataset.ID)
	}
	createDataset(t, a.Token, "pending upload", "p.jsonl", 10) // never uploaded

	list := func(q string) (names []string, l dataset.List) {
		api.Expect(t, testkit.Request{Method: "GET", Path: "/api/datasets" + q, Token: a.Token}, http.StatusOK, "").Into(t, &l)
		for _, d := range l.Datasets {
			names = append(names, d.Name)
			if d.ValidationErrors != nil || d.SampleData != nil {
				t.Errorf("lists carry summaries only, got a report in %s", d.Name)
			}
		}
		return names, l
	}
	for _, c := range []struct {
		q, want string
		total   int
	}{
		{"", "pending upload,Beta Support,alpha sales,Zeta support", 4}, // newest first
		{"?sort_by=name", "alpha sales,Beta Support,pending upload,Zeta support", 4},
		{"?sort_by=name&sort_direction=desc&limit=2&page=2", "Beta Support,alpha sales", 4},
		{"?search=SUPPORT", "Beta Support,Zeta support", 2},
		{"?status=ready&training_ready=true&format=brightrun_lora_v4", "Beta Support,alpha sales,Zeta support", 3},
		{"?status=uploading", "pending upload", 1},
		{"?training_ready=false", "pending upload", 1},
		{"?page=9", "", 4},
	} {
		names, l := list(c.q)
		if got := strings.Join(names, ","); got != c.want || l.Total != c.total {
			t.Errorf("GET /api/datasets%s: got [%s] total %d, want [%s] total %d", c.q, got, l.Total, c.want, c.total)
		}
	}
	if _, l := list("?limit=3"); l.TotalPages != 2 || l.Limit != 3 || l.Page != 1 {
		t.Errorf("paging: got page %d limit %d totalPages %d", l.Page, l.Limit, l.TotalPages)
	}

	var d dataset.Dataset
	api.Expect(t, testkit.Request{Method: "PATCH", Path: "/api/datasets/" + ids[0], Token: a.Token, Body: `{"name":" Omega ","description":"Q3 tickets"}`}, http.StatusOK, "").Into(t, &d)
	if d.Name != "Omega" || d.Description == nil || *d.Description != "Q3 tickets" || d.Status != dataset.StatusReady {
		t.Fatalf("patch: got %+v", d)
	}
	api.Expect(t, testkit.Request{Method: "PATCH", Path: "/api/datasets/" + ids[0], Token: a.Token, Body: `{"description":null}`}, http.StatusOK, "").Into(t, &d)
	if d.Description != nil || d.Name != "Omega" {
		t.Fatalf("patch null description: got %+v", d)
	}

	api.Expect(t, testkit.Request{Method: "DELETE", Path: "/api/datasets/" + ids[1], Token: a.Token}, http.StatusOK, "")
	api.Expect(t, testkit.Request{Method: "GET", Path: "/api/datasets/" + ids[1], Token: a.Token}, http.StatusNotFound, "NOT_FOUND")
	api.Expect(t, testkit.Request{Method: "DELETE", Path: "/api/datasets/" + ids[1], Token: a.Token}, http.StatusNotFound, "NOT_FOUND")
	api.Expect(t, testkit.Request{Method: "PATCH", Path: "/api/datasets/" + ids[1], Token: a.Token, Body: `{"name":"x"}`}, http.StatusNotFound, "NOT_FOUND")
	if names, _ := list(""); len(names) != 3 {
		t.Errorf("after delete: got %v, want 3 datasets", names)
	}
	var stats map[string]float64
	api.Expect(t, testkit.Request{Method: "GET", Path: "/api/dashboard/stats", Token: a.Token}, http.StatusOK, "").Into(t, &stats)
	if stats["total_datasets"] != 3 {
		t.Errorf("total_datasets after delete: got %v, want 3", stats["total_datasets"])
	}
}

// TestDatasetIsolation: every dataset endpoint answers 404 for another
// user's dataset, and lists only the caller's.
func TestDatasetIsolation(t *testing.T) {
	owner, other := signUp(t, "Owner"), signUp(t, "Other")
	body := generated(t, 64<<10, 2, 0)
	c := createDataset(t, owner.Token, "Private", "p.jsonl", len(body))
	putTo(t, c.UploadURL, body)
	waitFor(t, owner.Token, c.Dataset.ID)
	id := c.Dataset.ID
	testkit.AssertNotFoundForOthers(t, api, owner.Token, other.Token,
		testkit.Request{Method: "GET", Path: "/api/datasets/" + id},
		testkit.Request{Method: "PATCH", Path: "/api/datasets/" + id, Body: `{"name":"mine now"}`},
		testkit.Request{Method: "POST", Path: "/api/datasets/" + id + "/confirm"},
		testkit.Request{Method: "POST", Path: "/api/datasets/" + id + "/upload/complete", Body: `{"parts":[{"part_number":1,"etag":"x"}]}`},
		testkit.Request{Method: "DELETE", Path: "/api/datasets/" + id}, // last: the owner's call deletes it
	)
	var l dataset.List
	api.Expect(t, testkit.Request{Method: "GET", Path: "/api/datasets", Token: other.Token}, http.StatusOK, "").Into(t, &l)
	if l.Total != 0 {
		t.Fatalf("other user's list: got %d datasets, want 0", l.Total)
	}
}

// TestDatasetBadInput: client mistakes are 4xx naming the field, and
// create with an Idempotency-Key is safe to repeat.
func TestDatasetBadInput(t *testing.T) {
	a := signUp(t, "Careless")
	post := func(body any) testkit.Request {
		return testkit.Request{Method: "POST", Path: "/api/datasets", Token: a.Token, Body: body}
	}
	for _, c := range []struct {
		name   string
		req    testkit.Request
		status int
		code   string
		field  string
	}{
		{"missing fields", post(`{}`), 400, "VALIDATION_ERROR", "file_name"},
		{"empty name", post(`{"name":"  ","file_name":"a.jsonl","file_size":5}`), 400, "VALIDATION_ERROR", "name"},
		{"name too long", post(map[string]any{"name": strings.Repeat("n", 201), "file_name": "a", "file_size": 5}), 400, "VALIDATION_ERROR", "name"},
		{"zero size", post(`{"name":"n","file_name":"a.jsonl","file_size":0}`), 400, "VALIDATION_ERROR", "file_size"},
		{"fractional size", post(`{"name":"n","file_name":"a.jsonl","file_size":1.5}`), 400, "VALIDATION_ERROR", "file_size"},
		{"over 10 GiB", post(`{"name":"n","file_name":"a.jsonl","file_size":10737418241}`), 413, "PAYLOAD_TOO_LARGE", "file_size"},
		{"unknown format", post(`{"name":"n","file_name":"a.jsonl","file_size":5,"format":"csv"}`), 400, "VALIDATION_ERROR", "format"},
		{"unknown field", post(`{"name":"n","file_name":"a.jsonl","file_size":5,"fileSize":5}`), 400, "VALIDATION_ERROR", "fileSize"},
		{"list bad status", testkit.Request{Method: "GET", Path: "/api/datasets?status=done", Token: a.Token}, 400, "VALIDATION_ERROR", "status"},
		{"list bad limit", testkit.Request{Method: "GET", Path: "/api/datasets?limit=500", Token: a.Token}, 400, "VALIDATION_ERROR", "limit"},
		{"list cursor", testkit.Request{Method: "GET", Path: "/api/datasets?cursor=abc", Token: a.Token}, 400, "VALIDATION_ERROR", "cursor"},
		{"list bad sort", testkit.Request{Method: "GET", Path: "/api/datasets?sort_by=size", Token: a.Token}, 400, "VALIDATION_ERROR", "sort_by"},
		{"get unknown", testkit.Request{Method: "GET", Path: "/api/datasets/nope", Token: a.Token}, 404, "NOT_FOUND", ""},
		{"null name", testkit.Request{Method: "PATCH", Path: "/api/datasets/nope", Token: a.Token, Body: `{"name":null}`}, 400, "VALIDATION_ERROR", "name"},
		{"trailing slash is another route", testkit.Request{Method: "GET", Path: "/api/datasets/", Token: a.Token}, 404, "", ""},
		{"no token", testkit.Request{Method: "GET", Path: "/api/datasets"}, 401, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := api.Do(t, c.req)
			if res.Status != c.status || res.Code() != c.code {
				t.Fatalf("got %d %q (%.300s), want %d %q", res.Status, res.Code(), res.Raw, c.status, c.code)
			}
			if c.field != "" && len(res.Error.Fields[c.field]) == 0 {
				t.Errorf("fields: got %v, want %q", res.Error.Fields, c.field)
			}
		})
	}
	var l dataset.List
	api.Expect(t, testkit.Request{Method: "GET", Path: "/api/datasets", Token: a.Token}, http.StatusOK, "").Into(t, &l)
	if l.Total != 0 {
		t.Fatalf("bad requests created %d datasets", l.Total)
	}

	// A retried create with the same Idempotency-Key creates one dataset.
	req := post(`{"name":"once","file_name":"a.jsonl","file_size":5}`)
	req.Headers = map[string]string{"Idempotency-Key": "create-" + testkit.RandomID()}
	first := api.Expect(t, req, http.StatusCreated, "")
	again := api.Expect(t, req, http.StatusCreated, "")
	if !bytes.Equal(first.Raw, again.Raw) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: got a different answer or no replay header")
	}
	api.Expect(t, testkit.Request{Method: "GET", Path: "/api/datasets", Token: a.Token}, http.StatusOK, "").Into(t, &l)
	if l.Total != 1 {
		t.Fatalf("after a replayed create: got %d datasets, want 1", l.Total)
	}
}

// TestDatasetWithNoRecognisableLine: nothing to detect a format from still
// ends in error (not stuck in validating), with the format left null.
func TestDatasetWithNoRecognisableLine(t *testing.T) {
	a := signUp(t, "Garbage")
	body := "\xef\xbb\xbfhello\nworld,\n"
	c := createDataset(t, a.Token, "Garbage", "garbage.txt", len(body))
	putTo(t, c.UploadURL, []byte(body))
	d := waitFor(t, a.Token, c.Dataset.ID)
	if d.Status != dataset.StatusError || d.Format != nil || d.CountsByCode[dataset.CodeInvalidJSON] != 2 || d.ValidationErrors[0].Line == 0 && len(d.ValidationErrors) < 2 {
		t.Fatalf("got status %s format %v counts %v issues %+v", d.Status, d.Format, d.CountsByCode, d.ValidationErrors)
	}
}

// TestDatasetDeletedBeforeUploadFinished: a file that lands after its
// dataset was deleted is tagged for the bucket's expiry rule, not kept.
func TestDatasetDeletedBeforeUploadFinished(t *testing.T) {
	a := signUp(t, "Hasty")
	body := generated(t, 32<<10, 9, 0)
	c := createDataset(t, a.Token, "Hasty", "h.jsonl", len(body))
	api.Expect(t, testkit.Request{Method: "DELETE", Path: "/api/datasets/" + c.Dataset.ID, Token: a.Token}, http.StatusOK, "")
	putTo(t, c.UploadURL, body)
	// The upload's event reaches the validator after the PUT has been
	// answered, as S3's notifications do: wait for its work, not for the
	// PUT.
	deadline := time.Now().Add(10 * time.Second)
	for {
		tags, err := s3Client().GetObjectTagging(t.Context(), &s3.GetObjectTaggingInput{Bucket: aws.String(datasetsBucket), Key: aws.String(c.StoragePath)})
		if err != nil {
			t.Fatal(err)
		}
		if len(tags.TagSet) == 1 && *tags.TagSet[0].Key == blob.DeletedTag && *tags.TagSet[0].Value == "true" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tags of the late upload after 10 s: got %+v, want %s=true", tags.TagSet, blob.DeletedTag)
		}
		time.Sleep(50 * time.Millisecond)
	}
	st.Host.WaitAsync()
	if evs := validatedEvents(t, c.Dataset.ID); len(evs) != 0 {
		t.Fatalf("a deleted dataset was validated: %+v", evs)
	}
}

func s3Client() *s3.Client {
	return s3.New(s3.Options{BaseEndpoint: aws.String(st.S3URL), Region: "us-east-1", UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: s3AccessKey, SecretAccessKey: s3SecretKey}, nil
		})})
}
