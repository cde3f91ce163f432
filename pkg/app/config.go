// Package app is the composition root every Lambda entry point shares: it
// parses configuration from the environment once per cold start, builds the
// AWS SDK clients once, and wires domain services to adapters.
package app

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
)

// Identity providers.
const (
	ProviderCognito = "cognito"
	ProviderLocal   = "local"
)

// Config is the environment of a function. Endpoints of AWS services are
// not here: the SDK reads AWS_ENDPOINT_URL_<SERVICE> itself, which is how
// the local stack points the unchanged clients at local servers.
type Config struct {
	TableName        string     // TABLE_NAME
	IdentityProvider string     // IDENTITY_PROVIDER: cognito (default) or local
	CognitoPoolID    string     // COGNITO_USER_POOL_ID
	CognitoClientID  string     // COGNITO_CLIENT_ID
	LocalKeyFile     string     // LOCAL_IDP_KEY_FILE: PEM signing key
	LocalIssuer      string     // LOCAL_IDP_ISSUER
	LocalAudience    string     // LOCAL_IDP_AUDIENCE
	LogLevel         slog.Level // LOG_LEVEL: debug, info (default), warn, error

	// Needed only by the functions that use them; checked when the service
	// that needs them is built.
	DatasetsBucket  string // DATASETS_BUCKET
	EventBusName    string // EVENT_BUS_NAME
	ValidateDataset string // VALIDATE_DATASET_FUNCTION: name or ARN of validate-dataset
	StateMachineARN string // STATE_MACHINE_ARN: the training workflow
	// The training workflow's tasks (JobRunner checks what a task needs).
	GPUClusterURL   string // GPU_CLUSTER_URL: base URL of the GPU cluster API
	GPUClusterToken string // GPU_CLUSTER_TOKEN: its bearer token (local stack)
	// GPUClusterTokenSecret (GPU_CLUSTER_TOKEN_SECRET_ARN): the Secrets
	// Manager secret holding the bearer token, read once at cold start. In
	// AWS the token is never in the template or the function's environment.
	GPUClusterTokenSecret string
	ModelsBucket          string // MODELS_BUCKET: trained artifacts, under models/
	PollIntervalSeconds   string // POLL_INTERVAL_SECONDS: poll-job's interval (default 20; may be fractional)
	StreamPollSeconds     string // STREAM_POLL_SECONDS: how often an open event stream reads the feed (default 2)
	SweepMinIdleSeconds   string // SWEEP_MIN_IDLE_SECONDS: how long a job must be untouched before the sweeper checks its execution (default 600)
	// S3PathStyle is set when AWS_ENDPOINT_URL_S3 points at a local S3
	// server, which needs path-style addressing (the SDK reads no variable
	// for it); AWS itself uses virtual-hosted style.
	S3PathStyle bool
}

// ConfigFromEnv reads and checks the configuration.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		TableName:             getenv("TABLE_NAME"),
		IdentityProvider:      getenv("IDENTITY_PROVIDER"),
		CognitoPoolID:         getenv("COGNITO_USER_POOL_ID"),
		CognitoClientID:       getenv("COGNITO_CLIENT_ID"),
		LocalKeyFile:          getenv("LOCAL_IDP_KEY_FILE"),
		LocalIssuer:           getenv("LOCAL_IDP_ISSUER"),
		LocalAudience:         getenv("LOCAL_IDP_AUDIENCE"),
		DatasetsBucket:        getenv("DATASETS_BUCKET"),
		EventBusName:          getenv("EVENT_BUS_NAME"),
		ValidateDataset:       getenv("VALIDATE_DATASET_FUNCTION"),
		StateMachineARN:       getenv("STATE_MACHINE_ARN"),
		GPUClusterURL:         getenv("GPU_CLUSTER_URL"),
		GPUClusterToken:       getenv("GPU_CLUSTER_TOKEN"),
		GPUClusterTokenSecret: getenv("GPU_CLUSTER_TOKEN_SECRET_ARN"),
		ModelsBucket:          getenv("MODELS_BUCKET"),
		PollIntervalSeconds:   getenv("POLL_INTERVAL_SECONDS"),
		StreamPollSeconds:     getenv("STREAM_POLL_SECONDS"),
		SweepMinIdleSeconds:   getenv("SWEEP_MIN_IDLE_SECONDS"),
		S3PathStyle:           getenv("AWS_ENDPOINT_URL_S3") != "",
	}
	var missing []string
	need := func(name, v string) {
		if v == "" {
			missing = append(missing, name)
		}
	}
	need("TABLE_NAME", c.TableName)
	if c.IdentityProvider == "" {
		c.IdentityProvider = ProviderCognito
	}
	switch c.IdentityProvider {
	case ProviderCognito:
		need("COGNITO_USER_POOL_ID", c.CognitoPoolID)
		need("COGNITO_CLIENT_ID", c.CognitoClientID)
	case ProviderLocal:
		need("LOCAL_IDP_KEY_FILE", c.LocalKeyFile)
		need("LOCAL_IDP_ISSUER", c.LocalIssuer)
		need("LOCAL_IDP_AUDIENCE", c.LocalAudience)
	default:
		return c, fmt.Errorf("IDENTITY_PROVIDER must be %q or %q, got %q", ProviderCognito, ProviderLocal, c.IdentityProvider)
	}
	if len(missing) > 0 {
		return c, fmt.Errorf("missing environment variables: %s", strings.Join(missing, ", "))
	}
	if err := c.LogLevel.UnmarshalText([]byte(orDefault(getenv("LOG_LEVEL"), "info"))); err != nil {
		return c, fmt.Errorf("LOG_LEVEL: %w", err)
	}
	return c, nil
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// NewLogger returns the JSON logger every function uses.
func NewLogger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// Seconds reads the duration a variable gives in (fractional) seconds: def
// if v is empty, an error naming the variable unless 0 < v ≤ max.
func Seconds(name, v string, def, max time.Duration) (time.Duration, error) {
	if v == "" {
		return def, nil
	}
	s, err := strconv.ParseFloat(v, 64)
	d := time.Duration(s * float64(time.Second))
	if err != nil || d <= 0 || d > max {
		return 0, fmt.Errorf("%s must be a number of seconds in (0, %g], got %q", name, max.Seconds(), v)
	}
	return d, nil
}
