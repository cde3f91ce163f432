package gpusim

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/brightrun/brightrun/pkg/gpucluster"
	"github.com/brightrun/brightrun/pkg/training"
)

// artifactSet is a completed job's files.
type artifactSet struct {
	files []*vfile
}

// vfile is a file generated on demand: its bytes come from ReadAt.
type vfile struct {
	name, contentType string
	size              int64
	sha256            string
	r                 io.ReaderAt
}

func (a *artifactSet) file(name string) *vfile {
	for _, f := range a.files {
		if f.name == name {
			return f
		}
	}
	return nil
}

// artifacts builds the job's files once (hashing the adapter streams it
// through SHA-256 once: ~0.2 s for a rank-16 7B adapter of 84 MB).
func (j *job) artifacts() *artifactSet {
	j.artOnce.Do(func() {
		st := newSafetensors(j.p)
		files := []*vfile{
			{name: gpucluster.FileAdapterModel, contentType: "application/octet-stream", size: st.size, r: st},
			bytesFile(gpucluster.FileAdapterConfig, adapterConfig(j.p)),
			bytesFile(gpucluster.FileTokenizer, tokenizerJSON()),
		}
		for _, f := range files {
			if f.sha256 == "" {
				h := sha256.New()
				if _, err := io.Copy(h, io.NewSectionReader(f.r, 0, f.size)); err != nil {
					panic(err) // generated files do not fail
				}
				f.sha256 = hex.EncodeToString(h.Sum(nil))
			}
		}
		j.art = &artifactSet{files: files}
	})
	return j.art
}

func bytesFile(name string, b []byte) *vfile {
	sum := sha256.Sum256(b)
	return &vfile{name: name, contentType: "application/json", size: int64(len(b)), sha256: hex.EncodeToString(sum[:]), r: bytes.NewReader(b)}
}

func (s *Sim) artifacts(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	now := s.now()
	j := s.lookup(w, r.PathValue("id"), now)
	if j == nil {
		s.mu.Unlock()
		return
	}
	st := j.at(j.offset(now)).status
	s.mu.Unlock()
	if st != gpucluster.StatusCompleted {
		writeError(w, http.StatusConflict, gpucluster.CodeJobNotCompleted, fmt.Sprintf("job %s is %s: artifacts exist once it has completed", j.id, st))
		return
	}
	base := s.o.PublicURL
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	expires := now.Add(s.o.URLTTL).Truncate(time.Second)
	l := gpucluster.ArtifactList{}
	for _, f := range j.artifacts().files { // outside the lock: the first call hashes
		q := url.Values{"expires": {strconv.FormatInt(expires.Unix(), 10)}, "signature": {s.sign(j.id, f.name, expires.Unix())}}
		l.Artifacts = append(l.Artifacts, gpucluster.Artifact{
			Name: f.name, SizeBytes: f.size, SHA256: f.sha256, ContentType: f.contentType,
			URL:       base + "/files/" + url.PathEscape(j.id) + "/" + url.PathEscape(f.name) + "?" + q.Encode(),
			ExpiresAt: expires.UTC(),
		})
	}
	writeJSON(w, http.StatusOK, l)
}

// file serves a download URL: signed, unexpired, with Range support.
func (s *Sim) file(w http.ResponseWriter, r *http.Request) {
	id, name := r.PathValue("id"), r.PathValue("name")
	q := r.URL.Query()
	exp, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	if err != nil || !hmac.Equal([]byte(q.Get("signature")), []byte(s.sign(id, name, exp))) {
		writeError(w, http.StatusForbidden, gpucluster.CodeInvalidSignature, "the URL's signature does not match")
		return
	}
	s.mu.Lock()
	now := s.now()
	if now.Unix() >= exp {
		s.mu.Unlock()
		writeError(w, http.StatusForbidden, gpucluster.CodeURLExpired, "the URL expired at "+time.Unix(exp, 0).UTC().Format(time.RFC3339)+": list the artifacts again")
		return
	}
	j := s.jobs[id]
	if j == nil || j.forgotten(j.offset(now)) {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, gpucluster.CodeNotFound, "no such file")
		return
	}
	finished := j.clockAt(j.p.end)
	s.mu.Unlock()
	f := j.artifacts().file(name)
	if f == nil {
		writeError(w, http.StatusNotFound, gpucluster.CodeNotFound, "no such file")
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("ETag", `"`+f.sha256+`"`)
	w.Header().Set("Cache-Control", "private, max-age=0")
	http.ServeContent(w, r, "", finished, io.NewSectionReader(f.r, 0, f.size))
}

// adapterConfig is PEFT's LoraConfig as save_pretrained writes it.
func adapterConfig(p *plan) []byte {
	c := struct {
		AlphaPattern        map[string]any `json:"alpha_pattern"`
		AutoMapping         any            `json:"auto_mapping"`
		BaseModelNameOrPath string         `json:"base_model_name_or_path"`
		Bias                string         `json:"bias"`
		FanInFanOut         bool           `json:"fan_in_fan_out"`
		InferenceMode       bool           `json:"inference_mode"`
		InitLoraWeights     bool           `json:"init_lora_weights"`
		LayersPattern       any            `json:"layers_pattern"`
		LayersToTransform   any            `json:"layers_to_transform"`
		LoraAlpha           int            `json:"lora_alpha"`
		LoraDropout         float64        `json:"lora_dropout"`
		ModulesToSave       any            `json:"modules_to_save"`
		PeftType            string         `json:"peft_type"`
		R                   int            `json:"r"`
		RankPattern         map[string]any `json:"rank_pattern"`
		Revision            any            `json:"revision"`
		TargetModules       []string       `json:"target_modules"`
		TaskType            string         `json:"task_type"`
		UseDora             bool           `json:"use_dora"`
		UseRslora           bool           `json:"use_rslora"`
	}{
		AlphaPattern: map[string]any{}, BaseModelNameOrPath: p.model.ID, Bias: "none",
		InferenceMode: true, InitLoraWeights: true,
		LoraAlpha: p.h.LoRAAlpha, LoraDropout: p.h.LoRADropout, PeftType: "LORA", R: p.h.LoRARank,
		RankPattern: map[string]any{}, TargetModules: training.TargetModules, TaskType: "CAUSAL_LM",
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

// safetensors is adapter_model.safetensors, generated on demand: an 8-byte
// little-endian header length, the JSON header (padded with spaces to a
// multiple of 8) and the tensors' bf16 bytes, computed from a hash of the
// job's seed, the tensor and the element — nothing but the header is held
// in memory.
type safetensors struct {
	header  []byte // length prefix + JSON
	tensors []tensor
	size    int64
}

type tensor struct {
	name       string
	rows, cols int
	start, end int64 // absolute file offsets
	scale      float32
	seed       uint64
}

// loraShapes are the (d_in, d_out) of each target module of one layer, and
// its parent module in the Hugging Face layout.
func loraShapes(m training.BaseModel) []struct {
	module, parent string
	in, out        int
} {
	h, i := m.HiddenSize, m.Intermediate
	kv := h
	if m.AttentionHeads > 0 && m.KVHeads > 0 {
		kv = m.KVHeads * (h / m.AttentionHeads)
	}
	return []struct {
		module, parent string
		in, out        int
	}{
		{"q_proj", "self_attn", h, h}, {"k_proj", "self_attn", h, kv}, {"v_proj", "self_attn", h, kv}, {"o_proj", "self_attn", h, h},
		{"gate_proj", "mlp", h, i}, {"up_proj", "mlp", h, i}, {"down_proj", "mlp", i, h},
	}
}

func newSafetensors(p *plan) *safetensors {
	r := p.h.LoRARank
	var ts []tensor
	var off int64
	for l := range p.model.Layers {
		for _, sh := range loraShapes(p.model) {
			prefix := fmt.Sprintf("base_model.model.model.layers.%d.%s.%s", l, sh.parent, sh.module)
			// A is r×d_in (Kaiming-uniform-like, ±1/√d_in); B is d_out×r,
			// trained away from its zero initialisation.
			for _, t := range []tensor{
				{name: prefix + ".lora_A.weight", rows: r, cols: sh.in, scale: float32(1 / math.Sqrt(float64(sh.in)))},
				{name: prefix + ".lora_B.weight", rows: sh.out, cols: r, scale: float32(0.008 * p.c.lrScale)},
			} {
				n := int64(t.rows) * int64(t.cols) * 2
				t.start, t.end = off, off+n
				t.seed = p.bits(streamTensor, uint64(len(ts)))
				off += n
				ts = append(ts, t)
			}
		}
	}
	var hb bytes.Buffer
	hb.WriteString(`{"__metadata__":{"format":"pt"}`)
	for _, t := range ts {
		fmt.Fprintf(&hb, `,%q:{"dtype":"BF16","shape":[%d,%d],"data_offsets":[%d,%d]}`, t.name, t.rows, t.cols, t.start, t.end)
	}
	hb.WriteByte('}')
	for (8+hb.Len())%8 != 0 {
		hb.WriteByte(' ')
	}
	header := make([]byte, 8, 8+hb.Len())
	binary.LittleEndian.PutUint64(header, uint64(hb.Len()))
	header = append(header, hb.Bytes()...)
	base := int64(len(header))
	for i := range ts {
		ts[i].start += base
		ts[i].end += base
	}
	return &safetensors{header: header, tensors: ts, size: base + off}
}

// ReadAt generates bytes [off, off+len(b)).
func (st *safetensors) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("negative offset")
	}
	if off >= st.size {
		return 0, io.EOF
	}
	n := 0
	if off < int64(len(st.header)) {
		n = copy(b, st.header[off:])
	}
	for n < len(b) && off+int64(n) < st.size {
		pos := off + int64(n)
		k := sort.Search(len(st.tensors), func(i int) bool { return st.tensors[i].end > pos })
		t := &st.tensors[k]
		for n < len(b) && pos < t.end {
			rel := pos - t.start
			if rel%8 == 0 && len(b)-n >= 8 && t.end-pos >= 8 {
				// Fast path: a whole group of 4 elements.
				binary.LittleEndian.PutUint64(b[n:], t.group(rel/8))
				n += 8
				pos += 8
				continue
			}
			v := t.element(rel / 2)
			b[n] = byte(v >> (8 * (rel % 2)))
			n++
			pos++
		}
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// group is elements 4g…4g+3 as 8 little-endian bytes: four values
// uniform in ±scale from one hash, as bf16 rounded to nearest even.
func (t *tensor) group(g int64) uint64 {
	h := mix(t.seed + uint64(g)*0x9E3779B97F4A7C15)
	var out uint64
	for k := range 4 {
		v := float32(int16(h>>(16*k))) / 32768 * t.scale
		bits := math.Float32bits(v)
		bits += 0x7FFF + (bits>>16)&1
		out |= uint64(bits>>16) << (16 * k)
	}
	return out
}

// element is element e's bf16 bits.
func (t *tensor) element(e int64) uint16 { return uint16(t.group(e/4) >> (16 * (e % 4))) }

// tokenizerJSON is a small, valid Hugging Face tokenizers file: a BPE
// model with byte fallback (like Llama's and Mistral's), special tokens,
// and a few hundred entries — a stand-in for the base model's tokenizer.
var tokenizerJSON = sync.OnceValue(func() []byte {
	vocab := map[string]int{"<unk>": 0, "<s>": 1, "</s>": 2}
	add := func(tok string) {
		if _, ok := vocab[tok]; !ok {
			vocab[tok] = len(vocab)
		}
	}
	for b := range 256 {
		add(fmt.Sprintf("<0x%02X>", b))
	}
	add("▁")
	for c := 'a'; c <= 'z'; c++ {
		add(string(c))
	}
	for c := 'A'; c <= 'Z'; c++ {
		add(string(c))
	}
	for c := '0'; c <= '9'; c++ {
		add(string(c))
	}
	for _, c := range ".,!?;:'\"()-" {
		add(string(c))
	}
	var merges []string
	merge := func(a, b string) {
		merges = append(merges, a+" "+b)
		add(a + b)
	}
	for _, pr := range [][2]string{
		{"▁", "t"}, {"h", "e"}, {"▁", "a"}, {"i", "n"}, {"▁t", "he"}, {"e", "r"}, {"o", "n"}, {"▁", "s"},
		{"e", "n"}, {"a", "t"}, {"▁", "w"}, {"o", "r"}, {"▁", "o"}, {"i", "s"}, {"▁", "i"}, {"e", "s"},
		{"▁", "b"}, {"▁", "c"}, {"a", "n"}, {"▁", "f"}, {"r", "e"}, {"a", "r"}, {"▁t", "o"}, {"a", "l"},
	} {
		merge(pr[0], pr[1])
	}
	type addedToken struct {
		ID         int    `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		LStrip     bool   `json:"lstrip"`
		RStrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	}
	var added []addedToken
	for _, t := range []string{"<unk>", "<s>", "</s>"} {
		added = append(added, addedToken{ID: vocab[t], Content: t, Special: true})
	}
	tok := map[string]any{
		"version":      "1.0",
		"truncation":   nil,
		"padding":      nil,
		"added_tokens": added,
		"normalizer": map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Prepend", "prepend": "▁"},
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": " "}, "content": "▁"},
		}},
		"pre_tokenizer": nil,
		"post_processor": map[string]any{"type": "TemplateProcessing",
			"single":         []any{map[string]any{"SpecialToken": map[string]any{"id": "<s>", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}},
			"pair":           []any{map[string]any{"SpecialToken": map[string]any{"id": "<s>", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}, map[string]any{"SpecialToken": map[string]any{"id": "<s>", "type_id": 1}}, map[string]any{"Sequence": map[string]any{"id": "B", "type_id": 1}}},
			"special_tokens": map[string]any{"<s>": map[string]any{"id": "<s>", "ids": []int{1}, "tokens": []string{"<s>"}}},
		},
		"decoder": map[string]any{"type": "Sequence", "decoders": []any{
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": "▁"}, "content": " "},
			map[string]any{"type": "ByteFallback"},
			map[string]any{"type": "Fuse"},
			map[string]any{"type": "Strip", "content": " ", "start": 1, "stop": 0},
		}},
		"model": map[string]any{
			"type": "BPE", "dropout": nil, "unk_token": "<unk>", "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
			"vocab": vocab, "merges": merges,
		},
	}
	b, err := json.MarshalIndent(tok, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
})
