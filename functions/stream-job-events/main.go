// Command stream-job-events serves GET /api/jobs/{id}/stream: the job's feed
// as Server-Sent Events, behind a Lambda Function URL in RESPONSE_STREAM
// mode (locally, the gateway streams it the same way). A Function URL has no
// JWT authorizer, so the function checks the token itself
// (docs/adr/0005-job-feed.md).
package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/brightrun/brightrun/pkg/app"
)

func main() {
	app.Run(func(ctx context.Context, a *app.App) (any, error) {
		auth, err := a.StreamAuth(ctx)
		if err != nil {
			return nil, err
		}
		poll := 2 * time.Second // the seed's "polls the database every 2 seconds"
		if v := a.Config.StreamPollSeconds; v != "" {
			s, err := strconv.ParseFloat(v, 64)
			if err != nil || s <= 0 || s > 60 {
				return nil, fmt.Errorf("STREAM_POLL_SECONDS must be a number of seconds in (0, 60], got %q", v)
			}
			poll = time.Duration(s * float64(time.Second))
		}
		h := handler{auth: auth, jobs: a.JobMonitor(), log: a.Logger, poll: poll, heartbeat: 15 * time.Second}
		return h.handle, nil
	})
}
