package training

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// strictDecode decodes a request body the way the HTTP layer does
// (httpapi.Request.Decode): unknown fields are errors.
func strictDecode(body string) (Request, error) {
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	var r Request
	err := dec.Decode(&r)
	return r, err
}

// bodyWith is a request for preset on one A100 with the given
// hyperparameters JSON ("" = no hyperparameters key).
func bodyWith(preset PresetID, hyper string) string {
	b := `{"dataset_id":"d1","preset_id":"` + string(preset) + `","gpu_config":{"gpu_type":"A100-80GB","num_gpus":1}`
	if hyper != "" {
		b += `,"hyperparameters":` + hyper
	}
	return b + "}"
}

func resolveBody(t *testing.T, body string) (Config, []Warning, error) {
	t.Helper()
	req, err := strictDecode(body)
	if err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return Resolve(req, quietDS())
}

func presetModified(ws []Warning) (Warning, bool) {
	i := slices.IndexFunc(ws, func(w Warning) bool { return w.Code == WarnPresetModified })
	if i < 0 {
		return Warning{}, false
	}
	return ws[i], true
}

// TestInputNamesMatchResolved: the request type has exactly the JSON names
// of the resolved one (the spec's HyperparameterConfig + auto_epochs), every
// field a pointer.
func TestInputNamesMatchResolved(t *testing.T) {
	names := func(typ reflect.Type, wantPtr bool) []string {
		var out []string
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			out = append(out, name)
			if wantPtr && f.Type.Kind() != reflect.Pointer {
				t.Errorf("HyperparameterInput.%s is %s, want a pointer", f.Name, f.Type)
			}
		}
		return out
	}
	in, res := names(reflect.TypeFor[HyperparameterInput](), true), names(reflect.TypeFor[Hyperparameters](), false)
	if !slices.Equal(in, res) {
		t.Errorf("HyperparameterInput JSON names %v, Hyperparameters %v", in, res)
	}
	if _, ok := reflect.TypeFor[*HyperparameterInput]().MethodByName("UnmarshalJSON"); ok {
		t.Error("HyperparameterInput has its own UnmarshalJSON, which would bypass DisallowUnknownFields")
	}
}

// TestPartialInputTakesPreset: for every preset, a request that sends one
// field gets that value and the preset's for every other field; a named
// preset so edited is recorded as custom, naming exactly that field.
func TestPartialInputTakesPreset(t *testing.T) {
	edits := []struct {
		json  string
		field string
		apply func(h *Hyperparameters)
	}{
		{`{"learning_rate":0.0005}`, "learning_rate", func(h *Hyperparameters) { h.LearningRate = 0.0005 }},
		{`{"batch_size":32}`, "batch_size", func(h *Hyperparameters) { h.BatchSize = 32 }},
		{`{"num_epochs":7}`, "num_epochs", func(h *Hyperparameters) { h.NumEpochs = 7 }},
		{`{"lora_rank":24}`, "lora_rank", func(h *Hyperparameters) { h.LoRARank = 24 }},
		{`{"lora_alpha":48}`, "lora_alpha", func(h *Hyperparameters) { h.LoRAAlpha = 48 }},
		{`{"base_model":"Qwen/Qwen2.5-7B"}`, "base_model", func(h *Hyperparameters) { h.BaseModel = "Qwen/Qwen2.5-7B" }},
		{`{"gradient_accumulation_steps":2}`, "gradient_accumulation_steps", func(h *Hyperparameters) { *h.GradientAccumulationSteps = 2 }},
		{`{"max_grad_norm":0.5}`, "max_grad_norm", func(h *Hyperparameters) { *h.MaxGradNorm = 0.5 }},
		// Legal zeros are values, not "absent": they replace the preset's.
		{`{"lora_dropout":0}`, "lora_dropout", func(h *Hyperparameters) { h.LoRADropout = 0 }},
		{`{"warmup_steps":0}`, "warmup_steps", func(h *Hyperparameters) { *h.WarmupSteps = 0 }},
		{`{"weight_decay":0}`, "weight_decay", func(h *Hyperparameters) { *h.WeightDecay = 0 }},
	}
	for _, p := range Presets() {
		for _, e := range edits {
			t.Run(string(p.ID)+"/"+e.field, func(t *testing.T) {
				cfg, w, err := resolveBody(t, bodyWith(p.ID, e.json))
				if err != nil {
					t.Fatalf("Resolve() error = %v", err)
				}
				want := p.Hyperparameters.clone()
				e.apply(&want)
				if d := cfg.Hyperparameters.diff(want); len(d) != 0 {
					t.Errorf("resolved %+v differs from the %s preset with %s in %v", cfg.Hyperparameters, p.ID, e.json, d)
				}
				if cfg.PresetID != PresetCustom {
					t.Errorf("preset_id = %s, want custom", cfg.PresetID)
				}
				pm, ok := presetModified(w)
				if ok != (p.ID != PresetCustom) {
					t.Fatalf("warnings = %v, want PRESET_MODIFIED %v", codes(w), p.ID != PresetCustom)
				}
				if ok && !strings.Contains(pm.Message, "preset ("+e.field+")") {
					t.Errorf("PRESET_MODIFIED message %q, want it to name %s alone", pm.Message, e.field)
				}
			})
		}
		// Values sent equal to the preset's change nothing.
		t.Run(string(p.ID)+"/same values", func(t *testing.T) {
			h := p.Hyperparameters
			body := bodyWith(p.ID, fmt.Sprintf(`{"learning_rate":%v,"batch_size":%d,"lora_rank":%d}`, h.LearningRate, h.BatchSize, h.LoRARank))
			cfg, w, err := resolveBody(t, body)
			if err != nil {
				t.Fatalf("Resolve() error = %v", err)
			}
			if _, ok := presetModified(w); ok || cfg.PresetID != p.ID || len(cfg.Hyperparameters.diff(p.Hyperparameters)) != 0 {
				t.Errorf("preset %s, warnings %v, hyperparameters %+v; want the %s preset unchanged", cfg.PresetID, codes(w), cfg.Hyperparameters, p.ID)
			}
		})
	}
}

// TestExplicitValuesAreValidated: a value sent is validated even when it is
// 0 (an error naming that field alone), while the fields not sent are the
// preset's and raise nothing.
func TestExplicitValuesAreValidated(t *testing.T) {
	cases := []struct {
		json   string
		fields []string // nil = valid
		check  func(h Hyperparameters) bool
	}{
		{`{"batch_size":0}`, []string{fBatchSize}, nil},
		{`{"lora_rank":0}`, []string{fRank}, nil},
		{`{"learning_rate":0}`, []string{fLearningRate}, nil},
		{`{"num_epochs":0}`, []string{fNumEpochs}, nil},
		{`{"num_epochs":0,"auto_epochs":false}`, []string{fNumEpochs}, nil},
		{`{"lora_alpha":0}`, []string{fAlpha}, nil},
		{`{"gradient_accumulation_steps":0}`, []string{fGradAccum}, nil},
		{`{"max_grad_norm":0}`, []string{fMaxGradNorm}, nil},
		{`{"batch_size":0,"lora_rank":0,"learning_rate":0}`, []string{fBatchSize, fLearningRate, fRank}, nil},
		{`{"base_model":""}`, []string{fBaseModel}, nil},
		{`{"batch_size":513}`, []string{fBatchSize}, nil},
		{`{"lora_dropout":0}`, nil, func(h Hyperparameters) bool { return h.LoRADropout == 0 }},
		{`{"warmup_steps":0}`, nil, func(h Hyperparameters) bool { return *h.WarmupSteps == 0 }},
		{`{"weight_decay":0}`, nil, func(h Hyperparameters) bool { return *h.WeightDecay == 0 }},
		// quietDS has 10,000 training conversations: the rule says 2 epochs.
		{`{"num_epochs":0,"auto_epochs":true}`, nil, func(h Hyperparameters) bool { return h.NumEpochs == 2 && h.AutoEpochs }},
		{`{"auto_epochs":true}`, nil, func(h Hyperparameters) bool { return h.NumEpochs == 2 && h.AutoEpochs }},
	}
	for _, preset := range []PresetID{PresetCustom, PresetAggressive} {
		for _, c := range cases {
			t.Run(string(preset)+"/"+c.json, func(t *testing.T) {
				cfg, _, err := resolveBody(t, bodyWith(preset, c.json))
				if c.fields == nil {
					if err != nil {
						t.Fatalf("Resolve() error = %v, want none", err)
					}
					if !c.check(cfg.Hyperparameters) {
						t.Errorf("resolved %+v, not as sent", cfg.Hyperparameters)
					}
					return
				}
				fields := fieldsOf(t, err)
				var got []string
				for f, msgs := range fields {
					got = append(got, f)
					if f != fBaseModel && (len(msgs) != 1 || !strings.Contains(msgs[0], "(got ")) {
						t.Errorf("%s: messages %q, want one naming the value sent", f, msgs)
					}
				}
				slices.Sort(got)
				if !slices.Equal(got, c.fields) {
					t.Errorf("error fields = %v, want %v", got, c.fields)
				}
			})
		}
	}
}

// TestNullIsAbsent: an absent, null or empty hyperparameters object is the
// preset, and a null field takes the preset's value.
func TestNullIsAbsent(t *testing.T) {
	allNull := `{"base_model":null,"learning_rate":null,"batch_size":null,"num_epochs":null,"auto_epochs":null,"lora_rank":null,` +
		`"lora_alpha":null,"lora_dropout":null,"warmup_steps":null,"weight_decay":null,"gradient_accumulation_steps":null,"max_grad_norm":null}`
	for _, p := range Presets() {
		for _, hyper := range []string{"", "null", "{}", allNull} {
			t.Run(string(p.ID)+"/"+hyper, func(t *testing.T) {
				req, err := strictDecode(bodyWith(p.ID, hyper))
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				if req.Hyperparameters != (HyperparameterInput{}) {
					t.Errorf("decoded hyperparameters %+v, want none set", req.Hyperparameters)
				}
				cfg, w, err := Resolve(req, quietDS())
				if err != nil {
					t.Fatalf("Resolve() error = %v", err)
				}
				if cfg.PresetID != p.ID || len(cfg.Hyperparameters.diff(p.Hyperparameters)) != 0 || len(w) != 0 {
					t.Errorf("got preset %s, %+v, warnings %v; want the %s preset, no warning", cfg.PresetID, cfg.Hyperparameters, codes(w), p.ID)
				}
			})
		}
	}
	cfg, _, err := resolveBody(t, bodyWith(PresetAggressive, `{"learning_rate":0.0005,"batch_size":null,"lora_rank":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if h := cfg.Hyperparameters; h.LearningRate != 0.0005 || h.BatchSize != 16 || h.LoRARank != 32 {
		t.Errorf("null fields: got lr %v batch %d rank %d, want 0.0005 and the aggressive preset's 16, 32", h.LearningRate, h.BatchSize, h.LoRARank)
	}
}

// TestRequestRoundTrip: a request marshals to the spec's names, keeps
// explicit zeros and omits what was not sent, and decodes strictly to
// itself.
func TestRequestRoundTrip(t *testing.T) {
	balanced, _ := PresetByID(PresetBalanced)
	cases := []struct {
		name    string
		req     Request
		has     []string
		hasNot  []string
		resolve bool // resolves without error
	}{
		{"no hyperparameters", Request{DatasetID: "d1", PresetID: PresetBalanced, GPUConfig: GPUConfig{GPUType: "A100-80GB", NumGPUs: 1}},
			[]string{`"preset_id":"balanced"`}, []string{`"hyperparameters"`, "null"}, true},
		{"explicit zeros", Request{DatasetID: "d1", PresetID: PresetCustom, GPUConfig: GPUConfig{GPUType: "A100-80GB", NumGPUs: 1},
			Hyperparameters: HyperparameterInput{BatchSize: ptr(0), WarmupSteps: ptr(0), LoRADropout: ptr(0.0), AutoEpochs: ptr(false)}},
			[]string{`"hyperparameters":{"batch_size":0,"auto_epochs":false,"lora_dropout":0,"warmup_steps":0}`}, []string{"null", "learning_rate"}, false},
		{"auto epochs", Request{DatasetID: "d1", GPUConfig: GPUConfig{GPUType: "H100-80GB", NumGPUs: 2},
			Hyperparameters: HyperparameterInput{AutoEpochs: ptr(true), LearningRate: ptr(3e-4)}},
			[]string{`"hyperparameters":{"learning_rate":0.0003,"auto_epochs":true}`}, []string{"num_epochs"}, true},
		{"every field", Request{DatasetID: "d1", PresetID: PresetBalanced, Hyperparameters: balanced.Hyperparameters.Input(),
			GPUConfig: GPUConfig{GPUType: "A100-80GB", NumGPUs: 1, GPUMemoryGB: ptr(80.0), CostPerGPUHour: ptr(3.0)}},
			[]string{`"max_grad_norm":1`, `"auto_epochs":false`, `"cost_per_gpu_hour":3`}, []string{"null"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := json.Marshal(c.req)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range c.has {
				if !strings.Contains(string(b), s) {
					t.Errorf("JSON %s lacks %s", b, s)
				}
			}
			for _, s := range c.hasNot {
				if strings.Contains(string(b), s) {
					t.Errorf("JSON %s has %s", b, s)
				}
			}
			got, err := strictDecode(string(b))
			if err != nil {
				t.Fatalf("strict decode of %s: %v", b, err)
			}
			if !reflect.DeepEqual(got, c.req) {
				t.Errorf("round trip: got %+v, want %+v", got, c.req)
			}
			if _, _, err := Resolve(got, quietDS()); (err == nil) != c.resolve {
				t.Errorf("Resolve() error = %v, want error %v", err, !c.resolve)
			}
		})
	}
}

// TestStoredConfigResendable: the config an estimate shows (and a job
// stores) decodes strictly as a request and resolves to itself, with no
// PRESET_MODIFIED or AUTO_EPOCHS_OVERRIDE warning — so with auto_epochs,
// a num_epochs sent equal to the rule's choice must be quiet, not an error.
func TestStoredConfigResendable(t *testing.T) {
	var reqs []Request
	for _, p := range Presets() {
		reqs = append(reqs, Request{DatasetID: "d1", PresetID: p.ID, GPUConfig: GPUConfig{GPUType: "A100-80GB", NumGPUs: 2}})
	}
	auto := partialReq()
	auto.Hyperparameters.AutoEpochs = ptr(true)
	reqs = append(reqs, auto)
	for _, req := range reqs {
		t.Run(string(req.PresetID), func(t *testing.T) {
			ds := quietDS()
			first := mustResolve(t, req, ds)
			cfgJSON, err := json.Marshal(EstimateRun(first, ds, Budget{}).Config)
			if err != nil {
				t.Fatal(err)
			}
			body := `{"dataset_id":"d1",` + strings.TrimPrefix(string(cfgJSON), "{")
			again, err := strictDecode(body)
			if err != nil {
				t.Fatalf("strict decode of %s: %v", body, err)
			}
			cfg, w, err := Resolve(again, ds)
			if err != nil {
				t.Fatalf("Resolve() error = %v", err)
			}
			if !jsonEq(cfg.JobConfig(), first.JobConfig()) {
				t.Errorf("re-sent config resolves to %+v, want %+v", cfg.JobConfig(), first.JobConfig())
			}
			for _, x := range w {
				if x.Code == WarnPresetModified || x.Code == WarnAutoEpochsOverride {
					t.Errorf("warning %s: %s", x.Code, x.Message)
				}
			}
		})
	}
}

// TestStrictDecoding: unknown fields are rejected at every level, and a
// wrong type names its path (the HTTP layer turns both into field errors).
func TestStrictDecoding(t *testing.T) {
	for _, c := range []struct {
		name, body string
		unknown    string // the unknown field, or "" for a type error
		typeField  string
	}{
		{"unknown nested field", bodyWith(PresetCustom, `{"learning_rate":0.0005,"lr":0.1}`), "lr", ""},
		{"misspelled auto_epochs", bodyWith(PresetCustom, `{"auto_epoch":true}`), "auto_epoch", ""},
		{"a resolved-only name is not a field", bodyWith(PresetCustom, `{"preset_id":"balanced"}`), "preset_id", ""},
		{"unknown top-level field", `{"dataset_id":"d1","gpu":"A100"}`, "gpu", ""},
		{"unknown gpu_config field", `{"dataset_id":"d1","gpu_config":{"gpu_type":"A100-80GB","num_gpus":1,"vram":80}}`, "vram", ""},
		{"string for an integer", bodyWith(PresetCustom, `{"batch_size":"8"}`), "", "hyperparameters.batch_size"},
		{"fraction for an integer", bodyWith(PresetCustom, `{"lora_rank":8.5}`), "", "hyperparameters.lora_rank"},
		{"string for a boolean", bodyWith(PresetCustom, `{"auto_epochs":"yes"}`), "", "hyperparameters.auto_epochs"},
		{"array for the object", bodyWith(PresetCustom, `[]`), "", "hyperparameters"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := strictDecode(c.body)
			if err == nil {
				t.Fatalf("decode %s: no error", c.body)
			}
			if c.unknown != "" {
				if want := `json: unknown field "` + c.unknown + `"`; err.Error() != want {
					t.Errorf("error = %q, want %q", err, want)
				}
				return
			}
			var typ *json.UnmarshalTypeError
			if !errors.As(err, &typ) || typ.Field != c.typeField {
				t.Errorf("error = %v, want a type error on %s", err, c.typeField)
			}
		})
	}
}
