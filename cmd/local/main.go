// Command local runs the whole BrightRun platform on this machine (`make
// dev`): DynamoDB Local, an S3 server, every Lambda function as its real
// binary behind a local Lambda Runtime API, and an HTTP API gateway with a
// JWT authorizer, all on 127.0.0.1. Data persists under .local/.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/brightrun/brightrun/pkg/devenv"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(1)
	}
}

func run() error {
	apiPort := flag.Int("port", 8080, "HTTP API port on 127.0.0.1")
	dynamoPort := flag.Int("dynamodb-port", 8000, "DynamoDB Local port")
	s3Port := flag.Int("s3-port", 9000, "S3 server port")
	awsPort := flag.Int("aws-port", 4010, "local Lambda Invoke API and EventBridge port")
	clusterPort := flag.Int("cluster-port", 4020, "GPU-cluster simulator port")
	timeScale := flag.Float64("time-scale", 100, "simulated cluster seconds per second")
	flag.Parse()

	root, err := devenv.RepoRoot()
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	data := filepath.Join(root, ".local")
	st, err := startStack(ctx, options{
		Root: root, DataDir: data, BinDir: filepath.Join(data, "functions"),
		APIPort: *apiPort, DynamoPort: *dynamoPort, S3Port: *s3Port, AWSPort: *awsPort, ClusterPort: *clusterPort, TimeScale: *timeScale, LongLived: true,
		Output: os.Stderr, Logger: logger,
	})
	if err != nil {
		return err
	}
	defer st.Close()

	fmt.Printf(`
BrightRun local platform is up (data in %s)

  HTTP API        %s/api      (JWT authorizer: issuer %q, audience %q)
  DynamoDB Local  %s    (table %q)
  S3 (versitygw)  %s    (buckets %q, %q; key %s / %s)
  Lambda, events, %s    (Lambda Invoke API; EventBridge bus %q, log at /events;
  Step Functions                           the training state machine in a real ASL interpreter)
  GPU cluster     %s    (simulator, %g× real time; faults at /_sim/faults)

Try:  curl -s %s/api/auth/signup -d '{"email":"ada@example.com","password":"correct horse","name":"Ada"}'
Ctrl-C stops everything; data stays for the next run.
`, data, st.APIURL, st.Issuer, st.Audience, st.DynamoURL, tableName, st.S3URL, datasetsBucket, modelsBucket, s3AccessKey, s3SecretKey, st.AWSURL, eventBusName, st.ClusterURL, *timeScale, st.APIURL)

	<-ctx.Done()
	fmt.Println("\nstopping…")
	return nil
}
