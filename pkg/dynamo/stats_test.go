package dynamo_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/brightrun/brightrun/pkg/dashboard"
	"github.com/brightrun/brightrun/pkg/money"
	"github.com/brightrun/brightrun/pkg/testkit"
)

// TestStats seeds two users with items in the key design of
// docs/data-model.md and checks each user's counts include only their own,
// non-deleted items in the counted statuses.
func TestStats(t *testing.T) {
	s, table := testkit.Table(t)
	db := testkit.DynamoClient(t)
	put := func(attrs map[string]string, total string) {
		item := map[string]types.AttributeValue{}
		for k, v := range attrs {
			item[k] = &types.AttributeValueMemberS{Value: v}
		}
		if total != "" {
			item["total"] = &types.AttributeValueMemberN{Value: total}
		}
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{"a", "b"} {
		put(map[string]string{"PK": "USER#" + u, "SK": "DATASET#1", "GSI2PK": "USER#" + u, "GSI2SK": "DATASET#ready#1"}, "")
		put(map[string]string{"PK": "JOB#" + u + "1", "SK": "#META", "GSI2PK": "USER#" + u, "GSI2SK": "JOB#running#" + u + "1"}, "")
		put(map[string]string{"PK": "USER#" + u, "SK": "COSTSUM#2026-11", "GSI2PK": "x", "GSI2SK": "x"}, "1000000")
	}
	// Extra for a only: a deleted dataset, a non-active job, an archived and
	// a deleted model, a stored model, and another month of cost.
	put(map[string]string{"PK": "USER#a", "SK": "DATASET#2", "deletedAt": "2026-11-02T00:00:00Z"}, "")
	put(map[string]string{"PK": "JOB#a2", "SK": "#META", "GSI2PK": "USER#a", "GSI2SK": "JOB#cancelled#a2"}, "")
	put(map[string]string{"PK": "JOB#a3", "SK": "#META", "GSI2PK": "USER#a", "GSI2SK": "JOB#queued#a3"}, "")
	put(map[string]string{"PK": "USER#a", "SK": "MODEL#1", "GSI2PK": "USER#a", "GSI2SK": "MODEL#archived#1"}, "")
	put(map[string]string{"PK": "USER#a", "SK": "MODEL#2", "GSI2PK": "USER#a", "GSI2SK": "MODEL#stored#2", "deletedAt": "2026-11-02T00:00:00Z"}, "")
	put(map[string]string{"PK": "USER#a", "SK": "MODEL#3", "GSI2PK": "USER#a", "GSI2SK": "MODEL#stored#3"}, "")
	put(map[string]string{"PK": "USER#a", "SK": "COSTSUM#2026-10"}, "2345678")

	svc := dashboard.NewService(s)
	for _, c := range []struct {
		user string
		want dashboard.Stats
	}{
		{"a", dashboard.Stats{TotalDatasets: 1, ActiveJobs: 2, CompletedModels: 1, TotalCost: money.Amount(3345678)}},
		{"b", dashboard.Stats{TotalDatasets: 1, ActiveJobs: 1, CompletedModels: 0, TotalCost: money.Amount(1000000)}},
		{"nobody", dashboard.Stats{}},
	} {
		got, err := svc.Stats(ctx, c.user)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("stats of %s: got %+v, want %+v", c.user, got, c.want)
		}
	}
}

func TestSpentInMonth(t *testing.T) {
	s, table := testkit.Table(t)
	db := testkit.DynamoClient(t)
	_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "USER#a"}, "SK": &types.AttributeValueMemberS{Value: "COSTSUM#2026-11"},
		"total": &types.AttributeValueMemberN{Value: "4250000"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		user, month string
		want        money.Amount
	}{{"a", "2026-11", 4_250_000}, {"a", "2026-10", 0}, {"b", "2026-11", 0}} {
		got, err := s.SpentInMonth(ctx, c.user, c.month)
		if err != nil || got != c.want {
			t.Errorf("%s %s: got %d, %v; want %d", c.user, c.month, got, err, c.want)
		}
	}
}
