package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/oklog/ulid/v2"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/blob"
	"github.com/brightrun/brightrun/pkg/eventbus"
	"github.com/brightrun/brightrun/pkg/gpucluster"
	"github.com/brightrun/brightrun/pkg/job"
	"github.com/brightrun/brightrun/pkg/route"
	"github.com/brightrun/brightrun/pkg/series"
)

// JobRunner wires the training workflow's tasks for the task function fn
// (a route.Workers entry): the table always, and what the worker's access
// scopes say it uses — the GPU cluster (GPU_CLUSTER_URL and its token:
// GPU_CLUSTER_TOKEN locally, the secret GPU_CLUSTER_TOKEN_SECRET_ARN in
// AWS), the models bucket (MODELS_BUCKET), the datasets bucket for
// presigning, the event bus (EVENT_BUS_NAME). A missing variable or an
// unreadable secret fails the cold start.
func (a *App) JobRunner(ctx context.Context, fn string) (*job.Runner, error) {
	i := slices.IndexFunc(route.Workers, func(w route.Worker) bool { return w.Function == fn })
	if i < 0 {
		return nil, fmt.Errorf("no worker %q in the route table", fn)
	}
	access := route.Workers[i].Access
	uses := func(scope string) bool { return slices.Contains(access, scope) }
	c := a.Config
	var missing []string
	need := func(name, v string) {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if uses(route.GPUCluster) {
		need("GPU_CLUSTER_URL", c.GPUClusterURL)
		if c.GPUClusterToken == "" {
			need("GPU_CLUSTER_TOKEN_SECRET_ARN (or GPU_CLUSTER_TOKEN)", c.GPUClusterTokenSecret)
		}
	}
	if uses(route.ModelsWrite) {
		need("MODELS_BUCKET", c.ModelsBucket)
	}
	if uses(route.EventsPut) {
		need("EVENT_BUS_NAME", c.EventBusName)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s needs %s", fn, strings.Join(missing, ", "))
	}
	interval, err := Seconds("POLL_INTERVAL_SECONDS", c.PollIntervalSeconds, job.DefaultPollInterval, 300*time.Second)
	if err != nil {
		return nil, err
	}

	r := &job.Runner{
		Store:        a.Store,
		Cluster:      noCluster{},
		Objects:      runnerObjects{Store: blob.New(s3.NewFromConfig(a.AWS, func(o *s3.Options) { o.UsePathStyle = c.S3PathStyle }))},
		Events:       noEvents{},
		ModelsBucket: c.ModelsBucket,
		PollInterval: interval,
		Downsample:   series.Downsample,
		Now:          time.Now,
		NewID:        func() string { return ulid.Make().String() },
		Log:          a.Logger.With("function", fn),
	}
	if uses(route.GPUCluster) {
		// Attempts stay well inside the tasks' timeouts: 5 tries with
		// backoff up to 20 s; the state machine retries ClusterUnavailable
		// on a longer scale.
		newClient := func(token string) (*gpucluster.Client, error) {
			return gpucluster.New(c.GPUClusterURL, token, gpucluster.Options{Timeout: 20 * time.Second})
		}
		if c.GPUClusterToken != "" {
			cl, err := newClient(c.GPUClusterToken)
			if err != nil {
				return nil, err
			}
			r.Cluster = cl
		} else {
			sm := secretsmanager.NewFromConfig(a.AWS)
			cl, err := newRotatingCluster(ctx, newClient, func(ctx context.Context) (string, error) {
				return SecretString(ctx, sm, c.GPUClusterTokenSecret)
			})
			if err != nil {
				return nil, err
			}
			r.Cluster = cl
		}
	}
	if uses(route.EventsPut) {
		r.Events = eventbus.New(eventbridge.NewFromConfig(a.AWS), c.EventBusName)
	}
	return r, nil
}

// SecretGetter is the one Secrets Manager call a cold start makes.
type SecretGetter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// SecretString reads the current string value of a secret, trimmed of
// surrounding white space (a token pasted into the console often ends in a
// newline). An empty value is an error: a cold start with no token would
// only fail later, at the cluster, as Unauthorized.
func SecretString(ctx context.Context, sm SecretGetter, arn string) (string, error) {
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("reading secret %s: %w", arn, err)
	}
	v := strings.TrimSpace(aws.ToString(out.SecretString))
	if v == "" {
		return "", fmt.Errorf("secret %s has no string value", arn)
	}
	return v, nil
}

// runnerObjects adapts blob.Store to the runner's Objects port.
type runnerObjects struct {
	*blob.Store
	partSize int64 // 0: blob.DefaultPartSize
}

func (o runnerObjects) StatObject(ctx context.Context, bucket, key string) (job.ObjectInfo, bool, error) {
	info, err := o.Stat(ctx, bucket, key)
	if apperr.KindOf(err) == apperr.NotFound {
		return job.ObjectInfo{}, false, nil
	}
	if err != nil {
		return job.ObjectInfo{}, false, err
	}
	return job.ObjectInfo{Size: info.Size, SHA256: info.Metadata[blob.MetaSHA256]}, true, nil
}

func (o runnerObjects) PutVerified(ctx context.Context, bucket, key string, r io.Reader, size int64, contentType, sha256 string) error {
	_, err := o.Upload(ctx, blob.UploadInput{Bucket: bucket, Key: key, Body: r, Size: size, ContentType: contentType, SHA256: sha256, PartSize: o.partSize})
	if cm, ok := blob.IsChecksumMismatch(err); ok {
		return &job.ChecksumMismatch{WantSHA256: cm.WantSHA256, GotSHA256: cm.GotSHA256, WantSize: cm.WantSize, GotSize: cm.GotSize}
	}
	return err
}

// NewRunnerObjects is the runner's S3 port on a blob store, uploading in
// parts of partSize bytes (0: blob.DefaultPartSize); for tests.
func NewRunnerObjects(s *blob.Store, partSize int64) job.Objects {
	return runnerObjects{Store: s, partSize: partSize}
}

// noCluster stands in for the cluster in a task that has no access to it.
type noCluster struct{}

var errNoCluster = errors.New("this function has no access to the GPU cluster")

func (noCluster) Submit(context.Context, gpucluster.SubmitRequest) (gpucluster.Job, error) {
	return gpucluster.Job{}, errNoCluster
}
func (noCluster) Status(context.Context, string) (gpucluster.Job, error) {
	return gpucluster.Job{}, errNoCluster
}
func (noCluster) Metrics(context.Context, string, int, int) (gpucluster.MetricsPage, error) {
	return gpucluster.MetricsPage{}, errNoCluster
}
func (noCluster) Logs(context.Context, string, string, int) (gpucluster.LogPage, error) {
	return gpucluster.LogPage{}, errNoCluster
}
func (noCluster) Checkpoints(context.Context, string) ([]gpucluster.Checkpoint, error) {
	return nil, errNoCluster
}
func (noCluster) Cancel(context.Context, string) (gpucluster.Job, error) {
	return gpucluster.Job{}, errNoCluster
}
func (noCluster) Artifacts(context.Context, string) ([]gpucluster.Artifact, error) {
	return nil, errNoCluster
}
func (noCluster) Download(context.Context, string, int64) (io.ReadCloser, error) {
	return nil, errNoCluster
}

// noEvents stands in for the bus in a task that has no access to it.
type noEvents struct{}

func (noEvents) Put(context.Context, string, any) error {
	return errors.New("this function has no access to the event bus")
}
