package training

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
)

func TestGPUCatalog(t *testing.T) {
	want := map[string]struct {
		mem   int
		price int64
	}{"A6000-48GB": {48, 1_500_000}, "A100-80GB": {80, 3_000_000}, "H100-80GB": {80, 5_000_000}}
	for _, g := range GPUs() {
		w, ok := want[g.Type]
		if !ok || g.MemoryGB != w.mem || int64(g.PricePerGPUHour) != w.price || g.MinGPUs != 1 || g.MaxGPUs != 8 {
			t.Errorf("GPU %+v, want memory %d, price %d, 1–8 GPUs", g, w.mem, w.price)
		}
		delete(want, g.Type)
	}
	if len(want) != 0 {
		t.Errorf("missing GPU types %v", want)
	}
	b, _ := json.Marshal(GPUs()[1])
	for _, k := range []string{`"gpu_type":"A100-80GB"`, `"gpu_memory_gb":80`, `"cost_per_gpu_hour":3`, `"max_gpus":8`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("GPU JSON %s lacks %s", b, k)
		}
	}
}

func TestBaseModelCatalog(t *testing.T) {
	for _, m := range BaseModels() {
		if want := int(math.Ceil(minMemoryFactor * 2 * m.Parameters)); m.MinGPUMemoryGB != want {
			t.Errorf("%s: min_gpu_memory_gb %d, want ⌈1.5 × 2 × %v⌉ = %d", m.ID, m.MinGPUMemoryGB, m.Parameters, want)
		}
		if m.HiddenSize%m.AttentionHeads != 0 || m.ContextLength < 8192 || m.TokenRatio < 1 {
			t.Errorf("%s: implausible architecture %+v", m.ID, m)
		}
	}
	// Adapter parameters at rank 16 on all seven projections (41,943,040 is the
	// figure PEFT prints for Mistral-7B in that setup).
	for id, want := range map[string]int64{"mistralai/Mistral-7B-v0.1": 41_943_040, "Qwen/Qwen2.5-7B": 40_370_176, "meta-llama/Llama-3.1-8B": 41_943_040} {
		m, _ := BaseModelByID(id)
		if got := AdapterParams(m, 16); got != want {
			t.Errorf("%s rank 16: %d adapter parameters, want %d", id, got, want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"mistralai/Mistral-7B-v0.1", "mistralai/Mistral-7B-v0.1"},
		{"Mistral-7B-v0.1", "mistralai/Mistral-7B-v0.1"},
		{"META-LLAMA/llama-3.1-70b", "meta-llama/Llama-3.1-70B"},
		{"Llama-3.1-8B", "meta-llama/Llama-3.1-8B"},
		{"Llama-3.1", ""},
		{"", ""},
	} {
		m, ok := BaseModelByID(c.in)
		if m.ID != c.want || ok != (c.want != "") {
			t.Errorf("BaseModelByID(%q) = %q, %v; want %q", c.in, m.ID, ok, c.want)
		}
	}
	// Every preset's base model fits every GPU type on one GPU.
	for _, p := range Presets() {
		m, ok := BaseModelByID(p.Hyperparameters.BaseModel)
		for _, g := range GPUs() {
			if !ok || !Fits(g, 1, m) {
				t.Errorf("preset %s model %s does not fit one %s", p.ID, p.Hyperparameters.BaseModel, g.Type)
			}
		}
	}
}

func TestCatalogsJSON(t *testing.T) {
	b, err := json.Marshal(Catalogs())
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Presets []struct {
			ID              string         `json:"id"`
			Hyperparameters map[string]any `json:"hyperparameters"`
		} `json:"presets"`
		GPUs       []map[string]any `json:"gpu_types"`
		BaseModels []map[string]any `json:"base_models"`
		Limits     []Limit          `json:"limits"`
		AutoEpochs map[string]any   `json:"auto_epochs"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Presets) != 4 || len(c.GPUs) != 3 || len(c.BaseModels) != 4 || len(c.Limits) != 11 || c.AutoEpochs["rule"] == "" {
		t.Fatalf("catalogs = %s", b)
	}
	for _, k := range []string{"base_model", "learning_rate", "batch_size", "num_epochs", "auto_epochs", "lora_rank", "lora_alpha", "lora_dropout",
		"warmup_steps", "weight_decay", "gradient_accumulation_steps", "max_grad_norm"} {
		if _, ok := c.Presets[0].Hyperparameters[k]; !ok {
			t.Errorf("preset JSON lacks %s", k)
		}
	}
	for _, k := range []string{"id", "name", "parameters_billions", "context_length", "min_gpu_memory_gb", "hidden_size", "num_layers"} {
		if _, ok := c.BaseModels[0][k]; !ok {
			t.Errorf("base model JSON lacks %s", k)
		}
	}
}

// throughputTable renders the table docs/estimates.md shows.
func throughputTable() string {
	var b strings.Builder
	b.WriteString("| base model | A6000-48GB | A100-80GB | H100-80GB |\n|---|---|---|---|\n")
	for _, m := range BaseModels() {
		fmt.Fprintf(&b, "| %s |", m.ID)
		for _, g := range GPUs() {
			n := MinGPUsFor(g, m)
			cell := grouped(int64(math.Round(Throughput(g.Type, m, 16, n))))
			if n > 1 {
				cell += fmt.Sprintf(" on %d GPUs (sharded)", n)
			}
			fmt.Fprintf(&b, " %s |", cell)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n| GPUs | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 |\n|---|---|---|---|---|---|---|---|---|\n| speed-up n^0.9 |")
	for n := 1; n <= 8; n++ {
		fmt.Fprintf(&b, " %.2f |", MultiGPUSpeedup(n))
	}
	b.WriteString("\n")
	return b.String()
}

func TestDocsThroughputTable(t *testing.T) {
	doc, err := os.ReadFile("../../docs/estimates.md")
	if err != nil {
		t.Fatalf("read docs/estimates.md: %v", err)
	}
	const start, end = "<!-- throughput-table:start -->\n", "<!-- throughput-table:end -->"
	_, rest, ok1 := strings.Cut(string(doc), start)
	got, _, ok2 := strings.Cut(rest, end)
	if !ok1 || !ok2 {
		t.Fatalf("docs/estimates.md has no %q … %q section", start, end)
	}
	if want := throughputTable(); got != want {
		t.Errorf("docs/estimates.md throughput table is out of date; it should read:\n%s", want)
	}
}
