package sse

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// feed is a scripted Source: polls[i] is what the i-th poll adds.
type feed struct {
	all    []Event
	polls  [][]Event
	ended  int // after this many polls the feed is done (-1: never)
	n      int
	afters []string
}

func (f *feed) src(_ context.Context, after string) (Page, error) {
	f.afters = append(f.afters, after)
	if f.n < len(f.polls) {
		f.all = append(f.all, f.polls[f.n]...)
	}
	f.n++
	a, _ := strconv.Atoi(after)
	var out []Event
	for _, e := range f.all {
		if id, _ := strconv.Atoi(e.ID); id > a {
			out = append(out, e)
		}
	}
	next := after
	if len(out) > 0 {
		next = out[len(out)-1].ID
	}
	return Page{Events: out, Next: next, Done: f.ended >= 0 && f.n >= f.ended}, nil
}

func ev(id int, name string) Event {
	return Event{ID: strconv.Itoa(id), Name: name, Data: []byte(fmt.Sprintf(`{"n":%d}`, id))}
}

// parse reads frames as an EventSource would: id, event, data per block.
func parse(t *testing.T, s string) (events []Event, comments, retries int) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(s))
	var cur Event
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.Data != nil {
				events = append(events, cur)
			}
			cur = Event{}
		case strings.HasPrefix(line, ":"):
			comments++
		case strings.HasPrefix(line, "retry: "):
			retries++
		case strings.HasPrefix(line, "id: "):
			cur.ID = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			cur.Name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.Data = []byte(strings.TrimPrefix(line, "data: "))
		default:
			t.Fatalf("unexpected line %q", line)
		}
	}
	return events, comments, retries
}

func TestStream(t *testing.T) {
	clock := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name         string
		polls        [][]Event
		ended        int
		after        string
		until        time.Duration // 0: none
		wantIDs      string
		wantComments int
	}{
		{"feed ends: every event once, in order", [][]Event{{ev(1, "stage"), ev(2, "progress")}, nil, {ev(3, "metrics")}, {ev(4, "complete")}}, 4, "0", 0, "1 2 3 4", 0},
		{"resumes after Last-Event-ID", [][]Event{{ev(1, "stage"), ev(2, "progress"), ev(3, "cost")}, {ev(4, "complete")}}, 2, "2", 0, "3 4", 0},
		{"quiet feed: heartbeats, then Until ends it", [][]Event{{ev(1, "stage")}}, -1, "0", 100 * time.Second, "1", 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &feed{polls: c.polls, ended: c.ended}
			now := clock
			o := Options{Poll: 10 * time.Second, Heartbeat: 30 * time.Second, Retry: 2 * time.Second,
				Now:   func() time.Time { return now },
				Sleep: func(_ context.Context, d time.Duration) error { now = now.Add(d); return nil }}
			if c.until > 0 {
				o.Until = clock.Add(c.until)
			}
			var out strings.Builder
			if err := Stream(context.Background(), &out, f.src, c.after, o); err != nil {
				t.Fatal(err)
			}
			evs, comments, retries := parse(t, out.String())
			var ids []string
			for _, e := range evs {
				ids = append(ids, e.ID)
				if want := fmt.Sprintf(`{"n":%s}`, e.ID); string(e.Data) != want || e.Name == "" {
					t.Errorf("event %s: %s %s, want data %s and a name", e.ID, e.Name, e.Data, want)
				}
			}
			if got := strings.Join(ids, " "); got != c.wantIDs || comments != c.wantComments || retries != 1 {
				t.Fatalf("got ids %q, %d heartbeats, %d retry lines; want %q, %d, 1\n%s", got, comments, retries, c.wantIDs, c.wantComments, out.String())
			}
			// Each poll asks after the last id written: no event twice.
			for i := 1; i < len(f.afters); i++ {
				if a, b := f.afters[i-1], f.afters[i]; b < a {
					t.Errorf("poll %d asked after %s, the one before after %s", i, b, a)
				}
			}
		})
	}
}

func TestStreamEndsWhenTheClientLeaves(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	polls := 0
	src := func(context.Context, string) (Page, error) {
		polls++
		if polls == 3 {
			cancel()
		}
		return Page{Next: "0"}, nil
	}
	var out strings.Builder
	if err := Stream(ctx, &out, src, "0", Options{Poll: time.Millisecond}); err != nil {
		t.Fatalf("got %v, want a clean end", err)
	}
	if polls != 3 {
		t.Fatalf("polls: got %d, want 3 (it must stop once the client left)", polls)
	}
}

func TestStreamSourceError(t *testing.T) {
	boom := errors.New("table unavailable")
	var out strings.Builder
	err := Stream(context.Background(), &out, func(context.Context, string) (Page, error) { return Page{}, boom }, "0", Options{})
	evs, _, _ := parse(t, out.String())
	if !errors.Is(err, boom) || len(evs) != 1 || evs[0].Name != "error" || strings.Contains(string(evs[0].Data), "table") {
		t.Fatalf("got %v and %+v; want the error returned and an error event that does not leak it", err, evs)
	}
}

func TestWriteRejectsMultiline(t *testing.T) {
	for _, e := range []Event{{ID: "1\n2", Data: []byte("{}")}, {Name: "a\nb", Data: []byte("{}")}, {Data: []byte("{\n}")}} {
		if err := Write(&strings.Builder{}, e); err == nil {
			t.Errorf("%+v: got no error", e)
		}
	}
}
