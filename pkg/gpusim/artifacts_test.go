package gpusim_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/brightrun/brightrun/pkg/gpucluster"
	"github.com/brightrun/brightrun/pkg/gpusim"
	"github.com/brightrun/brightrun/pkg/training"
)

// completedJob runs a job to completion and lists its artifacts.
func completedJob(t *testing.T, e *env, req gpucluster.SubmitRequest) (string, map[string]gpucluster.Artifact) {
	t.Helper()
	j := e.submit(t, req)
	ctx := context.Background()
	if _, err := e.client.Artifacts(ctx, j.ID); !isConflict(err, gpucluster.CodeJobNotCompleted) {
		t.Fatalf("Artifacts before completion: %v, want Conflict JOB_NOT_COMPLETED", err)
	}
	if f := e.runToEnd(t, j.ID); f.Status != gpucluster.StatusCompleted {
		t.Fatalf("job ended %s", f.Status)
	}
	list, err := e.client.Artifacts(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]gpucluster.Artifact{}
	for _, a := range list {
		m[a.Name] = a
	}
	return j.ID, m
}

func download(t *testing.T, e *env, url string, offset int64) []byte {
	t.Helper()
	rc, err := e.client.Download(context.Background(), url, offset)
	if err != nil {
		t.Fatalf("Download(offset %d): %v", offset, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading download from %d: %v", offset, err)
	}
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

type stEntry struct {
	DType       string  `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// parseSafetensors checks the format and returns the tensors by name.
func parseSafetensors(t *testing.T, b []byte) map[string]stEntry {
	t.Helper()
	if len(b) < 8 {
		t.Fatalf("%d bytes", len(b))
	}
	n := binary.LittleEndian.Uint64(b[:8])
	if n%8 != 0 || 8+n > uint64(len(b)) {
		t.Fatalf("header length %d (file %d bytes)", n, len(b))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &raw); err != nil {
		t.Fatalf("header JSON: %v", err)
	}
	out := map[string]stEntry{}
	type span struct{ a, b int64 }
	var spans []span
	for name, r := range raw {
		if name == "__metadata__" {
			continue
		}
		var e stEntry
		if err := json.Unmarshal(r, &e); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		elems := int64(1)
		for _, d := range e.Shape {
			elems *= d
		}
		if e.DType != "BF16" || len(e.DataOffsets) != 2 || e.DataOffsets[1]-e.DataOffsets[0] != 2*elems {
			t.Fatalf("%s: %+v is not a BF16 tensor of its shape", name, e)
		}
		spans = append(spans, span{e.DataOffsets[0], e.DataOffsets[1]})
		out[name] = e
	}
	slices.SortFunc(spans, func(x, y span) int { return int(x.a - y.a) })
	var at int64
	for _, s := range spans {
		if s.a != at {
			t.Fatalf("tensor data at %d, want %d (gap or overlap)", s.a, at)
		}
		at = s.b
	}
	if got := 8 + int64(n) + at; got != int64(len(b)) {
		t.Fatalf("8 + header %d + tensors %d = %d, file is %d bytes", n, at, got, len(b))
	}
	return out
}

func TestArtifacts(t *testing.T) {
	e := newEnv(t, gpusim.Options{Seed: 11})
	ds := smallDataset()
	cfg := resolve(t, ds, func(r *training.Request) { r.Hyperparameters.NumEpochs = ptr(1) }) // balanced: rank 16, alpha 32
	req := submitReq("job-artifacts", cfg, ds)
	id, arts := completedJob(t, e, req)
	if len(arts) != 3 {
		t.Fatalf("artifacts %v, want 3", arts)
	}
	for name, a := range arts {
		if a.SizeBytes <= 0 || len(a.SHA256) != 64 || !a.ExpiresAt.After(e.clock.Now()) {
			t.Errorf("%s: %+v", name, a)
		}
		b := download(t, e, a.URL, 0)
		if int64(len(b)) != a.SizeBytes || sha(b) != a.SHA256 {
			t.Errorf("%s: downloaded %d bytes sha256 %s, listing says %d, %s", name, len(b), sha(b), a.SizeBytes, a.SHA256)
		}
	}

	// adapter_model.safetensors: a valid file, tensors sized from the rank
	// and model, adding up to the file.
	model := cfg.Model
	st := arts[gpucluster.FileAdapterModel]
	b := download(t, e, st.URL, 0)
	tensors := parseSafetensors(t, b)
	if want := model.Layers * len(training.TargetModules) * 2; len(tensors) != want {
		t.Errorf("%d tensors, want %d", len(tensors), want)
	}
	var elems int64
	for _, te := range tensors {
		elems += te.Shape[0] * te.Shape[1]
	}
	if elems != training.AdapterParams(model, 16) {
		t.Errorf("%d parameters, want AdapterParams %d", elems, training.AdapterParams(model, 16))
	}
	kv := int64(model.KVHeads * (model.HiddenSize / model.AttentionHeads))
	h, inter := int64(model.HiddenSize), int64(model.Intermediate)
	for _, c := range []struct {
		name  string
		shape []int64
	}{
		{"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", []int64{16, h}},
		{"base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", []int64{h, 16}},
		{"base_model.model.model.layers.31.self_attn.k_proj.lora_B.weight", []int64{kv, 16}},
		{"base_model.model.model.layers.7.mlp.down_proj.lora_A.weight", []int64{16, inter}},
		{"base_model.model.model.layers.7.mlp.gate_proj.lora_B.weight", []int64{inter, 16}},
	} {
		if got := tensors[c.name].Shape; !slices.Equal(got, c.shape) {
			t.Errorf("%s shape %v, want %v", c.name, got, c.shape)
		}
	}

	// The sha256 is stable: listing again, and another simulator with the
	// same seed, give the same bytes.
	again, err := e.client.Artifacts(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if again[0].SHA256 != st.SHA256 || again[0].URL == "" {
		t.Errorf("second listing sha256 %s, first %s", again[0].SHA256, st.SHA256)
	}
	e2 := newEnv(t, gpusim.Options{Seed: 11})
	_, arts2 := completedJob(t, e2, req)
	if arts2[gpucluster.FileAdapterModel].SHA256 != st.SHA256 {
		t.Errorf("same seed and job id, different adapter sha256")
	}

	// adapter_config.json is a PEFT LoraConfig.
	var ac map[string]any
	if err := json.Unmarshal(download(t, e, arts[gpucluster.FileAdapterConfig].URL, 0), &ac); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"base_model_name_or_path": model.ID, "r": 16.0, "lora_alpha": 32.0, "lora_dropout": 0.1,
		"task_type": "CAUSAL_LM", "peft_type": "LORA", "bias": "none"} {
		if ac[k] != want {
			t.Errorf("adapter_config %s = %v, want %v", k, ac[k], want)
		}
	}
	if got := fmt.Sprint(ac["target_modules"]); got != fmt.Sprint(training.TargetModules) {
		t.Errorf("target_modules %v", got)
	}

	// tokenizer.json is a tokenizers BPE file whose merges are in its vocab.
	var tok struct {
		Version     string `json:"version"`
		AddedTokens []struct {
			ID      int    `json:"id"`
			Content string `json:"content"`
		} `json:"added_tokens"`
		Model struct {
			Type   string         `json:"type"`
			Vocab  map[string]int `json:"vocab"`
			Merges []string       `json:"merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(download(t, e, arts[gpucluster.FileTokenizer].URL, 0), &tok); err != nil {
		t.Fatal(err)
	}
	if tok.Version != "1.0" || tok.Model.Type != "BPE" || len(tok.Model.Vocab) < 300 || len(tok.AddedTokens) == 0 {
		t.Errorf("tokenizer: version %q model %q, %d vocab, %d added", tok.Version, tok.Model.Type, len(tok.Model.Vocab), len(tok.AddedTokens))
	}
	for _, m := range tok.Model.Merges {
		a, b, _ := strings.Cut(m, " ")
		for _, part := range []string{a, b, a + b} {
			if _, ok := tok.Model.Vocab[part]; !ok {
				t.Errorf("merge %q: %q not in the vocabulary", m, part)
			}
		}
	}
}

func TestDownloadRangeResume(t *testing.T) {
	e := newEnv(t, gpusim.Options{Seed: 5})
	ds := smallDataset()
	req := submitReq("job-range", resolve(t, ds, func(r *training.Request) {
		r.Hyperparameters.NumEpochs, r.Hyperparameters.LoRARank, r.Hyperparameters.LoRAAlpha = ptr(1), ptr(2), ptr(4)
	}), ds)
	_, arts := completedJob(t, e, req)
	a := arts[gpucluster.FileAdapterModel]
	full := download(t, e, a.URL, 0)

	// Any offset gives the same bytes as the full download from there on:
	// inside the header, odd (mid-element), at a tensor boundary, the end.
	hdr := int64(8 + binary.LittleEndian.Uint64(full[:8]))
	for _, off := range []int64{1, 7, hdr - 1, hdr, hdr + 1, hdr + 4097, a.SizeBytes / 2, a.SizeBytes - 1, a.SizeBytes} {
		if got := download(t, e, a.URL, off); !bytes.Equal(got, full[off:]) {
			t.Errorf("from offset %d: %d bytes differ from the full file's tail (%d)", off, len(got), len(full[off:]))
		}
	}

	// A stream cut mid-way resumes where it stopped.
	if err := e.sim.SetFaults(gpusim.Faults{Cuts: &gpusim.CutBurst{Count: 2, AfterBytes: 1_000_003}}); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for tries := 0; int64(len(got)) < a.SizeBytes; tries++ {
		if tries > 3 {
			t.Fatalf("not done after %d tries (%d bytes)", tries, len(got))
		}
		rc, err := e.client.Download(context.Background(), a.URL, int64(len(got)))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		got = append(got, b...)
		if tries < 2 && err == nil {
			t.Errorf("try %d: the cut stream ended without an error", tries)
		}
	}
	if sha(got) != a.SHA256 {
		t.Errorf("resumed download sha256 %s, want %s", sha(got), a.SHA256)
	}

	// Expired and tampered URLs are refused; a fresh listing works.
	tampered := regexp.MustCompile(`signature=[0-9a-f]`).ReplaceAllString(a.URL, "signature=x")
	_, err := e.client.Download(context.Background(), tampered, 0)
	var rej *gpucluster.Rejected
	if !errors.As(err, &rej) || rej.StatusCode != http.StatusForbidden || rej.Code != gpucluster.CodeInvalidSignature {
		t.Errorf("tampered URL: %v, want Rejected 403 INVALID_SIGNATURE", err)
	}
	e.clock.Advance(gpusim.DefaultURLTTL + time.Second)
	_, err = e.client.Download(context.Background(), a.URL, 0)
	if !errors.As(err, &rej) || rej.StatusCode != http.StatusForbidden || rej.Code != gpucluster.CodeURLExpired {
		t.Errorf("expired URL: %v, want Rejected 403 URL_EXPIRED", err)
	}
}
