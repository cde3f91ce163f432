// Package dynamo is the DynamoDB adapter: one table, every key built in
// keys.go, every status change a conditional write.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/dynamo/schema"
)

// Store implements the domain packages' store interfaces on one table.
type Store struct {
	db    *dynamodb.Client
	table string
}

// New returns a Store on table.
func New(db *dynamodb.Client, table string) *Store { return &Store{db: db, table: table} }

// CreateTable creates the table from schema.Definition() and waits until it
// is active; the local stack and tests use it, infra builds the same table.
// An existing table is left as it is.
func CreateTable(ctx context.Context, db *dynamodb.Client, name string) error {
	def := schema.Definition()
	attrs := map[string]bool{def.PartitionKey: true, def.SortKey: true}
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(def.PartitionKey), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(def.SortKey), KeyType: types.KeyTypeRange},
		},
	}
	for _, ix := range def.Indexes {
		attrs[ix.PartitionKey], attrs[ix.SortKey] = true, true
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName: aws.String(ix.Name),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(ix.PartitionKey), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(ix.SortKey), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		})
	}
	for a := range attrs {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{AttributeName: aws.String(a), AttributeType: types.ScalarAttributeTypeS})
	}
	_, err := db.CreateTable(ctx, in)
	var inUse *types.ResourceInUseException
	if errors.As(err, &inUse) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	if err := dynamodb.NewTableExistsWaiter(db).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 2*time.Minute); err != nil {
		return fmt.Errorf("wait for table %s: %w", name, err)
	}
	_, err = db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(def.TTLAttribute), Enabled: aws.Bool(true)},
	})
	if err != nil {
		return fmt.Errorf("enable TTL on %s: %w", name, err)
	}
	return nil
}

// conditionFailed reports whether err is a failed condition expression,
// alone or inside a cancelled transaction.
func conditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return true
	}
	var tc *types.TransactionCanceledException
	if errors.As(err, &tc) {
		for _, r := range tc.CancellationReasons {
			if aws.ToString(r.Code) == "ConditionalCheckFailed" {
				return true
			}
		}
	}
	return false
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{schema.PK: str(pk), schema.SK: str(sk)}
}

// putNew writes item unless an item with its key exists, which is a
// Conflict naming what and id.
func (s *Store) putNew(ctx context.Context, item any, what, id string) error {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return apperr.Wrap(err, "marshal %s", what)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: av, ConditionExpression: aws.String("attribute_not_exists(" + schema.PK + ")")})
	if conditionFailed(err) {
		return apperr.New(apperr.Conflict, "%s %s already exists", what, id)
	}
	if err != nil {
		return apperr.Wrap(err, "put %s %s", what, id)
	}
	return nil
}

// get reads one item with a consistent read (status changes must be seen
// by the next request) into out, and reports whether it exists.
func (s *Store) get(ctx context.Context, pk, sk string, out any) (bool, error) {
	res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return false, apperr.Wrap(err, "get %s %s", pk, sk)
	}
	if res.Item == nil {
		return false, nil
	}
	if err := attributevalue.UnmarshalMap(res.Item, out); err != nil {
		return false, apperr.Wrap(err, "unmarshal %s %s", pk, sk)
	}
	return true, nil
}
