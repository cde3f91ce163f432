package dynamo

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/dynamo/schema"
	"github.com/brightrun/brightrun/pkg/idempotency"
)

type idemItem struct {
	PK          string `dynamodbav:"PK"`
	SK          string `dynamodbav:"SK"`
	Entity      string `dynamodbav:"entity"`
	Fingerprint string `dynamodbav:"fingerprint"`
	Done        bool   `dynamodbav:"done"`
	Status      int    `dynamodbav:"status,omitempty"`
	Body        string `dynamodbav:"body,omitempty"`
	LockUntil   int64  `dynamodbav:"lockUntil"`
	ExpiresAt   int64  `dynamodbav:"expiresAt"`
}

// ClaimIdempotencyKey takes key with one conditional put. A held key (done,
// or locked by a request in flight) is returned instead; an expired record
// or a lapsed lock counts as free, because TTL deletion can lag by days.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, userID, k, fingerprint string, now, lockUntil, expires time.Time) (idempotency.Record, bool, error) {
	av, err := attributevalue.MarshalMap(idemItem{PK: idemPK(userID, k), SK: idemSK, Entity: "idempotency", Fingerprint: fingerprint,
		LockUntil: lockUntil.Unix(), ExpiresAt: expires.Unix()})
	if err != nil {
		return idempotency.Record{}, false, apperr.Wrap(err, "marshal idempotency key")
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.table),
		Item:                av,
		ConditionExpression: aws.String("attribute_not_exists(#pk) OR #exp < :now OR (#done = :false AND #lock < :now)"),
		ExpressionAttributeNames: map[string]string{
			"#pk": schema.PK, "#exp": schema.ExpiresAt, "#done": "done", "#lock": "lockUntil",
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now":   &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Unix(), 10)},
			":false": &types.AttributeValueMemberBOOL{Value: false},
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return idempotency.Record{}, true, nil
	}
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return idempotency.Record{}, false, apperr.Wrap(err, "claim idempotency key")
	}
	var held idemItem
	if err := attributevalue.UnmarshalMap(ccf.Item, &held); err != nil {
		return idempotency.Record{}, false, apperr.Wrap(err, "unmarshal idempotency key")
	}
	return idempotency.Record{Fingerprint: held.Fingerprint, Done: held.Done, Status: held.Status, Body: held.Body}, false, nil
}

// CompleteIdempotencyKey stores the response for replay.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, userID, k string, status int, body string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      key(idemPK(userID, k), idemSK),
		UpdateExpression:         aws.String("SET #done = :true, #status = :status, #body = :body"),
		ConditionExpression:      aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": schema.PK, "#done": "done", "#status": "status", "#body": "body"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":true":   &types.AttributeValueMemberBOOL{Value: true},
			":status": &types.AttributeValueMemberN{Value: strconv.Itoa(status)},
			":body":   str(body),
		},
	})
	if err != nil {
		return apperr.Wrap(err, "complete idempotency key")
	}
	return nil
}

// ReleaseIdempotencyKey deletes a key that is still in progress.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, userID, k string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(idemPK(userID, k), idemSK),
		ConditionExpression:       aws.String("#done = :false"),
		ExpressionAttributeNames:  map[string]string{"#done": "done"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":false": &types.AttributeValueMemberBOOL{Value: false}},
	})
	if err != nil && !conditionFailed(err) {
		return apperr.Wrap(err, "release idempotency key")
	}
	return nil
}
