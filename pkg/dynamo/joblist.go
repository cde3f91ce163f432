package dynamo

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/oklog/ulid/v2"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/dynamo/schema"
	"github.com/brightrun/brightrun/pkg/job"
)

// ListJobs returns every job of the user matching q, newest first: a Query
// of GSI1 (USER#u / JOB#<ulid>), whose sort key orders jobs by creation
// time, so a date range is a key range; status and dataset are filters.
func (s *Store) ListJobs(ctx context.Context, userID string, q job.ListQuery) ([]job.Job, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(schema.GSI1),
		KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :prefix)"),
		ExpressionAttributeNames:  map[string]string{"#pk": schema.GSI1PK, "#sk": schema.GSI1SK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(userPK(userID)), ":prefix": str(jobGSI1SKPrefix)},
		ScanIndexForward:          aws.Bool(false),
	}
	if q.CreatedFrom != nil || q.CreatedBefore != nil {
		// Job ids are ULIDs: their first 10 characters are a time in
		// milliseconds, so a date range is a key range. The id's time can
		// differ from createdAt by the moments between the two clock
		// reads, so the range is a minute wider and createdAt decides.
		from, to := time.UnixMilli(0), time.UnixMilli(int64(ulid.MaxTime()))
		if q.CreatedFrom != nil {
			from = q.CreatedFrom.Add(-idClockSlack)
		}
		if q.CreatedBefore != nil {
			to = q.CreatedBefore.Add(idClockSlack)
		}
		in.KeyConditionExpression = aws.String("#pk = :pk AND #sk BETWEEN :from AND :to")
		delete(in.ExpressionAttributeValues, ":prefix")
		in.ExpressionAttributeValues[":from"] = str(jobGSI1SK(ulidBound(from, false)))
		in.ExpressionAttributeValues[":to"] = str(jobGSI1SK(ulidBound(to, true)))
	}
	var filters []string
	if len(q.Statuses) > 0 {
		in.ExpressionAttributeNames["#status"] = "status"
		var ph []string
		for i, st := range q.Statuses {
			p := ":st" + string(rune('a'+i))
			in.ExpressionAttributeValues[p] = str(string(st))
			ph = append(ph, p)
		}
		filters = append(filters, "#status IN ("+strings.Join(ph, ", ")+")")
	}
	if q.DatasetID != "" {
		in.ExpressionAttributeValues[":ds"] = str(q.DatasetID)
		filters = append(filters, "datasetId = :ds")
	}
	if len(filters) > 0 {
		in.FilterExpression = aws.String(strings.Join(filters, " AND "))
	}
	var out []job.Job
	for p := dynamodb.NewQueryPaginator(s.db, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, apperr.Wrap(err, "list jobs")
		}
		var items []jobItem
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &items); err != nil {
			return nil, apperr.Wrap(err, "unmarshal jobs")
		}
		for _, it := range items {
			j := it.job()
			if (q.CreatedFrom == nil || !j.CreatedAt.Before(*q.CreatedFrom)) && (q.CreatedBefore == nil || j.CreatedAt.Before(*q.CreatedBefore)) {
				out = append(out, j)
			}
		}
	}
	return out, nil
}

const idClockSlack = time.Minute

// ulidBound is the smallest (or, high, the largest) ULID of a millisecond.
func ulidBound(t time.Time, high bool) string {
	var id ulid.ULID
	ms := t.UnixMilli()
	if ms < 0 {
		ms = 0
	}
	_ = id.SetTime(uint64(ms))
	if high {
		for i := 6; i < len(id); i++ {
			id[i] = 0xff
		}
	}
	return id.String()
}
