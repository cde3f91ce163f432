// Package dynamolocal runs the official DynamoDB Local (the jar shipped in
// the pinned npm package amplify-dynamodb-simulator) as a child process on
// a loopback port, in memory for tests or on disk for the local stack.
package dynamolocal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/brightrun/brightrun/pkg/devenv"
)

// Server is a running DynamoDB Local.
type Server struct {
	URL  string
	cmd  *exec.Cmd
	done chan error
}

// Options choose where data lives.
type Options struct {
	// DataDir persists the database there; empty means in memory.
	DataDir string
	// Port to bind on 127.0.0.1; 0 picks a free one.
	Port int
	// Log receives the server's output; nil discards it.
	Log *os.File
	// Throughput tunes the JVM for a long-lived server instead of a fast
	// start.
	Throughput bool
}

// Dir returns the emulator directory of the pinned npm package.
func Dir() (string, error) {
	if d := os.Getenv("DYNAMODB_LOCAL_DIR"); d != "" {
		return d, nil
	}
	root, err := devenv.RepoRoot()
	if err != nil {
		return "", err
	}
	d := filepath.Join(root, "node_modules", "amplify-dynamodb-simulator", "emulator")
	if _, err := os.Stat(filepath.Join(d, "DynamoDBLocal.jar")); err != nil {
		return "", fmt.Errorf("DynamoDB Local not installed at %s: run `make tools`", d)
	}
	return d, nil
}

// Start launches DynamoDB Local and waits until it answers ListTables.
func Start(ctx context.Context, o Options) (*Server, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	port := o.Port
	if port == 0 {
		if port, err = devenv.FreePort(); err != nil {
			return nil, err
		}
	}
	classDir, err := launcher(dir)
	if err != nil {
		return nil, err
	}
	// Tests: tiered compilation stopped at C1 and the serial GC halve
	// start-up time, and a test's DynamoDB Local lives seconds. A server
	// that stays up (make dev, load tests) gets the throughput settings:
	// with the test ones its JVM spent ~28 % of the time in stop-the-world
	// collections of a 75 MB heap under 100 requests a second.
	jvm := []string{"-Xms64m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"}
	if o.Throughput {
		jvm = []string{"-Xms512m", "-Xmx2g", "-XX:+UseParallelGC"}
	}
	args := append(jvm,
		"-Djava.library.path="+filepath.Join(dir, "DynamoDBLocal_lib"),
		"-cp", classpath(dir, classDir), "LoopbackLauncher",
		"-port", strconv.Itoa(port), "-disableTelemetry")
	// -sharedDb: one database whatever the credentials, as in AWS where the
	// table belongs to the account, not to an access key.
	args = append(args, "-sharedDb")
	if o.DataDir == "" {
		args = append(args, "-inMemory")
	} else {
		if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
			return nil, err
		}
		args = append(args, "-dbPath", o.DataDir)
	}
	cmd := exec.Command("java", args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = o.Log, o.Log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start DynamoDB Local (java on PATH?): %w", err)
	}
	s := &Server{URL: fmt.Sprintf("http://%s:%d", devenv.Loopback, port), cmd: cmd, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	if err := s.waitReady(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	db := s.Client()
	for {
		if _, err := db.ListTables(ctx, &dynamodb.ListTablesInput{}); err == nil {
			return nil
		}
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("DynamoDB Local exited during start: %v", err)
		case <-ctx.Done():
			return errors.New("DynamoDB Local did not answer within 60s")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Client returns an SDK client for the server with dummy credentials.
func (s *Server) Client() *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		BaseEndpoint: aws.String(s.URL),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("local", "localsecret", ""),
	})
}

// Stop terminates the server and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}
