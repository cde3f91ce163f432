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

// The job feed (pkg/job/feed.go): entries under JOB#j#FEED / SEQ#<seq>, and
// on the job item feedSeq (the last entry's number) and feedState (JSON of
// job.FeedState: what the feed has reported).

type feedItem struct {
	PK   string `dynamodbav:"PK"`
	SK   string `dynamodbav:"SK"`
	Seq  int64  `dynamodbav:"seq"`
	Type string `dynamodbav:"type"`
	At   string `dynamodbav:"at"`
	Data string `dynamodbav:"data"` // JSON
}

// AppendFeed writes entries and the feed's new state, if the feed still
// ends at fromSeq; false if another writer appended first (nothing is
// written then). Up to 99 entries: one transaction holds 100 items.
func (s *Store) AppendFeed(ctx context.Context, userID, jobID string, fromSeq int64, state job.FeedState, entries []job.FeedEntry) (bool, error) {
	if len(entries) == 0 || len(entries) > 99 {
		return false, apperr.New(apperr.Internal, "append feed of job %s: %d entries (1–99)", jobID, len(entries))
	}
	raw, err := json.Marshal(state)
	if err != nil {
		return false, apperr.Wrap(err, "marshal feed state")
	}
	u := newUpdate()
	delete(u.names, "#status")
	u.setVal("feedState", str(string(raw)))
	u.setVal("feedSeq", num(state.Seq))
	u.casNumber("feedSeq", fromSeq)
	u.cond = append(u.cond, "userId = :user")
	u.vals[":user"] = str(userID)
	tx := []types.TransactWriteItem{{Update: u.input(s.table, key(jobPK(jobID), jobMetaSK))}}
	for _, e := range entries {
		data, err := json.Marshal(e.Data)
		if err != nil {
			return false, apperr.Wrap(err, "marshal feed entry %d", e.Seq)
		}
		av, err := attributevalue.MarshalMap(feedItem{PK: jobFeedPK(jobID), SK: feedSK(e.Seq), Seq: e.Seq, Type: e.Type, At: ts(e.At), Data: string(data)})
		if err != nil {
			return false, apperr.Wrap(err, "marshal feed entry %d", e.Seq)
		}
		tx = append(tx, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: av,
			ConditionExpression: aws.String("attribute_not_exists(" + schema.PK + ")")}})
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
	if conditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, apperr.Wrap(err, "append feed of job %s", jobID)
	}
	return true, nil
}

// FeedEntries returns up to limit entries after seq, in order; Data is the
// entry's JSON.
func (s *Store) FeedEntries(ctx context.Context, jobID string, afterSeq int64, limit int) ([]job.FeedEntry, error) {
	var items []feedItem
	if err := s.queryFrom(ctx, jobFeedPK(jobID), feedSK(afterSeq+1), feedSKPrefix, limit, &items); err != nil {
		return nil, err
	}
	out := make([]job.FeedEntry, len(items))
	for i, it := range items {
		at, err := time.Parse(time.RFC3339Nano, it.At)
		if err != nil {
			return nil, apperr.Wrap(err, "feed entry %d of job %s", it.Seq, jobID)
		}
		out[i] = job.FeedEntry{Seq: it.Seq, Type: it.Type, At: at, Data: json.RawMessage(it.Data)}
	}
	return out, nil
}

// LogLinesAfter returns up to limit log lines after seq, in order.
func (s *Store) LogLinesAfter(ctx context.Context, jobID string, afterSeq int64, limit int) ([]job.LogLine, error) {
	var items []logItem
	if err := s.queryFrom(ctx, jobLogsPK(jobID), logSK(afterSeq+1), logSKPrefix, limit, &items); err != nil {
		return nil, err
	}
	out := make([]job.LogLine, len(items))
	for i, it := range items {
		out[i] = it.LogLine
	}
	return out, nil
}

// queryFrom reads (consistently) the items of a partition from sort key `from` on (while
// it begins with prefix), in order, up to limit, paging past 1 MB.
func (s *Store) queryFrom(ctx context.Context, pk, from, prefix string, limit int, out any) error {
	return s.queryBetween(ctx, pk, from, prefix+"~", limit, out) // '~' sorts after the digits
}

// queryBetween reads (consistently) the items of a partition whose sort key
// is from..to (inclusive), in order, up to limit, paging past 1 MB.
func (s *Store) queryBetween(ctx context.Context, pk, from, to string, limit int, out any) error {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk AND #sk BETWEEN :from AND :to"),
		ExpressionAttributeNames:  map[string]string{"#pk": schema.PK, "#sk": schema.SK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk), ":from": str(from), ":to": str(to)},
		Limit:                     aws.Int32(int32(limit)),
		// The feed must not skip an item written a moment ago.
		ConsistentRead: aws.Bool(true),
	}
	var all []map[string]types.AttributeValue
	for p := dynamodb.NewQueryPaginator(s.db, in); p.HasMorePages() && len(all) < limit; {
		page, err := p.NextPage(ctx)
		if err != nil {
			return apperr.Wrap(err, "query %s", pk)
		}
		all = append(all, page.Items...)
	}
	if len(all) > limit {
		all = all[:limit]
	}
	if err := attributevalue.UnmarshalListOfMaps(all, out); err != nil {
		return apperr.Wrap(err, "unmarshal %s", pk)
	}
	return nil
}
