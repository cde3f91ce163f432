package dynamo

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/dynamo/schema"
	"github.com/brightrun/brightrun/pkg/job"
	"github.com/brightrun/brightrun/pkg/money"
)

// The training workflow's state lives on the job item (JOB#j / #META) next
// to the attributes of jobItem:
//
//   - metricsAfter, logCursor, logSeq, checkpointsAfter: how far metrics,
//     logs and checkpoints are stored (advanced only after the items are
//     written, compare-and-set on the values read);
//   - costAccrued (micro-dollars, = currentCost) and billableSeconds (the
//     cluster's mark it was computed at): advanced compare-and-set, so each
//     interval of cost is added by one writer;
//   - artifacts: JSON of the files copy-artifacts stored;
//   - outbox:<event id>: JSON of an event written with the change it
//     reports and removed once published (top-level attributes, so adding
//     one never depends on a map existing).
//
// Other items: EXTJOB#<cluster id> / #LOOKUP → the job and its owner; the
// model USER#u / MODEL#m (GSI2 USER#u / MODEL#<status>#m).
const outboxPrefix = "outbox:"

type runItem struct {
	MetricsAfter     int     `dynamodbav:"metricsAfter"`
	MetricsCount     int     `dynamodbav:"metricsCount"`
	LogCursor        string  `dynamodbav:"logCursor"`
	LogSeq           int64   `dynamodbav:"logSeq"`
	CheckpointsAfter int     `dynamodbav:"checkpointsAfter"`
	CostAccrued      int64   `dynamodbav:"costAccrued"`
	BillableSeconds  float64 `dynamodbav:"billableSeconds"`
	Artifacts        string  `dynamodbav:"artifacts"`
	FeedState        string  `dynamodbav:"feedState"` // JSON job.FeedState (feed.go)
}

// outboxEntry is the stored form of an event.
type outboxEntry struct {
	Type   string          `json:"type"`
	Detail json.RawMessage `json:"detail"`
	At     time.Time       `json:"at"`
}

type extJobItem struct {
	PK        string `dynamodbav:"PK"`
	SK        string `dynamodbav:"SK"`
	Entity    string `dynamodbav:"entity"`
	JobID     string `dynamodbav:"jobId"`
	UserID    string `dynamodbav:"userId"`
	CreatedAt string `dynamodbav:"createdAt"`
}

type modelItem struct {
	PK              string `dynamodbav:"PK"`
	SK              string `dynamodbav:"SK"`
	GSI2PK          string `dynamodbav:"GSI2PK"`
	GSI2SK          string `dynamodbav:"GSI2SK"`
	Entity          string `dynamodbav:"entity"`
	ID              string `dynamodbav:"id"`
	UserID          string `dynamodbav:"userId"`
	JobID           string `dynamodbav:"jobId"`
	DatasetID       string `dynamodbav:"datasetId"`
	Name            string `dynamodbav:"name"`
	Version         string `dynamodbav:"version"`
	Description     string `dynamodbav:"description,omitempty"`
	Status          string `dynamodbav:"status"`
	ConfigHash      string `dynamodbav:"configHash"`
	Configuration   string `dynamodbav:"configuration"`   // JSON job.ModelConfiguration
	Artifacts       string `dynamodbav:"artifacts"`       // JSON job.ArtifactPaths
	Files           string `dynamodbav:"files"`           // JSON []job.Artifact
	TrainingSummary string `dynamodbav:"trainingSummary"` // JSON job.TrainingSummary
	ParentModelID   string `dynamodbav:"parentModelId,omitempty"`
	CreatedAt       string `dynamodbav:"createdAt"`
	UpdatedAt       string `dynamodbav:"updatedAt"`
	DeletedAt       string `dynamodbav:"deletedAt,omitempty"`
}

// JobRun reads a job of userID with the workflow's state (consistent read).
func (s *Store) JobRun(ctx context.Context, userID, jobID string) (job.Run, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(jobPK(jobID), jobMetaSK), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return job.Run{}, apperr.Wrap(err, "get job %s", jobID)
	}
	if out.Item == nil {
		return job.Run{}, apperr.NotFoundf("job")
	}
	var ji jobItem
	var ri runItem
	if err := attributevalue.UnmarshalMap(out.Item, &ji); err != nil {
		return job.Run{}, apperr.Wrap(err, "unmarshal job %s", jobID)
	}
	if ji.UserID != userID {
		return job.Run{}, apperr.NotFoundf("job")
	}
	if err := attributevalue.UnmarshalMap(out.Item, &ri); err != nil {
		return job.Run{}, apperr.Wrap(err, "unmarshal job %s run state", jobID)
	}
	run := job.Run{
		Job:     ji.job(),
		Cursor:  job.Cursor{MetricsAfter: ri.MetricsAfter, MetricsCount: ri.MetricsCount, LogCursor: ri.LogCursor, LogSeq: ri.LogSeq, CheckpointsAfter: ri.CheckpointsAfter},
		Accrued: money.Amount(ri.CostAccrued), Billable: ri.BillableSeconds,
	}
	if ri.Artifacts != "" {
		if err := json.Unmarshal([]byte(ri.Artifacts), &run.Artifacts); err != nil {
			return job.Run{}, apperr.Wrap(err, "job %s artifacts", jobID)
		}
	}
	if ri.FeedState != "" {
		if err := json.Unmarshal([]byte(ri.FeedState), &run.Feed); err != nil {
			return job.Run{}, apperr.Wrap(err, "job %s feed state", jobID)
		}
	}
	for name, av := range out.Item {
		id, ok := strings.CutPrefix(name, outboxPrefix)
		if !ok {
			continue
		}
		sv, ok := av.(*types.AttributeValueMemberS)
		var e outboxEntry
		if !ok || json.Unmarshal([]byte(sv.Value), &e) != nil {
			return job.Run{}, apperr.New(apperr.Internal, "job %s: unreadable outbox entry %s", jobID, id)
		}
		run.Outbox = append(run.Outbox, job.Event{ID: id, Type: e.Type, Detail: e.Detail, At: e.At})
	}
	sort.Slice(run.Outbox, func(i, j int) bool {
		a, b := run.Outbox[i], run.Outbox[j]
		return a.At.Before(b.At) || (a.At.Equal(b.At) && a.ID < b.ID)
	})
	return run, nil
}

// update collects an update expression's parts.
type update struct {
	set    []string
	remove []string
	names  map[string]string
	vals   map[string]types.AttributeValue
	cond   []string
}

func newUpdate() *update {
	return &update{names: map[string]string{"#status": "status"}, vals: map[string]types.AttributeValue{}}
}

func (u *update) setVal(attr string, v types.AttributeValue) {
	ph := ":" + attr
	u.set = append(u.set, attr+" = "+ph)
	u.vals[ph] = v
}

// addEvents sets one outbox attribute per event.
func (u *update) addEvents(evs []job.Event) error {
	for i, e := range evs {
		detail, err := json.Marshal(e.Detail)
		if err != nil {
			return apperr.Wrap(err, "marshal event %s", e.ID)
		}
		raw, err := json.Marshal(outboxEntry{Type: e.Type, Detail: detail, At: e.At.UTC()})
		if err != nil {
			return apperr.Wrap(err, "marshal event %s", e.ID)
		}
		n, v := fmt.Sprintf("#ob%d", i), fmt.Sprintf(":ob%d", i)
		u.names[n] = outboxPrefix + e.ID
		u.vals[v] = str(string(raw))
		u.set = append(u.set, n+" = "+v)
	}
	return nil
}

// casNumber conditions on attr still holding v (absent counts as 0).
func (u *update) casNumber(attr string, v int64) {
	ph := ":was_" + attr
	u.vals[ph] = num(v)
	if v == 0 {
		u.cond = append(u.cond, fmt.Sprintf("(attribute_not_exists(%s) OR %s = %s)", attr, attr, ph))
		return
	}
	u.cond = append(u.cond, fmt.Sprintf("%s = %s", attr, ph))
}

func (u *update) expression() string {
	e := "SET " + strings.Join(u.set, ", ")
	if len(u.remove) > 0 {
		e += " REMOVE " + strings.Join(u.remove, ", ")
	}
	return e
}

func (u *update) input(table string, k map[string]types.AttributeValue) *types.Update {
	in := &types.Update{
		TableName: aws.String(table), Key: k,
		UpdateExpression:          aws.String(u.expression()),
		ConditionExpression:       aws.String(strings.Join(u.cond, " AND ")),
		ExpressionAttributeValues: u.vals,
	}
	if len(u.names) > 0 { // DynamoDB rejects an empty map, and unused names
		in.ExpressionAttributeNames = u.names
	}
	return in
}

func (s *Store) runUpdate(ctx context.Context, u *update, k map[string]types.AttributeValue, what string) (bool, error) {
	in := u.input(s.table, k)
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: in.TableName, Key: in.Key, UpdateExpression: in.UpdateExpression, ConditionExpression: in.ConditionExpression,
		ExpressionAttributeNames: in.ExpressionAttributeNames, ExpressionAttributeValues: in.ExpressionAttributeValues,
	})
	if conditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, apperr.Wrap(err, "%s", what)
	}
	return true, nil
}

func lookupItem(externalID, userID, jobID string, now time.Time) (map[string]types.AttributeValue, error) {
	av, err := attributevalue.MarshalMap(extJobItem{PK: extJobPK(externalID), SK: extJobLookupSK, Entity: "extjob", JobID: jobID, UserID: userID, CreatedAt: ts(now)})
	if err != nil {
		return nil, apperr.Wrap(err, "marshal job lookup")
	}
	return av, nil
}

// MarkSubmitted: queued → initializing with the cluster's id, startedAt and
// stage, plus the EXTJOB lookup, in one transaction.
func (s *Store) MarkSubmitted(ctx context.Context, userID, jobID, externalID string, stage job.Stage, now time.Time, evs []job.Event) (bool, error) {
	u := newUpdate()
	u.set = append(u.set, "#status = :to", "GSI2SK = :gsi", "startedAt = if_not_exists(startedAt, :now)", "updatedAt = :now")
	u.vals[":to"] = str(string(job.StatusInitializing))
	u.vals[":gsi"] = str(jobGSI2SK(string(job.StatusInitializing), jobID))
	u.vals[":now"] = str(ts(now))
	u.setVal("stage", str(string(stage)))
	u.setVal("externalJobId", str(externalID))
	if err := u.addEvents(evs); err != nil {
		return false, err
	}
	u.cond = append(u.cond, "#status = :from", "userId = :user")
	u.vals[":from"] = str(string(job.StatusQueued))
	u.vals[":user"] = str(userID)
	lookup, err := lookupItem(externalID, userID, jobID, now)
	if err != nil {
		return false, err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: u.input(s.table, key(jobPK(jobID), jobMetaSK))},
		// Never re-point a cluster id at another job.
		{Put: &types.Put{TableName: aws.String(s.table), Item: lookup,
			ConditionExpression:       aws.String("attribute_not_exists(" + schema.PK + ") OR jobId = :job"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":job": str(jobID)}}},
	}})
	if conditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, apperr.Wrap(err, "mark job %s submitted", jobID)
	}
	return true, nil
}

// NoteExternalID records the cluster's id on a job whatever its status
// (unless one is recorded already) and writes the lookup.
func (s *Store) NoteExternalID(ctx context.Context, userID, jobID, externalID string, now time.Time) error {
	lookup, err := lookupItem(externalID, userID, jobID, now)
	if err != nil {
		return err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: lookup,
		ConditionExpression:       aws.String("attribute_not_exists(" + schema.PK + ") OR jobId = :job"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":job": str(jobID)}})
	if err != nil && !conditionFailed(err) {
		return apperr.Wrap(err, "put job lookup %s", externalID)
	}
	u := newUpdate()
	delete(u.names, "#status")
	u.set = append(u.set, "externalJobId = :ext", "updatedAt = :now")
	u.vals[":ext"], u.vals[":now"], u.vals[":user"] = str(externalID), str(ts(now)), str(userID)
	u.cond = append(u.cond, "userId = :user", "attribute_not_exists(externalJobId)")
	_, err = s.runUpdate(ctx, u, key(jobPK(jobID), jobMetaSK), "note cluster id of job "+jobID)
	return err
}

// JobByExternalID resolves the cluster's id to the job and its owner.
func (s *Store) JobByExternalID(ctx context.Context, externalID string) (userID, jobID string, err error) {
	var it extJobItem
	found, err := s.get(ctx, extJobPK(externalID), extJobLookupSK, &it)
	if err != nil {
		return "", "", err
	}
	if !found {
		return "", "", apperr.NotFoundf("job")
	}
	return it.UserID, it.JobID, nil
}

// AdvanceTelemetry moves the cursors, if they are still at from.
func (s *Store) AdvanceTelemetry(ctx context.Context, userID, jobID string, from, to job.Cursor) (bool, error) {
	u := newUpdate()
	delete(u.names, "#status")
	u.setVal("metricsAfter", num(int64(to.MetricsAfter)))
	u.setVal("metricsCount", num(int64(to.MetricsCount)))
	u.setVal("logSeq", num(to.LogSeq))
	u.setVal("checkpointsAfter", num(int64(to.CheckpointsAfter)))
	if to.LogCursor != "" {
		u.setVal("logCursor", str(to.LogCursor))
	}
	u.casNumber("metricsAfter", int64(from.MetricsAfter))
	u.casNumber("logSeq", from.LogSeq)
	u.casNumber("checkpointsAfter", int64(from.CheckpointsAfter))
	u.cond = append(u.cond, "userId = :user")
	u.vals[":user"] = str(userID)
	return s.runUpdate(ctx, u, key(jobPK(jobID), jobMetaSK), "advance telemetry of job "+jobID)
}

// RecordProgress writes a poll's update if the job's status and accrued
// cost are still the ones the poll read.
func (s *Store) RecordProgress(ctx context.Context, userID, jobID string, p job.Progress, evs []job.Event) (bool, error) {
	u := newUpdate()
	u.setVal("stage", str(string(p.Stage)))
	u.setVal("progress", &types.AttributeValueMemberN{Value: strconv.FormatFloat(p.Progress, 'f', -1, 64)})
	u.setVal("currentEpoch", num(int64(p.Epoch)))
	u.setVal("currentStep", num(int64(p.Step)))
	u.setVal("costAccrued", num(int64(p.Accrued)))
	u.setVal("currentCost", num(int64(p.Accrued)))
	u.setVal("billableSeconds", &types.AttributeValueMemberN{Value: strconv.FormatFloat(p.Billable, 'f', -1, 64)})
	u.setVal("updatedAt", str(ts(p.Now)))
	if p.Metrics != nil {
		m, _ := json.Marshal(p.Metrics)
		u.setVal("currentMetrics", str(string(m)))
	}
	if p.EstimatedCompletionAt != nil {
		u.setVal("estimatedCompletionAt", str(ts(*p.EstimatedCompletionAt)))
	}
	if p.ToStatus != p.FromStatus {
		u.set = append(u.set, "#status = :to", "GSI2SK = :gsi")
		u.vals[":to"] = str(string(p.ToStatus))
		u.vals[":gsi"] = str(jobGSI2SK(string(p.ToStatus), jobID))
	}
	if err := u.addEvents(evs); err != nil {
		return false, err
	}
	u.cond = append(u.cond, "#status = :from", "userId = :user")
	u.vals[":from"], u.vals[":user"] = str(string(p.FromStatus)), str(userID)
	u.casNumber("costAccrued", int64(p.FromAccrued))
	return s.runUpdate(ctx, u, key(jobPK(jobID), jobMetaSK), "record progress of job "+jobID)
}

// AckEvents removes published events from the outbox.
func (s *Store) AckEvents(ctx context.Context, jobID string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	names := map[string]string{}
	parts := make([]string, len(ids))
	for i, id := range ids {
		n := fmt.Sprintf("#ob%d", i)
		names[n] = outboxPrefix + id
		parts[i] = n
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(jobPK(jobID), jobMetaSK),
		UpdateExpression:         aws.String("REMOVE " + strings.Join(parts, ", ")),
		ConditionExpression:      aws.String("attribute_exists(" + schema.PK + ")"), // never create an item
		ExpressionAttributeNames: names,
	})
	if err != nil && !conditionFailed(err) {
		return apperr.Wrap(err, "acknowledge events of job %s", jobID)
	}
	return nil
}

// SaveArtifacts records the copied files on the job.
func (s *Store) SaveArtifacts(ctx context.Context, userID, jobID string, arts []job.Artifact, now time.Time) error {
	raw, err := json.Marshal(orEmpty(arts))
	if err != nil {
		return apperr.Wrap(err, "marshal artifacts")
	}
	u := newUpdate()
	delete(u.names, "#status")
	u.setVal("artifacts", str(string(raw)))
	u.setVal("updatedAt", str(ts(now)))
	u.cond = append(u.cond, "userId = :user")
	u.vals[":user"] = str(userID)
	ok, err := s.runUpdate(ctx, u, key(jobPK(jobID), jobMetaSK), "save artifacts of job "+jobID)
	if err == nil && !ok {
		return apperr.NotFoundf("job")
	}
	return err
}

// CountModelVersions counts the user's live models of a dataset and
// configuration fingerprint.
func (s *Store) CountModelVersions(ctx context.Context, userID, datasetID, configHash string) (int, error) {
	return s.count(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:   aws.String("#pk = :pk AND begins_with(#sk, :prefix)"),
		FilterExpression:         aws.String("attribute_not_exists(deletedAt) AND datasetId = :ds AND configHash = :hash"),
		ExpressionAttributeNames: map[string]string{"#pk": schema.PK, "#sk": schema.SK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(userPK(userID)), ":prefix": str(modelSKPrefix()), ":ds": str(datasetID), ":hash": str(configHash),
		},
	})
}

// CompleteJob writes the model and completes the job in one transaction:
// initializing/running → completed, stage completed, progress 100,
// completedAt, artifactId, finalCost = currentCost = the accrued cost (if it
// is still fromAccrued).
func (s *Store) CompleteJob(ctx context.Context, userID, jobID string, m job.Model, fromAccrued money.Amount, evs []job.Event) (bool, error) {
	mi, err := modelItemOf(m)
	if err != nil {
		return false, err
	}
	model, err := attributevalue.MarshalMap(mi)
	if err != nil {
		return false, apperr.Wrap(err, "marshal model")
	}
	now := str(ts(m.CreatedAt))
	u := newUpdate()
	u.set = append(u.set, "#status = :to", "GSI2SK = :gsi", "completedAt = :now", "updatedAt = :now")
	u.vals[":to"], u.vals[":gsi"], u.vals[":now"] = str(string(job.StatusCompleted)), str(jobGSI2SK(string(job.StatusCompleted), jobID)), now
	u.setVal("stage", str(string(job.StageCompleted)))
	u.setVal("progress", num(100))
	u.setVal("artifactId", str(m.ID))
	u.setVal("finalCost", num(int64(fromAccrued)))
	u.setVal("currentCost", num(int64(fromAccrued)))
	if err := u.addEvents(evs); err != nil {
		return false, err
	}
	u.cond = append(u.cond, "#status IN (:init, :running)", "userId = :user")
	u.vals[":init"], u.vals[":running"], u.vals[":user"] = str(string(job.StatusInitializing)), str(string(job.StatusRunning)), str(userID)
	u.casNumber("costAccrued", int64(fromAccrued))
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: u.input(s.table, key(jobPK(jobID), jobMetaSK))},
		{Put: &types.Put{TableName: aws.String(s.table), Item: model, ConditionExpression: aws.String("attribute_not_exists(" + schema.PK + ")")}},
	}})
	if conditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, apperr.Wrap(err, "complete job %s", jobID)
	}
	return true, nil
}

// EndJob moves a job that is not final to failed or cancelled with its
// final cost, if its accrued cost is still e.FromAccrued.
func (s *Store) EndJob(ctx context.Context, userID, jobID string, e job.Ending, evs []job.Event) (bool, error) {
	if !e.To.Terminal() || e.To == job.StatusCompleted {
		return false, apperr.New(apperr.Internal, "EndJob to %s", e.To)
	}
	u := newUpdate()
	u.set = append(u.set, "#status = :to", "GSI2SK = :gsi", "completedAt = :now", "updatedAt = :now")
	u.vals[":to"], u.vals[":gsi"], u.vals[":now"] = str(string(e.To)), str(jobGSI2SK(string(e.To), jobID)), str(ts(e.Now))
	u.setVal("costAccrued", num(int64(e.Accrued)))
	u.setVal("currentCost", num(int64(e.Accrued)))
	u.setVal("finalCost", num(int64(e.Accrued)))
	if e.Billable != nil {
		u.setVal("billableSeconds", &types.AttributeValueMemberN{Value: strconv.FormatFloat(*e.Billable, 'f', -1, 64)})
	}
	if e.ErrorMessage != nil {
		u.setVal("errorMessage", str(*e.ErrorMessage))
	}
	if err := u.addEvents(evs); err != nil {
		return false, err
	}
	u.cond = append(u.cond, "#status IN (:queued, :init, :running)", "userId = :user")
	u.vals[":queued"], u.vals[":init"], u.vals[":running"] = str(string(job.StatusQueued)), str(string(job.StatusInitializing)), str(string(job.StatusRunning))
	u.vals[":user"] = str(userID)
	u.casNumber("costAccrued", int64(e.FromAccrued))
	return s.runUpdate(ctx, u, key(jobPK(jobID), jobMetaSK), fmt.Sprintf("end job %s as %s", jobID, e.To))
}

func modelItemOf(m job.Model) (modelItem, error) {
	enc := func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	}
	it := modelItem{PK: userPK(m.UserID), SK: modelSK(m.ID), GSI2PK: userPK(m.UserID), GSI2SK: modelGSI2SK(m.Status, m.ID), Entity: "model",
		ID: m.ID, UserID: m.UserID, JobID: m.JobID, DatasetID: m.DatasetID, Name: m.Name, Version: m.Version, Status: m.Status,
		ConfigHash: m.ConfigHash, CreatedAt: ts(m.CreatedAt), UpdatedAt: ts(m.UpdatedAt)}
	if m.Description != nil {
		it.Description = *m.Description
	}
	if m.ParentModelID != nil {
		it.ParentModelID = *m.ParentModelID
	}
	var err error
	for dst, v := range map[*string]any{&it.Configuration: m.Configuration, &it.Artifacts: m.Artifacts, &it.Files: orEmpty(m.Files), &it.TrainingSummary: m.TrainingSummary} {
		if *dst, err = enc(v); err != nil {
			return modelItem{}, apperr.Wrap(err, "marshal model %s", m.ID)
		}
	}
	return it, nil
}

func (it modelItem) model() (job.Model, error) {
	m := job.Model{ID: it.ID, UserID: it.UserID, JobID: it.JobID, DatasetID: it.DatasetID, Name: it.Name, Version: it.Version,
		Status: it.Status, ConfigHash: it.ConfigHash}
	if it.Description != "" {
		m.Description = &it.Description
	}
	if it.ParentModelID != "" {
		m.ParentModelID = &it.ParentModelID
	}
	for dst, src := range map[*time.Time]string{&m.CreatedAt: it.CreatedAt, &m.UpdatedAt: it.UpdatedAt} {
		if t := optTime(src); t != nil {
			*dst = *t
		}
	}
	for dst, src := range map[any]string{&m.Configuration: it.Configuration, &m.Artifacts: it.Artifacts, &m.Files: it.Files, &m.TrainingSummary: it.TrainingSummary} {
		if src == "" {
			continue
		}
		if err := json.Unmarshal([]byte(src), dst); err != nil {
			return job.Model{}, apperr.Wrap(err, "unmarshal model %s", it.ID)
		}
	}
	return m, nil
}

// RunModel reads a live model of userID.
func (s *Store) RunModel(ctx context.Context, userID, modelID string) (job.Model, error) {
	var it modelItem
	found, err := s.get(ctx, userPK(userID), modelSK(modelID), &it)
	if err != nil {
		return job.Model{}, err
	}
	if !found || it.DeletedAt != "" {
		return job.Model{}, apperr.NotFoundf("model")
	}
	return it.model()
}

// RunCheckpoints returns a job's checkpoints in step order.
func (s *Store) RunCheckpoints(ctx context.Context, jobID string) ([]job.Checkpoint, error) {
	var items []checkpointItem
	if err := s.queryAll(ctx, jobPK(jobID), checkpointSKPrefix(), 0, &items); err != nil {
		return nil, err
	}
	out := make([]job.Checkpoint, len(items))
	for i, it := range items {
		out[i] = it.Checkpoint
	}
	return out, nil
}

// queryAll reads a partition (optionally a sort-key prefix) in order, up to
// limit items (0: all).
func (s *Store) queryAll(ctx context.Context, pk, prefix string, limit int, out any) error {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": schema.PK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk)},
	}
	if prefix != "" {
		in.KeyConditionExpression = aws.String("#pk = :pk AND begins_with(#sk, :prefix)")
		in.ExpressionAttributeNames["#sk"] = schema.SK
		in.ExpressionAttributeValues[":prefix"] = str(prefix)
	}
	var all []map[string]types.AttributeValue
	for p := dynamodb.NewQueryPaginator(s.db, in); p.HasMorePages() && (limit <= 0 || len(all) < limit); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return apperr.Wrap(err, "query %s", pk)
		}
		all = append(all, page.Items...)
	}
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	if err := attributevalue.UnmarshalListOfMaps(all, out); err != nil {
		return apperr.Wrap(err, "unmarshal %s", pk)
	}
	return nil
}
