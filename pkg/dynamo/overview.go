package dynamo

import (
	"context"
	"encoding/json"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/dynamo/schema"
	"github.com/brightrun/brightrun/pkg/job"
)

// A job's metrics overview (job.Overview) is one item next to its points,
// JOB#j#METRICS / OVERVIEW, its points in columns: ~100 bytes a point
// instead of ~400 for a point item, so 2,000 points are one ~200 KB read.

type overviewItem struct {
	PK      string `dynamodbav:"PK"`
	SK      string `dynamodbav:"SK"`
	Through int    `dynamodbav:"through"`
	Points  string `dynamodbav:"points"` // JSON of overviewColumns
}

type overviewColumns struct {
	Step   []int      `json:"s"`
	Epoch  []int      `json:"e"`
	Time   []int64    `json:"t"` // Unix milliseconds
	Loss   []float64  `json:"l"`
	Val    []*float64 `json:"v"`
	LR     []float64  `json:"lr"`
	Grad   []*float64 `json:"g"`
	Tput   []*float64 `json:"tp"`
	GPUUse []*float64 `json:"u"`
}

// MetricsOverview reads a job's overview (empty if none yet).
func (s *Store) MetricsOverview(ctx context.Context, jobID string) (job.Overview, error) {
	var it overviewItem
	found, err := s.get(ctx, jobMetricsPK(jobID), overviewSK, &it)
	if err != nil || !found {
		return job.Overview{}, err
	}
	var c overviewColumns
	if err := json.Unmarshal([]byte(it.Points), &c); err != nil {
		return job.Overview{}, apperr.Wrap(err, "metrics overview of job %s", jobID)
	}
	ov := job.Overview{Through: it.Through, Points: make([]job.MetricPoint, len(c.Step))}
	for i := range c.Step {
		ov.Points[i] = job.MetricPoint{Step: c.Step[i], Epoch: c.Epoch[i], Timestamp: time.UnixMilli(c.Time[i]).UTC(), TrainingLoss: c.Loss[i],
			ValidationLoss: c.Val[i], LearningRate: c.LR[i], GradientNorm: c.Grad[i], Throughput: c.Tput[i], GPUUtilization: c.GPUUse[i]}
	}
	return ov, nil
}

// PutMetricsOverview writes the overview if the stored one still ends at
// fromThrough (0: none stored yet); false if another writer moved it.
func (s *Store) PutMetricsOverview(ctx context.Context, jobID string, ov job.Overview, fromThrough int) (bool, error) {
	var c overviewColumns
	for _, p := range ov.Points {
		c.Step, c.Epoch, c.Time = append(c.Step, p.Step), append(c.Epoch, p.Epoch), append(c.Time, p.Timestamp.UnixMilli())
		c.Loss, c.Val, c.LR = append(c.Loss, p.TrainingLoss), append(c.Val, p.ValidationLoss), append(c.LR, p.LearningRate)
		c.Grad, c.Tput, c.GPUUse = append(c.Grad, p.GradientNorm), append(c.Tput, p.Throughput), append(c.GPUUse, p.GPUUtilization)
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return false, apperr.Wrap(err, "marshal metrics overview")
	}
	av, err := attributevalue.MarshalMap(overviewItem{PK: jobMetricsPK(jobID), SK: overviewSK, Through: ov.Through, Points: string(raw)})
	if err != nil {
		return false, apperr.Wrap(err, "marshal metrics overview")
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: av}
	if fromThrough == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(" + schema.PK + ")")
	} else {
		in.ConditionExpression = aws.String("through = :from")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":from": num(int64(fromThrough))}
	}
	_, err = s.db.PutItem(ctx, in)
	if conditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, apperr.Wrap(err, "put metrics overview of job %s", jobID)
	}
	return true, nil
}
