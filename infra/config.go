package main

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Context keys (cdk.json "context", or `cdk synth -c key=value`).
const (
	ctxStage       = "stage"          // default "dev"
	ctxAssetDir    = "lambdaAssetDir" // default "build/lambda", relative to the repo root
	ctxCorsOrigins = "corsOrigins"    // JSON list in cdk.json, or comma-separated on the command line
	ctxGPUCluster  = "gpuClusterUrl"  // base URL of the GPU cluster API (GPU_CLUSTER_URL)
	// ctxStreamConcurrency reserves (and caps) the concurrency of the
	// stream function: each live SSE stream holds one execution for up to
	// 14 minutes, so without a cap a crowd of watchers could take the
	// concurrency the API and the training tasks need. Default 0: no
	// reservation, because reserving in an account whose limit is still
	// the new-account 10 fails the deployment (AWS keeps 10 unreserved).
	// Production: -c streamConcurrency=200 (about one per watcher).
	ctxStreamConcurrency = "streamConcurrency"
)

// Defaults when the context does not say otherwise. The CORS origin is the
// frontend's local dev server; set the deployed frontend's origin per stage:
// cdk deploy -c stage=prod -c corsOrigins=https://app.example.com
const (
	defaultStage      = "dev"
	defaultAssetDir   = "build/lambda"
	defaultCorsOrigin = "http://localhost:3000"
	// No real cluster: training tasks fail with ClusterUnavailable until
	// the stage sets its cluster: cdk deploy -c gpuClusterUrl=https://…
	defaultGPUClusterURL = "https://gpu-cluster.example.com"
)

// stageRe keeps stage names usable in every resource name (Lambda, table,
// user pool, stack).
var stageRe = regexp.MustCompile(`^[a-z][a-z0-9-]{0,15}$`)

type config struct {
	Stage       string
	AssetDir    string // absolute; holds <Function>/bootstrap
	CorsOrigins []string
	// GPUClusterURL is the GPU cluster API the training tasks call. Its
	// bearer token is not configuration: it lives in a Secrets Manager
	// secret (stateful stack), never in the template.
	GPUClusterURL string
	// StreamConcurrency is the stream function's reserved concurrency; 0:
	// none (ctxStreamConcurrency).
	StreamConcurrency int
}

// resourceName is the prefix of every named resource: brightrun-<stage>.
func (c config) resourceName() string { return "brightrun-" + c.Stage }

func loadConfig(node constructs.Node) (config, error) {
	cfg := config{
		Stage:       contextString(node, ctxStage, defaultStage),
		AssetDir:    contextString(node, ctxAssetDir, defaultAssetDir),
		CorsOrigins: contextList(node, ctxCorsOrigins, []string{defaultCorsOrigin}),

		GPUClusterURL: contextString(node, ctxGPUCluster, defaultGPUClusterURL),
	}
	if !stageRe.MatchString(cfg.Stage) {
		return config{}, fmt.Errorf("context %s=%q: want lower-case letters, digits and '-', starting with a letter, at most 16 characters", ctxStage, cfg.Stage)
	}
	for _, o := range cfg.CorsOrigins {
		if o != "*" && !strings.HasPrefix(o, "https://") && !strings.HasPrefix(o, "http://localhost") {
			return config{}, fmt.Errorf("context %s: origin %q must be https:// (or http://localhost for development)", ctxCorsOrigins, o)
		}
	}
	n, err := contextInt(node, ctxStreamConcurrency, 0)
	if err != nil || n < 0 || n > 10000 {
		return config{}, fmt.Errorf("context %s=%v: want a whole number from 0 (no reservation) to 10000", ctxStreamConcurrency, node.TryGetContext(jsii.String(ctxStreamConcurrency)))
	}
	cfg.StreamConcurrency = n
	if err := checkClusterURL(cfg.GPUClusterURL); err != nil {
		return config{}, fmt.Errorf("context %s=%q: %w", ctxGPUCluster, cfg.GPUClusterURL, err)
	}
	if !filepath.IsAbs(cfg.AssetDir) {
		root, err := repoRoot()
		if err != nil {
			return config{}, err
		}
		cfg.AssetDir = filepath.Join(root, cfg.AssetDir)
	}
	return cfg, nil
}

// checkClusterURL accepts an absolute https URL without credentials: the
// token goes over TLS only, and user:password@ would put a credential in
// every function's environment in plain text.
func checkClusterURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return err
	case u.Scheme != "https":
		return errors.New("want an https:// URL (the bearer token must not travel in clear text)")
	case u.Host == "" || u.Hostname() == "":
		return errors.New("want an https:// URL with a host")
	case u.User != nil:
		return errors.New("credentials do not belong in the URL: the token is read from the Secrets Manager secret")
	case u.RawQuery != "" || u.Fragment != "":
		return errors.New("want a base URL without query or fragment")
	}
	return nil
}

func contextString(node constructs.Node, key, def string) string {
	if v, ok := node.TryGetContext(jsii.String(key)).(string); ok && v != "" {
		return v
	}
	return def
}

// contextInt accepts a JSON number (cdk.json) or a decimal string (the
// CLI's -c key=value).
func contextInt(node constructs.Node, key string, def int) (int, error) {
	switch v := node.TryGetContext(jsii.String(key)).(type) {
	case nil:
		return def, nil
	case float64:
		if v != math.Trunc(v) {
			return 0, fmt.Errorf("%v is not a whole number", v)
		}
		return int(v), nil
	case string:
		if strings.TrimSpace(v) == "" {
			return def, nil
		}
		return strconv.Atoi(strings.TrimSpace(v))
	default:
		return 0, fmt.Errorf("%T is not a number", v)
	}
}

// contextList accepts a JSON list (cdk.json) or a comma-separated string
// (the CLI's -c key=value always passes strings).
func contextList(node constructs.Node, key string, def []string) []string {
	var out []string
	switch v := node.TryGetContext(jsii.String(key)).(type) {
	case string:
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	case []interface{}:
		for _, s := range v {
			if str, ok := s.(string); ok && str != "" {
				out = append(out, str)
			}
		}
	}
	if len(out) == 0 {
		return def
	}
	return out
}

// repoRoot is the nearest directory at or above the working directory that
// holds cdk.json. The CLI runs the app from the repository root (cdk.json:
// "go -C infra build … && build/cdk-app"); `go test` runs in infra/.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "cdk.json")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cdk.json not found in the working directory or above; run from the repository")
		}
		dir = parent
	}
}

// checkAssets fails early with a useful message instead of CDK's
// "Cannot find asset" when `make build` has not run.
func checkAssets(dir string, functions []string) error {
	var missing []string
	for _, fn := range functions {
		p := filepath.Join(dir, fn, "bootstrap")
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing Lambda bootstraps (run `make build`, or set -c %s=<dir>): %s", ctxAssetDir, strings.Join(missing, ", "))
	}
	return nil
}
