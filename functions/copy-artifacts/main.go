// Command copy-artifacts is the training state machine's CopyArtifacts
// task: it streams the completed job's files from the cluster into the
// models bucket, checking each SHA-256, skipping files already copied.
// Input {job_id, user_id}; output {artifacts}.
package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/app"
)

func main() {
	app.Run(func(ctx context.Context, a *app.App) (any, error) {
		r, err := a.JobRunner(ctx, "copy-artifacts")
		if err != nil {
			return nil, err
		}
		return app.Task(a.Logger, "copy-artifacts", r.CopyArtifacts), nil
	})
}
