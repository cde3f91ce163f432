package dynamo

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/dynamo/schema"
	"github.com/brightrun/brightrun/pkg/job"
)

// sweepItem is a job's entry on the sweep list (keys.go).
type sweepItem struct {
	PK         string `dynamodbav:"PK"`
	SK         string `dynamodbav:"SK"`
	Entity     string `dynamodbav:"entity"`
	JobID      string `dynamodbav:"jobId"`
	UserID     string `dynamodbav:"userId"`
	CreatedAt  string `dynamodbav:"createdAt"`
	Generation int    `dynamodbav:"generation,omitempty"`
}

// SweepEntries reads up to limit entries after the job id after, in job id
// order (consistent: an entry written a moment ago is seen).
func (s *Store) SweepEntries(ctx context.Context, after string, limit int) ([]job.SweepEntry, error) {
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk AND #sk > :after"),
		ExpressionAttributeNames:  map[string]string{"#pk": schema.PK, "#sk": schema.SK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(sweepPK), ":after": str(sweepSK(after))},
		Limit:                     aws.Int32(int32(limit)),
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return nil, apperr.Wrap(err, "read the sweep list")
	}
	entries := make([]job.SweepEntry, 0, len(out.Items))
	for _, av := range out.Items {
		var it sweepItem
		if err := attributevalue.UnmarshalMap(av, &it); err != nil {
			return nil, apperr.Wrap(err, "unmarshal sweep entry")
		}
		created, _ := time.Parse(time.RFC3339Nano, it.CreatedAt)
		entries = append(entries, job.SweepEntry{JobID: it.JobID, UserID: it.UserID, CreatedAt: created, Generation: it.Generation})
	}
	return entries, nil
}

// NoteSweepGeneration records the job's current execution generation, if
// the job is still on the list.
func (s *Store) NoteSweepGeneration(ctx context.Context, jobID string, generation int) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(sweepPK, sweepSK(jobID)),
		UpdateExpression:          aws.String("SET generation = :g"),
		ConditionExpression:       aws.String("attribute_exists(" + schema.PK + ")"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":g": num(int64(generation))},
	})
	if err != nil && !conditionFailed(err) {
		return apperr.Wrap(err, "note sweep generation of %s", jobID)
	}
	return nil
}

// DropSweepEntry takes the job off the sweep list.
func (s *Store) DropSweepEntry(ctx context.Context, jobID string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: key(sweepPK, sweepSK(jobID))})
	if err != nil {
		return apperr.Wrap(err, "drop sweep entry of %s", jobID)
	}
	return nil
}
