package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// TestSecretString: the unchanged Secrets Manager client (serialisation,
// signing, error decoding) against a loopback server speaking the service's
// JSON 1.1 protocol; no Secrets Manager runs offline.
func TestSecretString(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:brightrun-dev/gpu-cluster-token-AbCdEf"
	cases := []struct {
		name    string
		status  int
		body    string
		want    string
		wantErr string
	}{
		{"token", 200, `{"ARN":"` + arn + `","SecretString":"tok-123"}`, "tok-123", ""},
		{"trailing newline trimmed", 200, `{"SecretString":"  tok-123\n"}`, "tok-123", ""},
		{"empty value", 200, `{"SecretString":"  "}`, "", "has no string value"},
		{"binary only", 200, `{"SecretBinary":"AAEC"}`, "", "has no string value"},
		{"no such secret", 400, `{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}`, "", "ResourceNotFoundException"},
		{"access denied", 400, `{"__type":"AccessDeniedException","message":"not authorized"}`, "", "AccessDeniedException"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if got := r.Header.Get("X-Amz-Target"); got != "secretsmanager.GetSecretValue" {
					t.Errorf("X-Amz-Target: got %q, want secretsmanager.GetSecretValue", got)
				}
				if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
					t.Errorf("request is not SigV4-signed: %q", r.Header.Get("Authorization"))
				}
				raw, _ := io.ReadAll(r.Body)
				var in struct{ SecretId string }
				if err := json.Unmarshal(raw, &in); err != nil || in.SecretId != arn {
					t.Errorf("SecretId: got %q (%v), want %q", in.SecretId, err, arn)
				}
				w.Header().Set("Content-Type", "application/x-amz-json-1.1")
				w.WriteHeader(c.status)
				io.WriteString(w, c.body)
			}))
			defer srv.Close()
			sm := secretsmanager.NewFromConfig(aws.Config{
				Region:           "us-east-1",
				Credentials:      credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
				RetryMaxAttempts: 1,
			}, func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(srv.URL) })

			got, err := SecretString(context.Background(), sm, arn)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("got %q, %v; want an error containing %q", got, err, c.wantErr)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

// TestJobRunnerNeedsClusterToken: a task with the cluster scope refuses to
// start without a token or a secret to read it from.
func TestJobRunnerNeedsClusterToken(t *testing.T) {
	a := &App{Config: Config{TableName: "t", GPUClusterURL: "http://127.0.0.1:1", EventBusName: "b"}, Logger: NewLogger(0)}
	_, err := a.JobRunner(context.Background(), "poll-job")
	if err == nil || !strings.Contains(err.Error(), "GPU_CLUSTER_TOKEN_SECRET_ARN (or GPU_CLUSTER_TOKEN)") {
		t.Fatalf("got %v, want the missing token named", err)
	}
	a.Config.GPUClusterToken = "tok"
	if _, err := a.JobRunner(context.Background(), "poll-job"); err != nil {
		t.Fatalf("with GPU_CLUSTER_TOKEN: got %v", err)
	}
	if _, err := a.JobRunner(context.Background(), "no-such-task"); err == nil {
		t.Fatal("an unknown task: got no error")
	}
}
