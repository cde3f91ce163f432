package gpusim

import (
	"encoding/base64"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/brightrun/brightrun/pkg/gpucluster"
	"github.com/brightrun/brightrun/pkg/training"
)

// logEvent is a log line at a simulated offset.
type logEvent struct {
	x     float64
	level string
	msg   string
	meta  map[string]any
}

// events is every log line that has happened by sn.vis, in order. The
// list only ever grows at its end: a cancellation or failure adds its
// lines after everything before it, so an index is a stable cursor.
func (j *job) events(sn snapshot) []logEvent {
	p := j.p
	r := p.req
	var ev []logEvent
	add := func(x float64, level, format string, args ...any) *logEvent {
		if x > sn.vis {
			return nil
		}
		ev = append(ev, logEvent{x: x, level: level, msg: fmt.Sprintf(format, args...)})
		return &ev[len(ev)-1]
	}
	gpus := fmt.Sprintf("%d× %s", r.GPU.Count, p.gpu.Type)
	add(0, gpucluster.LevelInfo, "Job %s accepted for %s: %s, LoRA r=%d alpha=%d dropout %s, %d epochs",
		j.id, r.JobID, p.model.ID, p.h.LoRARank, p.h.LoRAAlpha, fnum(p.h.LoRADropout), p.epochs)
	add(0, gpucluster.LevelInfo, "Queued: waiting for %s", gpus)

	q := p.queue
	node := fmt.Sprintf("sim-gpu-%02d", p.bits(streamNode, 0)%48)
	add(q, gpucluster.LevelInfo, "Allocated %s (%d GB each) on %s", gpus, p.gpu.MemoryGB, node)
	add(q+2, gpucluster.LevelInfo, "Downloading dataset: %s bytes", grouped(r.Dataset.SizeBytes))
	if r.Dataset.SHA256 != "" {
		add(q+8, gpucluster.LevelInfo, "Dataset checksum verified (sha256 %s…)", r.Dataset.SHA256[:12])
	} else {
		add(q+8, gpucluster.LevelWarning, "No dataset checksum given: download not verified")
	}
	exact := "estimated"
	if r.Dataset.TokensExact {
		exact = "exact"
	}
	add(q+10, gpucluster.LevelInfo, "Dataset: %s training and %s validation conversations, %s cl100k tokens (%s)",
		grouped(int64(r.Dataset.TrainConversations)), grouped(int64(r.Dataset.ValidationConversations)), grouped(r.Dataset.TotalTokens), exact)
	if !p.hasVal {
		add(q+10, gpucluster.LevelWarning, "No validation split: validation loss will not be reported")
	}
	prov := training.ProvisionSeconds * p.startup / training.StartupSeconds(p.model)
	down := p.model.WeightBytes() / training.DownloadBytesPerSecond * p.startup / training.StartupSeconds(p.model)
	add(q+prov, gpucluster.LevelInfo, "Downloading base model %s (%.1f GB of bf16 weights)", p.model.ID, p.model.WeightBytes()/1e9)
	add(q+prov+down, gpucluster.LevelInfo, "Loading weights into GPU memory")
	if p.sharded {
		add(q+prov+down, gpucluster.LevelInfo, "Sharding the frozen weights across %d GPUs (FSDP)", r.GPU.Count)
	}
	add(p.trainStart, gpucluster.LevelInfo, "LoRA attached to %s: %s trainable parameters (%.2f%% of %.2f B)",
		strings.Join(training.TargetModules, ", "), grouped(p.adapterParams), float64(p.adapterParams)/(p.model.Parameters*1e9)*100, p.model.Parameters)
	add(p.trainStart, gpucluster.LevelInfo, "Training: %d epochs × %d steps = %d steps, effective batch %d, learning rate %s (warmup %d steps, cosine decay), %s tokens/s expected",
		p.epochs, p.perEpoch, p.total, p.effBatch, fnum(p.h.LearningRate), p.warmup, grouped(int64(math.Round(p.modelTput))))

	var prevVal float64
	for e := 1; e <= p.epochs && p.epochStart(e) <= sn.vis; e++ {
		add(p.epochStart(e), gpucluster.LevelInfo, "Epoch %d/%d", e, p.epochs)
		first, last := (e-1)*p.perEpoch+1, e*p.perEpoch
		for s := ceilDiv(first, p.logEvery) * p.logEvery; s <= last; s += p.logEvery {
			if p.stepTime(s) > sn.vis {
				break
			}
			if s == last {
				break // logged below
			}
			j.stepLog(add, s)
		}
		if p.stepTime(last) > sn.vis {
			break
		}
		j.stepLog(add, last)
		if p.hasVal {
			add(p.stepTime(last), gpucluster.LevelInfo, "Validating epoch %d on %s conversations", e, grouped(int64(r.Dataset.ValidationConversations)))
			v := p.validationLoss(e)
			if l := add(p.valEnd(e), gpucluster.LevelInfo, "Epoch %d: validation loss %.4f (training loss %.4f)", e, v, p.trainingLoss(last)); l != nil {
				l.meta = map[string]any{"epoch": e, "validation_loss": v}
			}
			if e > 1 && v > prevVal {
				add(p.valEnd(e), gpucluster.LevelWarning, "Validation loss rose from %.4f to %.4f: the adapter may be overfitting", prevVal, v)
			}
			prevVal = v
		}
		name := fmt.Sprintf("checkpoint-%d", last)
		add(p.valEnd(e), gpucluster.LevelInfo, "Saving %s (%s bytes)", name, grouped(p.ckptBytes))
		add(p.ckptEnd(e), gpucluster.LevelInfo, "Saved %s", name)
	}
	if te := p.trainingEnd(); te <= sn.vis {
		msg := fmt.Sprintf("Training finished: final training loss %.4f", p.trainingLoss(p.total))
		if p.hasVal {
			best, at := math.Inf(1), 0
			for e := 1; e <= p.epochs; e++ {
				if v := p.validationLoss(e); v < best {
					best, at = v, e
				}
			}
			msg += fmt.Sprintf(", best validation loss %.4f (epoch %d)", best, at)
		}
		add(te, gpucluster.LevelInfo, "%s", msg)
		add(te, gpucluster.LevelInfo, "Saving %s (%s bytes of adapter weights), %s and %s",
			gpucluster.FileAdapterModel, grouped(p.adapterBytes), gpucluster.FileAdapterConfig, gpucluster.FileTokenizer)
		add(te+p.final/2, gpucluster.LevelInfo, "Uploading artifacts")
		add(p.end, gpucluster.LevelInfo, "Job completed: %s billable on %s", dur(p.runSeconds()), gpus)
	}

	if sn.stopped {
		_, epoch, step := p.at(sn.vis)
		if sn.status == gpucluster.StatusFailed {
			ev = append(ev, logEvent{x: sn.vis, level: gpucluster.LevelError, msg: j.failReason,
				meta: map[string]any{"step": step, "epoch": epoch, "code": j.failCode}})
			ev = append(ev, logEvent{x: sn.vis, level: gpucluster.LevelError, msg: "Job failed (" + j.failCode + "); GPUs released"})
		} else {
			ev = append(ev, logEvent{x: sn.vis, level: gpucluster.LevelWarning,
				msg: fmt.Sprintf("Cancellation requested: stopping after step %d (epoch %d)", step, epoch)})
			ev = append(ev, logEvent{x: sn.vis, level: gpucluster.LevelInfo,
				msg: fmt.Sprintf("Job cancelled: %s billable", dur(max(0, sn.vis-p.queue)))})
		}
	}
	sort.SliceStable(ev, func(a, b int) bool { return ev[a].x < ev[b].x })
	return ev
}

func (j *job) stepLog(add func(float64, string, string, ...any) *logEvent, s int) {
	p := j.p
	if l := add(p.stepTime(s), gpucluster.LevelInfo, "step %d/%d | epoch %d | loss %.4f | lr %.3e | grad_norm %.3f | %s tokens/s",
		s, p.total, p.epochOf(s), p.trainingLoss(s), p.learningRate(s), p.gradNorm(s), grouped(int64(math.Round(p.throughput(s))))); l != nil {
		l.meta = map[string]any{"step": s, "epoch": p.epochOf(s)}
	}
	if p.spike(s) {
		add(p.stepTime(s), gpucluster.LevelWarning, "Gradient norm spike at step %d: %.3f, clipped to max_grad_norm %s", s, p.gradNorm(s), fnum(p.c.maxGradClp))
	}
}

func (s *Sim) logs(w http.ResponseWriter, r *http.Request) {
	limit, err := pageLimit(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, gpucluster.CodeInvalidRequest, err.Error())
		return
	}
	after := r.URL.Query().Get("after")
	from, ok := decodeCursor(after)
	if !ok {
		writeError(w, http.StatusBadRequest, gpucluster.CodeInvalidCursor, "after is not a cursor this cluster gave")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	j := s.lookup(w, r.PathValue("id"), now)
	if j == nil {
		return
	}
	ev := j.events(j.at(j.offset(now)))
	page := gpucluster.LogPage{Entries: []gpucluster.LogEntry{}, NextCursor: after}
	if from > len(ev) {
		writeError(w, http.StatusBadRequest, gpucluster.CodeInvalidCursor, "after is past the end of the log")
		return
	}
	end := min(len(ev), from+limit)
	for _, e := range ev[from:end] {
		page.Entries = append(page.Entries, gpucluster.LogEntry{Timestamp: j.clockAt(e.x), Level: e.level, Message: e.msg, Metadata: e.meta})
	}
	if end > from {
		page.NextCursor = encodeCursor(end)
	}
	page.HasMore = end < len(ev)
	writeJSON(w, http.StatusOK, page)
}

// Cursors are opaque to clients: base64 of "log:<entries consumed>".
func encodeCursor(n int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("log:" + strconv.Itoa(n)))
}

func decodeCursor(c string) (int, bool) {
	if c == "" {
		return 0, true
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	v, ok := strings.CutPrefix(string(b), "log:")
	n, err := strconv.Atoi(v)
	return n, ok && err == nil && n >= 0
}

func fnum(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func grouped(v int64) string {
	s := strconv.FormatInt(v, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func dur(seconds float64) string {
	return (time.Duration(math.Round(seconds)) * time.Second).String()
}
