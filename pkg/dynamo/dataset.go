package dynamo

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/dataset"
	"github.com/brightrun/brightrun/pkg/dynamo/schema"
	"github.com/brightrun/brightrun/pkg/optional"
)

// A dataset is two items: the summary (USER#u / DATASET#d, a few hundred
// bytes, what lists read) and the report (USER#u / DATASETREPORT#d: issues
// and samples, up to ~200 KB, read only by GET by id).
type datasetItem struct {
	PK                string  `dynamodbav:"PK"`
	SK                string  `dynamodbav:"SK"`
	GSI2PK            string  `dynamodbav:"GSI2PK"`
	GSI2SK            string  `dynamodbav:"GSI2SK"`
	Entity            string  `dynamodbav:"entity"`
	ID                string  `dynamodbav:"id"`
	UserID            string  `dynamodbav:"userId"`
	Name              string  `dynamodbav:"name"`
	Description       *string `dynamodbav:"description,omitempty"`
	Format            string  `dynamodbav:"format,omitempty"`
	Status            string  `dynamodbav:"status"`
	Bucket            string  `dynamodbav:"bucket"`
	Key               string  `dynamodbav:"objectKey"`
	FileName          string  `dynamodbav:"fileName"`
	FileSize          int64   `dynamodbav:"fileSize"`
	MultipartUploadID string  `dynamodbav:"multipartUploadId,omitempty"`
	ValidationToken   string  `dynamodbav:"validationToken,omitempty"`
	ValidationStarted string  `dynamodbav:"validationStarted,omitempty"`
	TrainingReady     bool    `dynamodbav:"trainingReady"`
	Stats             string  `dynamodbav:"stats,omitempty"` // JSON of dataset.Stats
	SHA256            string  `dynamodbav:"sha256,omitempty"`
	ErrorMessage      string  `dynamodbav:"errorMessage,omitempty"`
	ErrorCount        int     `dynamodbav:"errorCount"`
	WarningCount      int     `dynamodbav:"warningCount"`
	CountsByCode      string  `dynamodbav:"countsByCode,omitempty"` // JSON
	IssuesTruncated   bool    `dynamodbav:"issuesTruncated"`
	UploadedAt        string  `dynamodbav:"uploadedAt,omitempty"`
	ValidatedAt       string  `dynamodbav:"validatedAt,omitempty"`
	CreatedAt         string  `dynamodbav:"createdAt"`
	UpdatedAt         string  `dynamodbav:"updatedAt"`
	DeletedAt         string  `dynamodbav:"deletedAt,omitempty"`
}

type datasetReportItem struct {
	PK        string `dynamodbav:"PK"`
	SK        string `dynamodbav:"SK"`
	Entity    string `dynamodbav:"entity"`
	Issues    string `dynamodbav:"issues"`  // JSON []dataset.Issue
	Samples   string `dynamodbav:"samples"` // JSON []dataset.Conversation
	Truncated bool   `dynamodbav:"truncated"`
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func optTime(s string) *time.Time {
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil
	}
	return &t
}

func (it datasetItem) dataset() dataset.Dataset {
	d := dataset.Dataset{
		ID: it.ID, UserID: it.UserID, Name: it.Name, Description: it.Description, Status: dataset.Status(it.Status),
		StorageBucket: it.Bucket, StoragePath: it.Key, FileName: it.FileName, FileSize: it.FileSize,
		TrainingReady: it.TrainingReady, ErrorCount: it.ErrorCount, WarningCount: it.WarningCount, IssuesTruncated: it.IssuesTruncated,
		UploadedAt: optTime(it.UploadedAt), ValidatedAt: optTime(it.ValidatedAt), DeletedAt: optTime(it.DeletedAt),
		MultipartUploadID: it.MultipartUploadID, ValidationToken: it.ValidationToken, ValidationStarted: optTime(it.ValidationStarted),
	}
	if t := optTime(it.CreatedAt); t != nil {
		d.CreatedAt = *t
	}
	if t := optTime(it.UpdatedAt); t != nil {
		d.UpdatedAt = *t
	}
	if it.Format != "" {
		f := dataset.Format(it.Format)
		d.Format = &f
	}
	if it.SHA256 != "" {
		d.SHA256 = &it.SHA256
	}
	if it.ErrorMessage != "" {
		d.ErrorMessage = &it.ErrorMessage
	}
	if it.Stats != "" {
		var st dataset.Stats
		if json.Unmarshal([]byte(it.Stats), &st) == nil {
			d.Statistics = &st
			d.TotalTrainingPairs, d.TotalValidationPairs, d.TotalTokens = &st.TotalTrainingPairs, &st.TotalValidationPairs, &st.TotalTokens
			d.AvgTurnsPerConversation, d.AvgTokensPerTurn = &st.AvgTurnsPerConversation, &st.AvgTokensPerTurn
		}
	}
	if it.CountsByCode != "" {
		_ = json.Unmarshal([]byte(it.CountsByCode), &d.CountsByCode)
	}
	return d
}

// CreateDataset writes a new dataset's summary.
func (s *Store) CreateDataset(ctx context.Context, d dataset.Dataset) error {
	it := datasetItem{PK: userPK(d.UserID), SK: datasetSK(d.ID), GSI2PK: userPK(d.UserID), GSI2SK: datasetGSI2SK(string(d.Status), d.ID),
		Entity: "dataset", ID: d.ID, UserID: d.UserID, Name: d.Name, Description: d.Description, Status: string(d.Status),
		Bucket: d.StorageBucket, Key: d.StoragePath, FileName: d.FileName, FileSize: d.FileSize, MultipartUploadID: d.MultipartUploadID,
		CreatedAt: ts(d.CreatedAt), UpdatedAt: ts(d.UpdatedAt)}
	if d.Format != nil {
		it.Format = string(*d.Format)
	}
	return s.putNew(ctx, it, "dataset", d.ID)
}

// Dataset reads a live dataset (consistent read: status changes must be
// seen at once by the next request).
func (s *Store) Dataset(ctx context.Context, userID, id string, withReport bool) (dataset.Dataset, error) {
	var it datasetItem
	found, err := s.get(ctx, userPK(userID), datasetSK(id), &it)
	if err != nil {
		return dataset.Dataset{}, err
	}
	if !found || it.DeletedAt != "" {
		return dataset.Dataset{}, apperr.NotFoundf("dataset")
	}
	d := it.dataset()
	if !withReport {
		return d, nil
	}
	var ri datasetReportItem
	found, err = s.get(ctx, userPK(userID), datasetReportSK(id), &ri)
	if err != nil {
		return dataset.Dataset{}, err
	}
	d.ValidationErrors, d.SampleData = []dataset.Issue{}, []dataset.Conversation{}
	if found {
		if err := json.Unmarshal([]byte(ri.Issues), &d.ValidationErrors); err != nil {
			return dataset.Dataset{}, apperr.Wrap(err, "dataset report %s issues", id)
		}
		if err := json.Unmarshal([]byte(ri.Samples), &d.SampleData); err != nil {
			return dataset.Dataset{}, apperr.Wrap(err, "dataset report %s samples", id)
		}
	}
	return d, nil
}

// ListDatasets reads every live summary of the user, paging through the
// 1 MB query limit.
func (s *Store) ListDatasets(ctx context.Context, userID string) ([]dataset.Dataset, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :prefix)"),
		FilterExpression:          aws.String("attribute_not_exists(deletedAt)"),
		ExpressionAttributeNames:  map[string]string{"#pk": schema.PK, "#sk": schema.SK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(userPK(userID)), ":prefix": str(datasetSKPrefix())},
	}
	var out []dataset.Dataset
	for p := dynamodb.NewQueryPaginator(s.db, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, apperr.Wrap(err, "list datasets of %s", userID)
		}
		var items []datasetItem
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &items); err != nil {
			return nil, apperr.Wrap(err, "unmarshal datasets")
		}
		for _, it := range items {
			out = append(out, it.dataset())
		}
	}
	return out, nil
}

const live = "attribute_exists(PK) AND attribute_not_exists(deletedAt)"

// UpdateDataset changes name and description of a live dataset.
func (s *Store) UpdateDataset(ctx context.Context, userID, id string, name *string, desc optional.Value[string], now time.Time) (dataset.Dataset, error) {
	set := "SET updatedAt = :now"
	vals := map[string]types.AttributeValue{":now": str(ts(now))}
	var names map[string]string // DynamoDB rejects unused names
	remove := ""
	if name != nil {
		set += ", #name = :name"
		vals[":name"] = str(*name)
		names = map[string]string{"#name": "name"}
	}
	if desc.Set {
		if desc.Null {
			remove = " REMOVE description"
		} else {
			set += ", description = :desc"
			vals[":desc"] = str(desc.Value)
		}
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(userPK(userID), datasetSK(id)),
		UpdateExpression: aws.String(set + remove), ConditionExpression: aws.String(live),
		ExpressionAttributeNames: names, ExpressionAttributeValues: vals,
		ReturnValues: types.ReturnValueAllNew,
	})
	if conditionFailed(err) {
		return dataset.Dataset{}, apperr.NotFoundf("dataset")
	}
	if err != nil {
		return dataset.Dataset{}, apperr.Wrap(err, "update dataset %s", id)
	}
	var it datasetItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &it); err != nil {
		return dataset.Dataset{}, apperr.Wrap(err, "unmarshal dataset %s", id)
	}
	return it.dataset(), nil
}

// DeleteDataset marks a live dataset deleted.
func (s *Store) DeleteDataset(ctx context.Context, userID, id string, now time.Time) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(userPK(userID), datasetSK(id)),
		UpdateExpression:          aws.String("SET deletedAt = :now, updatedAt = :now"),
		ConditionExpression:       aws.String(live),
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": str(ts(now))},
	})
	if conditionFailed(err) {
		return apperr.NotFoundf("dataset")
	}
	if err != nil {
		return apperr.Wrap(err, "delete dataset %s", id)
	}
	return nil
}

// StartValidation: uploading → validating, or a stale validating run taken over.
func (s *Store) StartValidation(ctx context.Context, userID, id, token string, now, staleBefore time.Time) (bool, error) {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(userPK(userID), datasetSK(id)),
		UpdateExpression: aws.String("SET #status = :validating, GSI2SK = :gsi, validationToken = :token, validationStarted = :now, " +
			"uploadedAt = if_not_exists(uploadedAt, :now), updatedAt = :now"),
		ConditionExpression:      aws.String(live + " AND (#status = :uploading OR (#status = :validating AND validationStarted < :stale))"),
		ExpressionAttributeNames: map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":validating": str(string(dataset.StatusValidating)), ":uploading": str(string(dataset.StatusUploading)),
			":gsi": str(datasetGSI2SK(string(dataset.StatusValidating), id)), ":token": str(token),
			":now": str(ts(now)), ":stale": str(ts(staleBefore)),
		},
	})
	if conditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, apperr.Wrap(err, "start validation of %s", id)
	}
	return true, nil
}

// AbandonValidation: validating → uploading, if token owns it.
func (s *Store) AbandonValidation(ctx context.Context, userID, id, token string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(userPK(userID), datasetSK(id)),
		UpdateExpression:         aws.String("SET #status = :uploading, GSI2SK = :gsi REMOVE validationToken, validationStarted"),
		ConditionExpression:      aws.String("#status = :validating AND validationToken = :token"),
		ExpressionAttributeNames: map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":uploading": str(string(dataset.StatusUploading)), ":validating": str(string(dataset.StatusValidating)),
			":gsi": str(datasetGSI2SK(string(dataset.StatusUploading), id)), ":token": str(token),
		},
	})
	if err != nil && !conditionFailed(err) {
		return apperr.Wrap(err, "abandon validation of %s", id)
	}
	return nil
}

// FinishValidation stores the outcome and the report in one transaction,
// only while token still owns the validating state.
func (s *Store) FinishValidation(ctx context.Context, userID, id, token string, r dataset.Result, now time.Time) (bool, error) {
	stats, _ := json.Marshal(r.Stats)
	counts, _ := json.Marshal(r.CountsByCode)
	issues, _ := json.Marshal(orEmpty(r.Issues))
	samples, _ := json.Marshal(orEmpty(r.Samples))
	vals := map[string]types.AttributeValue{
		":status": str(string(r.Status)), ":gsi": str(datasetGSI2SK(string(r.Status), id)), ":validating": str(string(dataset.StatusValidating)),
		":token": str(token), ":ready": &types.AttributeValueMemberBOOL{Value: r.Status == dataset.StatusReady},
		":stats": str(string(stats)), ":counts": str(string(counts)), ":errors": num(int64(r.ErrorCount)), ":warnings": num(int64(r.WarningCount)),
		":truncated": &types.AttributeValueMemberBOOL{Value: r.IssuesTruncated},
		":now":       str(ts(now)),
	}
	set := "SET #status = :status, GSI2SK = :gsi, trainingReady = :ready, stats = :stats, countsByCode = :counts, " +
		"errorCount = :errors, warningCount = :warnings, issuesTruncated = :truncated, validatedAt = :now, updatedAt = :now"
	var remove []string
	for name, v := range map[string]string{"sha256": r.SHA256, "errorMessage": r.ErrorMessage} {
		if v == "" {
			remove = append(remove, name)
			continue
		}
		set += ", " + name + " = :" + name
		vals[":"+name] = str(v)
	}
	names := map[string]string{"#status": "status"}
	if r.Format != nil {
		set += ", #format = if_not_exists(#format, :format)"
		vals[":format"] = str(string(*r.Format))
		names["#format"] = "format"
	}
	expr := set
	if len(remove) > 0 {
		expr += " REMOVE " + strings.Join(remove, ", ")
	}
	report, err := attributevalue.MarshalMap(datasetReportItem{PK: userPK(userID), SK: datasetReportSK(id), Entity: "dataset-report",
		Issues: string(issues), Samples: string(samples), Truncated: r.IssuesTruncated})
	if err != nil {
		return false, apperr.Wrap(err, "marshal dataset report")
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: aws.String(s.table), Key: key(userPK(userID), datasetSK(id)),
			UpdateExpression:          aws.String(expr),
			ConditionExpression:       aws.String(live + " AND #status = :validating AND validationToken = :token"),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: vals,
		}},
		{Put: &types.Put{TableName: aws.String(s.table), Item: report}},
	}})
	if conditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, apperr.Wrap(err, "finish validation of %s", id)
	}
	return true, nil
}

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
