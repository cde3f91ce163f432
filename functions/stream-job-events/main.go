// Command stream-job-events serves GET /api/jobs/{id}/stream: the job's feed
// as Server-Sent Events, behind a Lambda Function URL in RESPONSE_STREAM
// mode (locally, the gateway streams it the same way). A Function URL has no
// JWT authorizer, so the function checks the token itself
// (docs/adr/0005-job-feed.md).
package main

import (
	"context"
	"time"

	"github.com/brightrun/brightrun/pkg/app"
)

func main() {
	app.Run(func(ctx context.Context, a *app.App) (any, error) {
		auth, err := a.StreamAuth(ctx)
		if err != nil {
			return nil, err
		}
		// The seed's "polls the database every 2 seconds".
		poll, err := app.Seconds("STREAM_POLL_SECONDS", a.Config.StreamPollSeconds, 2*time.Second, 60*time.Second)
		if err != nil {
			return nil, err
		}
		h := handler{auth: auth, jobs: a.JobMonitor(), log: a.Logger, poll: poll, heartbeat: 15 * time.Second}
		return h.handle, nil
	})
}
