package dynamo

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/dynamo/schema"
	"github.com/brightrun/brightrun/pkg/job"
)

type metricItem struct {
	PK string `dynamodbav:"PK"`
	SK string `dynamodbav:"SK"`
	job.MetricPoint
}

type logItem struct {
	PK string `dynamodbav:"PK"`
	SK string `dynamodbav:"SK"`
	job.LogLine
}

type checkpointItem struct {
	PK string `dynamodbav:"PK"`
	SK string `dynamodbav:"SK"`
	job.Checkpoint
}

// PutMetricPoints stores points keyed by step: writing a point again (a
// retried poll) overwrites it with the same values, so each step is stored
// exactly once.
func (s *Store) PutMetricPoints(ctx context.Context, jobID string, points []job.MetricPoint) error {
	items := make([]any, len(points))
	for i, p := range points {
		items[i] = metricItem{PK: jobMetricsPK(jobID), SK: stepSK(p.Step), MetricPoint: p}
	}
	return s.batchPut(ctx, items)
}

// PutLogLines stores log lines keyed by time and the cluster's sequence.
func (s *Store) PutLogLines(ctx context.Context, jobID string, lines []job.LogLine) error {
	items := make([]any, len(lines))
	for i, l := range lines {
		items[i] = logItem{PK: jobLogsPK(jobID), SK: logSK(l.Seq), LogLine: l}
	}
	return s.batchPut(ctx, items)
}

// PutCheckpoints stores checkpoints keyed by step.
func (s *Store) PutCheckpoints(ctx context.Context, jobID string, cps []job.Checkpoint) error {
	items := make([]any, len(cps))
	for i, c := range cps {
		items[i] = checkpointItem{PK: jobPK(jobID), SK: checkpointSK(c.Step), Checkpoint: c}
	}
	return s.batchPut(ctx, items)
}

// MetricPoints returns up to limit points after a step, in step order
// (consistent, paging past 1 MB).
func (s *Store) MetricPoints(ctx context.Context, jobID string, afterStep, limit int) ([]job.MetricPoint, error) {
	return s.metricPoints(ctx, jobID, stepSK(afterStep+1), stepSKPrefix+"~", limit)
}

// MetricPointsBetween returns the points of steps from..to, in order.
func (s *Store) MetricPointsBetween(ctx context.Context, jobID string, from, to, limit int) ([]job.MetricPoint, error) {
	return s.metricPoints(ctx, jobID, stepSK(from), stepSK(to), limit)
}

func (s *Store) metricPoints(ctx context.Context, jobID, fromSK, toSK string, limit int) ([]job.MetricPoint, error) {
	var items []metricItem
	if err := s.queryBetween(ctx, jobMetricsPK(jobID), fromSK, toSK, limit, &items); err != nil {
		return nil, err
	}
	points := make([]job.MetricPoint, len(items))
	for i, it := range items {
		points[i] = it.MetricPoint
	}
	return points, nil
}

// batchPut writes items 25 at a time, retrying what DynamoDB leaves
// unprocessed (with a short backoff), so a poll never drops telemetry.
// Items with the same key are written once (the last wins): a batch may
// not repeat a key, and the cluster may repeat a line.
func (s *Store) batchPut(ctx context.Context, items []any) error {
	var reqs []types.WriteRequest
	index := map[string]int{}
	for _, it := range items {
		av, err := attributevalue.MarshalMap(it)
		if err != nil {
			return apperr.Wrap(err, "marshal telemetry")
		}
		k := av[schema.PK].(*types.AttributeValueMemberS).Value + "\x00" + av[schema.SK].(*types.AttributeValueMemberS).Value
		if i, dup := index[k]; dup {
			reqs[i].PutRequest.Item = av
			continue
		}
		index[k] = len(reqs)
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: av}})
	}
	for start := 0; start < len(reqs); start += 25 {
		pending := map[string][]types.WriteRequest{s.table: reqs[start:min(start+25, len(reqs))]}
		for attempt := 0; len(pending[s.table]) > 0; attempt++ {
			if attempt > 10 {
				return apperr.New(apperr.Internal, "telemetry batch still unprocessed after %d attempts", attempt)
			}
			if attempt > 0 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Duration(25<<min(attempt, 6)) * time.Millisecond):
				}
			}
			out, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
			if err != nil {
				return apperr.Wrap(err, "write telemetry")
			}
			pending = out.UnprocessedItems
		}
	}
	return nil
}
