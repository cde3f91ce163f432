package app

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/oklog/ulid/v2"

	"github.com/brightrun/brightrun/pkg/blob"
	"github.com/brightrun/brightrun/pkg/dataset"
	"github.com/brightrun/brightrun/pkg/event"
	"github.com/brightrun/brightrun/pkg/eventbus"
	"github.com/brightrun/brightrun/pkg/invoke"
)

// Datasets wires the dataset service: DynamoDB, the datasets bucket, the
// validate-dataset function (async) and the event bus.
func (a *App) Datasets() (*dataset.Service, error) {
	c := a.Config
	if c.DatasetsBucket == "" || c.EventBusName == "" || c.ValidateDataset == "" {
		return nil, fmt.Errorf("dataset functions need DATASETS_BUCKET, EVENT_BUS_NAME and VALIDATE_DATASET_FUNCTION")
	}
	s3c := s3.NewFromConfig(a.AWS, func(o *s3.Options) { o.UsePathStyle = c.S3PathStyle })
	return &dataset.Service{
		Store:    a.Store,
		Blob:     datasetBlob{blob.New(s3c)},
		Runner:   validationRunner{invoke.New(lambda.NewFromConfig(a.AWS), c.ValidateDataset)},
		Notifier: datasetNotifier{eventbus.New(eventbridge.NewFromConfig(a.AWS), c.EventBusName)},
		Bucket:   c.DatasetsBucket,
		NewID:    func() string { return ulid.Make().String() },
		Now:      time.Now,
	}, nil
}

// datasetBlob adapts blob.Store to the dataset service's Blob interface.
type datasetBlob struct{ *blob.Store }

func (b datasetBlob) CompleteMultipart(ctx context.Context, bucket, key, uploadID string, parts []dataset.Part) error {
	ps := make([]blob.Part, len(parts))
	for i, p := range parts {
		ps[i] = blob.Part{Number: p.Number, ETag: p.ETag}
	}
	return b.Store.CompleteMultipart(ctx, bucket, key, uploadID, ps)
}

func (b datasetBlob) Size(ctx context.Context, bucket, key string) (int64, error) {
	o, err := b.Head(ctx, bucket, key)
	return o.Size, err
}

func (b datasetBlob) Open(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	return b.Store.Open(ctx, bucket, key)
}

type validationRunner struct{ *invoke.Async }

func (r validationRunner) StartRun(ctx context.Context, run dataset.Run) error {
	return r.Send(ctx, run)
}

type datasetNotifier struct{ *eventbus.Bus }

func (n datasetNotifier) DatasetValidated(ctx context.Context, d dataset.Dataset, run string) error {
	det := event.DatasetValidatedDetail{UserID: d.UserID, DatasetID: d.ID, Run: run, Name: d.Name, Status: string(d.Status),
		TrainingReady: d.TrainingReady, ErrorCount: d.ErrorCount}
	if d.Format != nil {
		det.Format = string(*d.Format)
	}
	if d.Statistics != nil {
		det.Conversations, det.TotalTokens = d.Statistics.Conversations, d.Statistics.TotalTokens
	}
	if d.ErrorMessage != nil {
		det.ErrorMessage = *d.ErrorMessage
	}
	return n.Put(ctx, event.DatasetValidated, det)
}
