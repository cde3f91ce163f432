package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/httpapi"
	"github.com/brightrun/brightrun/pkg/job"
	"github.com/brightrun/brightrun/pkg/sse"
)

// authenticator is app.StreamAuth.
type authenticator interface {
	Caller(ctx context.Context, req events.LambdaFunctionURLRequest) (httpapi.Caller, error)
}

type handler struct {
	auth      authenticator
	jobs      *job.Monitor
	log       *slog.Logger
	poll      time.Duration
	heartbeat time.Duration
}

// endMargin ends a stream before the Lambda's deadline, cleanly: the client
// (EventSource reconnects by itself) resumes with Last-Event-ID.
const endMargin = 10 * time.Second

func (h handler) handle(ctx context.Context, req events.LambdaFunctionURLRequest) (*events.LambdaFunctionURLStreamingResponse, error) {
	id, ok := jobIDOf(req)
	if !ok {
		return errorResponse(apperr.New(apperr.NotFound, "no route %s %s", req.RequestContext.HTTP.Method, req.RawPath)), nil
	}
	caller, err := h.auth.Caller(ctx, req)
	if err != nil {
		h.log.Info("stream refused", "error", err.Error())
		return errorResponse(err), nil
	}
	after, _, err := job.ParseEventsQuery(req.QueryStringParameters, header(req, "Last-Event-ID"))
	if err != nil {
		return errorResponse(err), nil
	}
	// The first page also proves the job is the caller's (else 404).
	firstPage, err := h.jobs.Events(ctx, caller.UserID, id, after, job.MaxEventLimit)
	first := &firstPage
	if err != nil {
		if apperr.KindOf(err) == apperr.Internal {
			h.log.Error("stream", "job", id, "error", err.Error())
		}
		return errorResponse(err), nil
	}
	src := func(ctx context.Context, cursor string) (sse.Page, error) {
		if first != nil {
			p := page(*first)
			first = nil
			return p, nil
		}
		n, _ := strconv.ParseInt(cursor, 10, 64)
		ep, err := h.jobs.Events(ctx, caller.UserID, id, n, job.MaxEventLimit)
		if err != nil {
			return sse.Page{}, err
		}
		return page(ep), nil
	}
	until := time.Now().Add(14 * time.Minute)
	if dl, ok := ctx.Deadline(); ok {
		until = dl.Add(-endMargin)
	}
	pr, pw := io.Pipe()
	go func() {
		err := sse.Stream(ctx, pw, src, strconv.FormatInt(after, 10), sse.Options{Poll: h.poll, Heartbeat: h.heartbeat, Until: until, Retry: 2 * time.Second})
		if err != nil {
			h.log.Error("stream ended by an error", "job", id, "error", err.Error())
		}
		pw.Close()
	}()
	return &events.LambdaFunctionURLStreamingResponse{
		StatusCode: http.StatusOK,
		Headers: map[string]string{
			"Content-Type":      "text/event-stream",
			"Cache-Control":     "no-store",
			"X-Accel-Buffering": "no", // proxies must not buffer the stream
		},
		Body: pr,
	}, nil
}

// page turns a feed page into SSE events: the event name is the entry type
// (progress, metrics, cost, stage, log, complete, error), the id its number,
// the data its payload.
func page(p job.EventPage) sse.Page {
	out := sse.Page{Next: p.NextCursor, Done: p.Done}
	for _, e := range p.Events {
		data, _ := e.Data.(json.RawMessage)
		out.Events = append(out.Events, sse.Event{ID: strconv.FormatInt(e.Seq, 10), Name: e.Type, Data: data})
	}
	return out
}

// jobIDOf reads the job id of GET /api/jobs/{id}/stream. A Function URL
// passes every path to the function, so it checks the route itself.
func jobIDOf(req events.LambdaFunctionURLRequest) (string, bool) {
	if req.RequestContext.HTTP.Method != http.MethodGet {
		return "", false
	}
	rest, ok := strings.CutPrefix(req.RawPath, "/api/jobs/")
	if !ok {
		return "", false
	}
	id, ok := strings.CutSuffix(rest, "/stream")
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", false
	}
	return id, true
}

func header(req events.LambdaFunctionURLRequest, name string) string {
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func errorResponse(err error) *events.LambdaFunctionURLStreamingResponse {
	status, body := httpapi.ErrorJSON(err)
	return &events.LambdaFunctionURLStreamingResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"},
		Body:       strings.NewReader(body),
	}
}
