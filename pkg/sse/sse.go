// Package sse writes Server-Sent Events (the text/event-stream format of the
// HTML standard) from a feed that is polled: each event carries its feed id,
// so a client that reconnects with Last-Event-ID resumes exactly after it.
package sse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Event is one event of the stream. Data must be one line (JSON is).
type Event struct {
	ID   string
	Name string
	Data []byte
}

// Page is what one poll of the feed returns: events after the cursor, the
// cursor after them, and whether the feed has ended (nothing will follow).
type Page struct {
	Events []Event
	Next   string
	Done   bool
}

// Source polls the feed after a cursor.
type Source func(ctx context.Context, after string) (Page, error)

// Options shape a stream.
type Options struct {
	// Poll is the pause between polls that found nothing new.
	Poll time.Duration
	// Heartbeat: a comment line after this long without an event, so
	// proxies and load balancers keep the connection open.
	Heartbeat time.Duration
	// Until: the stream ends cleanly at this time (e.g. before the
	// function's timeout); the client reconnects with Last-Event-ID after
	// Retry.
	Until time.Time
	Retry time.Duration
	// Sleep waits; nil: a timer that ends early with ctx.
	Sleep func(ctx context.Context, d time.Duration) error
	Now   func() time.Time
}

// Stream writes the feed to w from the cursor after until the feed ends,
// Until passes, or ctx ends (the client left). Each write is flushed by w
// (the caller's writer flushes per Write). A Source error ends the stream
// with an "error" event whose data says the stream failed, and is returned.
func Stream(ctx context.Context, w io.Writer, src Source, after string, o Options) error {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	sleep := o.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	if o.Retry > 0 {
		if _, err := fmt.Fprintf(w, "retry: %d\n\n", o.Retry.Milliseconds()); err != nil {
			return err
		}
	}
	lastWrite := now()
	for {
		page, err := src(ctx, after)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			_, _ = io.WriteString(w, "event: error\ndata: {\"message\":\"the stream failed; reconnect to resume\"}\n\n")
			return err
		}
		for _, e := range page.Events {
			if err := Write(w, e); err != nil {
				return err
			}
			lastWrite = now()
		}
		after = page.Next
		if page.Done {
			return nil
		}
		t := now()
		if !o.Until.IsZero() && !t.Before(o.Until) {
			return nil
		}
		if len(page.Events) > 0 {
			continue // there may be more right away
		}
		if o.Heartbeat > 0 && t.Sub(lastWrite) >= o.Heartbeat {
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil {
				return err
			}
			lastWrite = t
		}
		if err := sleep(ctx, o.Poll); err != nil {
			return nil // the client left
		}
	}
}

// Write frames one event.
func Write(w io.Writer, e Event) error {
	if strings.ContainsAny(e.ID, "\r\n\x00") || strings.ContainsAny(e.Name, "\r\n") || strings.ContainsAny(string(e.Data), "\r\n") {
		return errors.New("sse: id, event and data must be single lines")
	}
	var b strings.Builder
	if e.ID != "" {
		b.WriteString("id: " + e.ID + "\n")
	}
	if e.Name != "" {
		b.WriteString("event: " + e.Name + "\n")
	}
	b.WriteString("data: ")
	b.Write(e.Data)
	b.WriteString("\n\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
