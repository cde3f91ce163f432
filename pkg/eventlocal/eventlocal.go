// Package eventlocal is the local stand-in for an EventBridge bus. It
// speaks the PutEvents wire protocol (AWS JSON 1.1), so the unchanged SDK
// client reaches it through AWS_ENDPOINT_URL_EVENTBRIDGE; it validates
// entries as EventBridge does, keeps a log of every event (GET /events),
// and delivers matching events to rule targets in the EventBridge envelope.
package eventlocal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/brightrun/brightrun/pkg/event"
)

// Rule sends events matching Pattern to Target.
type Rule struct {
	Name    string
	Pattern event.Pattern
	Target  func(ctx context.Context, ev events.CloudWatchEvent) error
}

// Bus is one event bus.
type Bus struct {
	Name   string
	Rules  []Rule
	Logger *slog.Logger

	mu  sync.Mutex
	log []events.CloudWatchEvent
}

const maxLog = 10_000

// Events returns a copy of every event put so far (the last 10,000).
func (b *Bus) Events() []events.CloudWatchEvent {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.log)
}

type putEntry struct {
	Source       string
	DetailType   string
	Detail       string
	EventBusName string
	Resources    []string
	Time         *float64
}

type resultEntry struct {
	EventID      string `json:"EventId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

// ServeHTTP answers PutEvents, and GET /events with the log.
func (b *Bus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/events" {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(b.Events())
		return
	}
	if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != "AWSEvents.PutEvents" {
		awsError(w, http.StatusBadRequest, "UnknownOperationException", "only PutEvents is implemented")
		return
	}
	var in struct{ Entries []putEntry }
	body, err := io.ReadAll(io.LimitReader(r.Body, 256<<10+1))
	if err != nil || len(body) > 256<<10 || json.Unmarshal(body, &in) != nil {
		awsError(w, http.StatusBadRequest, "ValidationException", "malformed or over 256 KB")
		return
	}
	if n := len(in.Entries); n == 0 || n > 10 {
		awsError(w, http.StatusBadRequest, "ValidationException", "1 to 10 entries per request")
		return
	}
	out := struct {
		FailedEntryCount int
		Entries          []resultEntry
	}{Entries: make([]resultEntry, len(in.Entries))}
	for i, e := range in.Entries {
		ev, res := b.accept(e)
		out.Entries[i] = res
		if res.ErrorCode != "" {
			out.FailedEntryCount++
			continue
		}
		b.deliver(ev)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

func (b *Bus) accept(e putEntry) (events.CloudWatchEvent, resultEntry) {
	switch {
	case e.EventBusName != "" && e.EventBusName != b.Name:
		return events.CloudWatchEvent{}, resultEntry{ErrorCode: "ResourceNotFoundException", ErrorMessage: "Event bus " + e.EventBusName + " does not exist."}
	case e.Source == "" || e.DetailType == "":
		return events.CloudWatchEvent{}, resultEntry{ErrorCode: "MalformedDetail", ErrorMessage: "Source and DetailType are required."}
	}
	var detail map[string]any
	if json.Unmarshal([]byte(e.Detail), &detail) != nil {
		return events.CloudWatchEvent{}, resultEntry{ErrorCode: "MalformedDetail", ErrorMessage: "Detail is malformed."}
	}
	t := time.Now().UTC()
	if e.Time != nil {
		t = time.Unix(int64(*e.Time), 0).UTC()
	}
	ev := events.CloudWatchEvent{Version: "0", ID: newID(), DetailType: e.DetailType, Source: e.Source, AccountID: "000000000000",
		Time: t, Region: "us-east-1", Resources: orEmpty(e.Resources), Detail: json.RawMessage(e.Detail)}
	b.mu.Lock()
	b.log = append(b.log, ev)
	if len(b.log) > maxLog {
		b.log = b.log[len(b.log)-maxLog:]
	}
	b.mu.Unlock()
	return ev, resultEntry{EventID: ev.ID}
}

// Publish logs and delivers an event that AWS itself would put on this
// bus (e.g. Step Functions' status changes on the default bus).
func (b *Bus) Publish(ev events.CloudWatchEvent) {
	if ev.ID == "" {
		ev.ID = newID()
	}
	b.mu.Lock()
	b.log = append(b.log, ev)
	if len(b.log) > maxLog {
		b.log = b.log[len(b.log)-maxLog:]
	}
	b.mu.Unlock()
	b.deliver(ev)
}

// deliver runs matching targets asynchronously, as EventBridge does.
func (b *Bus) deliver(ev events.CloudWatchEvent) {
	b.Logger.Info("event", "detail_type", ev.DetailType, "source", ev.Source, "id", ev.ID)
	for _, r := range b.Rules {
		if !r.Pattern.Matches(ev.Source, ev.DetailType, ev.Detail) {
			continue
		}
		go func() {
			if err := r.Target(context.Background(), ev); err != nil {
				b.Logger.Error("rule target failed", "rule", r.Name, "id", ev.ID, "error", err.Error())
			}
		}()
	}
}

func awsError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:4]) + "-" + hex.EncodeToString(b[4:6]) + "-" + hex.EncodeToString(b[6:8]) + "-" + hex.EncodeToString(b[8:10]) + "-" + hex.EncodeToString(b[10:])
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
