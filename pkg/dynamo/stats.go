package dynamo

import (
	"context"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/dynamo/schema"
	"github.com/brightrun/brightrun/pkg/money"
)

// CountDatasets counts the user's datasets that are not deleted.
func (s *Store) CountDatasets(ctx context.Context, userID string) (int, error) {
	return s.count(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :prefix)"),
		FilterExpression:          aws.String("attribute_not_exists(deletedAt)"),
		ExpressionAttributeNames:  map[string]string{"#pk": schema.PK, "#sk": schema.SK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(userPK(userID)), ":prefix": str(datasetSKPrefix())},
	})
}

// CountJobs counts the user's jobs in any of statuses.
func (s *Store) CountJobs(ctx context.Context, userID string, statuses []string) (int, error) {
	return s.countByStatus(ctx, userID, statuses, jobStatusGSI2SKPrefix)
}

// CountModels counts the user's models in any of statuses, not deleted.
func (s *Store) CountModels(ctx context.Context, userID string, statuses []string) (int, error) {
	return s.countByStatus(ctx, userID, statuses, modelStatusGSI2SKPrefix)
}

func (s *Store) countByStatus(ctx context.Context, userID string, statuses []string, prefix func(string) string) (int, error) {
	total := 0
	for _, st := range statuses {
		n, err := s.count(ctx, &dynamodb.QueryInput{
			IndexName:                 aws.String(schema.GSI2),
			KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :prefix)"),
			FilterExpression:          aws.String("attribute_not_exists(deletedAt)"),
			ExpressionAttributeNames:  map[string]string{"#pk": schema.GSI2PK, "#sk": schema.GSI2SK},
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(userPK(userID)), ":prefix": str(prefix(st))},
		})
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// TotalCost sums the user's monthly cost summaries (integer micro-dollars).
func (s *Store) TotalCost(ctx context.Context, userID string) (money.Amount, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :prefix)"),
		ProjectionExpression:      aws.String("#total"),
		ExpressionAttributeNames:  map[string]string{"#pk": schema.PK, "#sk": schema.SK, "#total": "total"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(userPK(userID)), ":prefix": str(costSummarySKPrefix())},
	}
	var sum money.Amount
	for p := dynamodb.NewQueryPaginator(s.db, in); p.HasMorePages(); {
		out, err := p.NextPage(ctx)
		if err != nil {
			return 0, apperr.Wrap(err, "sum costs of %s", userID)
		}
		for _, it := range out.Items {
			if n, ok := it["total"].(*types.AttributeValueMemberN); ok {
				v, err := strconv.ParseInt(n.Value, 10, 64)
				if err != nil {
					return 0, apperr.Wrap(err, "cost summary of %s", userID)
				}
				sum += money.Amount(v)
			}
		}
	}
	return sum, nil
}

// count runs a COUNT query over every page (each page reads up to 1 MB).
func (s *Store) count(ctx context.Context, in *dynamodb.QueryInput) (int, error) {
	in.TableName = aws.String(s.table)
	in.Select = types.SelectCount
	n := 0
	for p := dynamodb.NewQueryPaginator(s.db, in); p.HasMorePages(); {
		out, err := p.NextPage(ctx)
		if err != nil {
			return 0, apperr.Wrap(err, "count query")
		}
		n += int(out.Count)
	}
	return n, nil
}

// SpentInMonth is the user's cost summary for month ("2026-11"), or zero.
func (s *Store) SpentInMonth(ctx context.Context, userID, month string) (money.Amount, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: key(userPK(userID), costSummarySK(month)),
		ProjectionExpression: aws.String("#total"), ExpressionAttributeNames: map[string]string{"#total": "total"},
	})
	if err != nil {
		return 0, apperr.Wrap(err, "cost summary of %s for %s", userID, month)
	}
	n, ok := out.Item["total"].(*types.AttributeValueMemberN)
	if !ok {
		return 0, nil
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return 0, apperr.Wrap(err, "cost summary of %s for %s", userID, month)
	}
	return money.Amount(v), nil
}
