package dynamo

import (
	"context"
	"encoding/json"
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
	"github.com/brightrun/brightrun/pkg/training"
)

// A job lives in its own partition (JOB#j / #META) so the workflow's tasks
// and the metrics, logs and checkpoints under it never touch the user's
// partition; GSI1 lists a user's jobs by time, GSI2 by status.
type jobItem struct {
	PK                 string  `dynamodbav:"PK"`
	SK                 string  `dynamodbav:"SK"`
	GSI1PK             string  `dynamodbav:"GSI1PK"`
	GSI1SK             string  `dynamodbav:"GSI1SK"`
	GSI2PK             string  `dynamodbav:"GSI2PK"`
	GSI2SK             string  `dynamodbav:"GSI2SK"`
	Entity             string  `dynamodbav:"entity"`
	ID                 string  `dynamodbav:"id"`
	UserID             string  `dynamodbav:"userId"`
	DatasetID          string  `dynamodbav:"datasetId"`
	PresetID           string  `dynamodbav:"presetId"`
	Hyperparameters    string  `dynamodbav:"hyperparameters"` // JSON
	GPUConfig          string  `dynamodbav:"gpuConfig"`       // JSON
	Status             string  `dynamodbav:"status"`
	Stage              string  `dynamodbav:"stage"`
	Progress           float64 `dynamodbav:"progress"`
	CurrentEpoch       int     `dynamodbav:"currentEpoch"`
	TotalEpochs        int     `dynamodbav:"totalEpochs"`
	CurrentStep        int     `dynamodbav:"currentStep"`
	TotalSteps         int     `dynamodbav:"totalSteps"`
	CurrentMetrics     string  `dynamodbav:"currentMetrics,omitempty"` // JSON
	QueuedAt           string  `dynamodbav:"queuedAt"`
	StartedAt          string  `dynamodbav:"startedAt,omitempty"`
	CompletedAt        string  `dynamodbav:"completedAt,omitempty"`
	EstimatedDoneAt    string  `dynamodbav:"estimatedCompletionAt,omitempty"`
	CurrentCost        int64   `dynamodbav:"currentCost"`
	EstimatedTotalCost int64   `dynamodbav:"estimatedTotalCost"`
	FinalCost          *int64  `dynamodbav:"finalCost,omitempty"`
	ErrorMessage       string  `dynamodbav:"errorMessage,omitempty"`
	RetryCount         int     `dynamodbav:"retryCount"`
	ExternalJobID      string  `dynamodbav:"externalJobId,omitempty"`
	ArtifactID         string  `dynamodbav:"artifactId,omitempty"`
	CancelRequested    bool    `dynamodbav:"cancelRequested"`
	CreatedAt          string  `dynamodbav:"createdAt"`
	UpdatedAt          string  `dynamodbav:"updatedAt"`
}

func (it jobItem) job() job.Job {
	j := job.Job{ID: it.ID, UserID: it.UserID, DatasetID: it.DatasetID, PresetID: training.PresetID(it.PresetID),
		Status: job.Status(it.Status), CurrentStage: job.Stage(it.Stage), Progress: it.Progress,
		CurrentEpoch: it.CurrentEpoch, TotalEpochs: it.TotalEpochs, CurrentStep: it.CurrentStep, TotalSteps: it.TotalSteps,
		StartedAt: optTime(it.StartedAt), CompletedAt: optTime(it.CompletedAt), EstimatedCompletionAt: optTime(it.EstimatedDoneAt),
		CurrentCost: money.Amount(it.CurrentCost), EstimatedTotalCost: money.Amount(it.EstimatedTotalCost),
		RetryCount: it.RetryCount, CancelRequested: it.CancelRequested}
	_ = json.Unmarshal([]byte(it.Hyperparameters), &j.Hyperparameters)
	_ = json.Unmarshal([]byte(it.GPUConfig), &j.GPUConfig)
	if it.CurrentMetrics != "" {
		var m job.Metrics
		if json.Unmarshal([]byte(it.CurrentMetrics), &m) == nil {
			j.CurrentMetrics = &m
		}
	}
	for dst, src := range map[*time.Time]string{&j.QueuedAt: it.QueuedAt, &j.CreatedAt: it.CreatedAt, &j.UpdatedAt: it.UpdatedAt} {
		if t := optTime(src); t != nil {
			*dst = *t
		}
	}
	if it.FinalCost != nil {
		f := money.Amount(*it.FinalCost)
		j.FinalCost = &f
	}
	for dst, src := range map[**string]string{&j.ErrorMessage: it.ErrorMessage, &j.ExternalJobID: it.ExternalJobID, &j.ArtifactID: it.ArtifactID} {
		if src != "" {
			v := src
			*dst = &v
		}
	}
	return j
}

// CreateJob writes a new job.
func (s *Store) CreateJob(ctx context.Context, j job.Job) error {
	hp, _ := json.Marshal(j.Hyperparameters)
	gpu, _ := json.Marshal(j.GPUConfig)
	it := jobItem{PK: jobPK(j.ID), SK: jobMetaSK, GSI1PK: userPK(j.UserID), GSI1SK: jobGSI1SK(j.ID),
		GSI2PK: userPK(j.UserID), GSI2SK: jobGSI2SK(string(j.Status), j.ID), Entity: "job",
		ID: j.ID, UserID: j.UserID, DatasetID: j.DatasetID, PresetID: string(j.PresetID), Hyperparameters: string(hp), GPUConfig: string(gpu),
		Status: string(j.Status), Stage: string(j.CurrentStage), TotalEpochs: j.TotalEpochs, TotalSteps: j.TotalSteps,
		QueuedAt: ts(j.QueuedAt), EstimatedTotalCost: int64(j.EstimatedTotalCost), CreatedAt: ts(j.CreatedAt), UpdatedAt: ts(j.UpdatedAt)}
	if j.EstimatedCompletionAt != nil {
		it.EstimatedDoneAt = ts(*j.EstimatedCompletionAt)
	}
	jobAV, err := attributevalue.MarshalMap(it)
	if err != nil {
		return apperr.Wrap(err, "marshal job")
	}
	// The job enters the sweep list with its creation: a create-job that
	// dies before starting the workflow leaves a job the sweeper can see.
	entryAV, err := attributevalue.MarshalMap(sweepItem{PK: sweepPK, SK: sweepSK(j.ID), Entity: "sweep", JobID: j.ID, UserID: j.UserID, CreatedAt: ts(j.CreatedAt)})
	if err != nil {
		return apperr.Wrap(err, "marshal sweep entry")
	}
	isNew := aws.String("attribute_not_exists(" + schema.PK + ")")
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(s.table), Item: jobAV, ConditionExpression: isNew}},
		{Put: &types.Put{TableName: aws.String(s.table), Item: entryAV, ConditionExpression: isNew}},
	}})
	if conditionFailed(err) {
		return apperr.New(apperr.Conflict, "job %s already exists", j.ID)
	}
	if err != nil {
		return apperr.Wrap(err, "put job %s", j.ID)
	}
	return nil
}

// Job reads a job of userID (consistent read); another user's is NotFound.
func (s *Store) Job(ctx context.Context, userID, id string) (job.Job, error) {
	var it jobItem
	found, err := s.get(ctx, jobPK(id), jobMetaSK, &it)
	if err != nil {
		return job.Job{}, err
	}
	if !found || it.UserID != userID {
		return job.Job{}, apperr.NotFoundf("job")
	}
	return it.job(), nil
}

// QueuedAhead counts the user's queued jobs older than id (ULIDs sort by time).
func (s *Store) QueuedAhead(ctx context.Context, userID, id string) (int, error) {
	queued := string(job.StatusQueued)
	n, err := s.count(ctx, &dynamodb.QueryInput{
		IndexName:                 aws.String(schema.GSI2),
		KeyConditionExpression:    aws.String("#pk = :pk AND #sk BETWEEN :lo AND :hi"),
		ExpressionAttributeNames:  map[string]string{"#pk": schema.GSI2PK, "#sk": schema.GSI2SK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(userPK(userID)), ":lo": str(jobGSI2SK(queued, "")), ":hi": str(jobGSI2SK(queued, id))},
	})
	if err != nil {
		return 0, err
	}
	// BETWEEN includes the job itself while it is still queued.
	j, err := s.Job(ctx, userID, id)
	if err == nil && j.Status == job.StatusQueued && n > 0 {
		n--
	}
	return n, nil
}

// Transition changes the status only if it is still from, for the owner.
func (s *Store) Transition(ctx context.Context, userID, id string, from, to job.Status, c job.Change) (bool, error) {
	set := []string{"#status = :to", "GSI2SK = :gsi", "updatedAt = :now"}
	vals := map[string]types.AttributeValue{
		":to": str(string(to)), ":from": str(string(from)), ":gsi": str(jobGSI2SK(string(to), id)),
		":now": str(ts(c.Now)), ":user": str(userID),
	}
	names := map[string]string{"#status": "status"}
	if c.Stage != nil {
		set = append(set, "stage = :stage")
		vals[":stage"] = str(string(*c.Stage))
	}
	if c.ErrorMessage != nil {
		set = append(set, "errorMessage = :err")
		vals[":err"] = str(*c.ErrorMessage)
	}
	if c.StartedAt != nil {
		set = append(set, "startedAt = if_not_exists(startedAt, :started)")
		vals[":started"] = str(ts(*c.StartedAt))
	}
	if c.CompletedAt != nil {
		set = append(set, "completedAt = :completed")
		vals[":completed"] = str(ts(*c.CompletedAt))
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(jobPK(id), jobMetaSK),
		UpdateExpression:          aws.String("SET " + strings.Join(set, ", ")),
		ConditionExpression:       aws.String("#status = :from AND userId = :user"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
	})
	if conditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, apperr.Wrap(err, "job %s %s → %s", id, from, to)
	}
	return true, nil
}

// RequestCancel flags an initializing or running job for the workflow.
func (s *Store) RequestCancel(ctx context.Context, userID, id string, now time.Time) (bool, error) {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(jobPK(id), jobMetaSK),
		UpdateExpression:         aws.String("SET cancelRequested = :true, updatedAt = :now"),
		ConditionExpression:      aws.String("#status IN (:init, :running) AND userId = :user"),
		ExpressionAttributeNames: map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":true": &types.AttributeValueMemberBOOL{Value: true}, ":now": str(ts(now)), ":user": str(userID),
			":init": str(string(job.StatusInitializing)), ":running": str(string(job.StatusRunning)),
		},
	})
	if conditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, apperr.Wrap(err, "request cancel of job %s", id)
	}
	return true, nil
}
