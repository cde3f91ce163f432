// Package testkit is shared test support: a real DynamoDB Local per test
// binary with a fresh table per test, an HTTP client that speaks the API
// envelope, and the tenant-isolation assertions every endpoint's tests use.
package testkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/brightrun/brightrun/pkg/dynamo"
	"github.com/brightrun/brightrun/pkg/dynamolocal"
)

var shared *dynamolocal.Server

// MainWithDynamo runs a test binary with one in-memory DynamoDB Local on a
// free loopback port, stopped when the tests end. Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testkit.MainWithDynamo(m)) }
func MainWithDynamo(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	srv, err := dynamolocal.Start(ctx, dynamolocal.Options{})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testkit: DynamoDB Local:", err)
		return 1
	}
	shared = srv
	defer srv.Stop()
	return m.Run()
}

// DynamoClient is an SDK client for the shared DynamoDB Local.
func DynamoClient(t testing.TB) *dynamodb.Client {
	t.Helper()
	if shared == nil {
		t.Fatal("testkit: DynamoDB Local is not running: call testkit.MainWithDynamo from TestMain")
	}
	return shared.Client()
}

// Table creates a fresh table from the shared schema for one test, so tests
// never see each other's items, and deletes it afterwards.
func Table(t testing.TB) (*dynamo.Store, string) {
	t.Helper()
	db := DynamoClient(t)
	name := "t-" + RandomID()
	ctx := context.Background()
	if err := dynamo.CreateTable(ctx, db, name); err != nil {
		t.Fatalf("create table: %v", err)
	}
	t.Cleanup(func() {
		_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	return dynamo.New(db, name), name
}

// RandomID returns 16 random hex characters.
func RandomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
