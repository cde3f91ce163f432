package dynamo_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/dynamo"
	"github.com/brightrun/brightrun/pkg/dynamo/schema"
	"github.com/brightrun/brightrun/pkg/identity"
	"github.com/brightrun/brightrun/pkg/money"
	"github.com/brightrun/brightrun/pkg/optional"
	"github.com/brightrun/brightrun/pkg/testkit"
)

func TestMain(m *testing.M) { os.Exit(testkit.MainWithDynamo(m)) }

var ctx = context.Background()

func TestCreateTableMatchesSchema(t *testing.T) {
	_, name := testkit.Table(t)
	db := testkit.DynamoClient(t)
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	def := schema.Definition()
	keys := map[string]types.KeyType{}
	for _, k := range out.Table.KeySchema {
		keys[*k.AttributeName] = k.KeyType
	}
	if keys[def.PartitionKey] != types.KeyTypeHash || keys[def.SortKey] != types.KeyTypeRange {
		t.Errorf("key schema: got %v, want %s HASH and %s RANGE", keys, def.PartitionKey, def.SortKey)
	}
	got := map[string]bool{}
	for _, ix := range out.Table.GlobalSecondaryIndexes {
		got[*ix.IndexName] = ix.Projection.ProjectionType == types.ProjectionTypeAll
	}
	for _, ix := range def.Indexes {
		if !got[ix.Name] {
			t.Errorf("index %s: missing or not projecting ALL (got %v)", ix.Name, got)
		}
	}
	ttl, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(ttl.TimeToLiveDescription.AttributeName) != def.TTLAttribute {
		t.Errorf("TTL attribute: got %q, want %q", aws.ToString(ttl.TimeToLiveDescription.AttributeName), def.TTLAttribute)
	}
	// Creating it again is a no-op, as the local stack does on every start.
	if err := dynamo.CreateTable(ctx, db, name); err != nil {
		t.Errorf("second CreateTable: %v", err)
	}
}

func TestProfile(t *testing.T) {
	s, _ := testkit.Table(t)
	created := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	org := "Analytical Engines"
	budget := money.Amount(50_000_000)
	u := identity.User{ID: "u1", Email: "ada@example.com", Name: "Ada", Organization: &org, Role: identity.RoleUser, SubscriptionTier: identity.TierFree, MonthlyBudget: &budget, CreatedAt: created, UpdatedAt: created}
	if err := s.CreateProfile(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateProfile(ctx, u); apperr.KindOf(err) != apperr.Conflict {
		t.Fatalf("second create: got %v, want Conflict", err)
	}
	got, err := s.Profile(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Email != u.Email || *got.Organization != org || *got.MonthlyBudget != budget || !got.CreatedAt.Equal(created) {
		t.Fatalf("profile: got %+v, want %+v", got, u)
	}
	if _, err := s.Profile(ctx, "nobody"); apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("unknown profile: got %v, want NotFound", err)
	}

	later := created.Add(time.Hour)
	name, tier := "Ada K", identity.TierStarter
	got, err = s.UpdateProfile(ctx, "u1", identity.Change{Name: &name, Organization: optional.Null[string](), MonthlyBudget: optional.Of(money.Amount(1)), Tier: &tier}, later)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != name || got.Organization != nil || *got.MonthlyBudget != 1 || got.SubscriptionTier != tier || !got.UpdatedAt.Equal(later) || !got.CreatedAt.Equal(created) {
		t.Fatalf("updated: got %+v", got)
	}
	// An update never creates a profile.
	if _, err := s.UpdateProfile(ctx, "ghost", identity.Change{Name: &name}, later); apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("update unknown: got %v, want NotFound", err)
	}
	if _, err := s.Profile(ctx, "ghost"); apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("ghost profile was created: %v", err)
	}
}

func TestCredential(t *testing.T) {
	s, _ := testkit.Table(t)
	c := identity.Credential{Subject: "s1", Email: "grace@example.com", PasswordHash: "h", Name: "Grace", Role: identity.RoleUser}
	if err := s.CreateCredential(ctx, c); err != nil {
		t.Fatal(err)
	}
	dup := c
	dup.Subject = "s2"
	err := s.CreateCredential(ctx, dup)
	if e, ok := apperr.As(err); !ok || e.Kind != apperr.Conflict || e.Code != identity.CodeEmailExists {
		t.Fatalf("duplicate email: got %v, want Conflict EMAIL_EXISTS", err)
	}
	if _, err := s.CredentialByEmail(ctx, "other@example.com"); apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("unknown email: got %v, want NotFound", err)
	}
	if err := s.SetCredentialRole(ctx, "s1", identity.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	got, err := s.CredentialByEmail(ctx, c.Email)
	if err != nil || got.Role != identity.RoleAdmin || got.Subject != "s1" || got.PasswordHash != "h" {
		t.Fatalf("after role change: got %+v, %v", got, err)
	}
	if err := s.DeleteCredential(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CredentialByEmail(ctx, c.Email); apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("after delete: got %v, want NotFound", err)
	}
	// The email is free again, and deleting twice is harmless.
	if err := s.CreateCredential(ctx, dup); err != nil {
		t.Fatalf("re-register after delete: %v", err)
	}
	if err := s.DeleteCredential(ctx, "s1"); err != nil {
		t.Fatalf("second delete: %v", err)
	}
}

// TestCredentialRace: concurrent registrations of one email, exactly one wins.
func TestCredentialRace(t *testing.T) {
	s, _ := testkit.Table(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			errs[i] = s.CreateCredential(ctx, identity.Credential{Subject: "s" + string(rune('a'+i)), Email: "race@example.com", PasswordHash: "h", Role: identity.RoleUser})
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case apperr.KindOf(err) != apperr.Conflict:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("winners: got %d, want 1", ok)
	}
}

func TestIdempotencyKey(t *testing.T) {
	s, _ := testkit.Table(t)
	now := time.Now()
	lock, exp := now.Add(2*time.Minute), now.Add(24*time.Hour)

	_, claimed, err := s.ClaimIdempotencyKey(ctx, "u1", "k", "fp1", now, lock, exp)
	if err != nil || !claimed {
		t.Fatalf("first claim: got claimed=%v err=%v, want claimed", claimed, err)
	}
	held, claimed, err := s.ClaimIdempotencyKey(ctx, "u1", "k", "fp1", now, lock, exp)
	if err != nil || claimed || held.Done || held.Fingerprint != "fp1" {
		t.Fatalf("claim while in flight: got %+v claimed=%v err=%v, want held, not done", held, claimed, err)
	}
	// Another user's key of the same name is independent.
	if _, claimed, err := s.ClaimIdempotencyKey(ctx, "u2", "k", "fp9", now, lock, exp); err != nil || !claimed {
		t.Fatalf("other user: got claimed=%v err=%v, want claimed", claimed, err)
	}
	if err := s.CompleteIdempotencyKey(ctx, "u1", "k", 201, `{"success":true}`); err != nil {
		t.Fatal(err)
	}
	held, claimed, err = s.ClaimIdempotencyKey(ctx, "u1", "k", "fp2", now, lock, exp)
	if err != nil || claimed || !held.Done || held.Status != 201 || held.Body != `{"success":true}` || held.Fingerprint != "fp1" {
		t.Fatalf("claim after completion: got %+v claimed=%v err=%v", held, claimed, err)
	}
	// Releasing a completed key does nothing.
	if err := s.ReleaseIdempotencyKey(ctx, "u1", "k"); err != nil {
		t.Fatal(err)
	}
	if _, claimed, _ := s.ClaimIdempotencyKey(ctx, "u1", "k", "fp1", now, lock, exp); claimed {
		t.Fatal("a completed key was released")
	}
	// After expiry (TTL deletion can lag) the key is free again.
	if _, claimed, err := s.ClaimIdempotencyKey(ctx, "u1", "k", "fp3", exp.Add(time.Second), lock, exp.Add(24*time.Hour)); err != nil || !claimed {
		t.Fatalf("claim after expiry: got claimed=%v err=%v", claimed, err)
	}
	// A lapsed lock (the request crashed) frees an in-flight key.
	if _, claimed, _ := s.ClaimIdempotencyKey(ctx, "u3", "k", "fp", now, lock, exp); !claimed {
		t.Fatal("u3 first claim")
	}
	if _, claimed, _ := s.ClaimIdempotencyKey(ctx, "u3", "k", "fp", lock.Add(time.Second), lock.Add(time.Hour), exp); !claimed {
		t.Fatal("claim after the lock lapsed: want claimed")
	}
	// Released in-flight keys are free.
	if err := s.ReleaseIdempotencyKey(ctx, "u2", "k"); err != nil {
		t.Fatal(err)
	}
	if _, claimed, _ := s.ClaimIdempotencyKey(ctx, "u2", "k", "fp9", now, lock, exp); !claimed {
		t.Fatal("claim after release: want claimed")
	}
}

func TestCursor(t *testing.T) {
	key := map[string]string{"PK": "USER#a", "SK": "DATASET#d9"}
	tok := dynamo.EncodeCursor("a", "datasets", key)
	if tok == "" {
		t.Fatal("empty cursor for a non-empty key")
	}
	if dynamo.EncodeCursor("a", "datasets", nil) != "" {
		t.Error("a last page must have no cursor")
	}
	got, err := dynamo.DecodeCursor(tok, "a", "datasets", "PK", "USER#a")
	if err != nil || got["SK"] != "DATASET#d9" {
		t.Fatalf("round trip: got %v, %v", got, err)
	}
	forged := dynamo.EncodeCursor("b", "datasets", map[string]string{"PK": "USER#a", "SK": "DATASET#d9"})
	for _, c := range []struct{ name, tok, owner, list, pv string }{
		{"another user's cursor", tok, "b", "datasets", "USER#b"},
		{"another list", tok, "a", "models", "USER#a"},
		{"key outside the caller's partition", dynamo.EncodeCursor("b", "datasets", key), "b", "datasets", "USER#b"},
		{"owner mismatch", forged, "a", "datasets", "USER#a"},
		{"garbage", "!!!", "a", "datasets", "USER#a"},
		{"not JSON", "bm90IGpzb24", "a", "datasets", "USER#a"},
	} {
		if _, err := dynamo.DecodeCursor(c.tok, c.owner, c.list, "PK", c.pv); apperr.KindOf(err) != apperr.Invalid {
			t.Errorf("%s: got %v, want Invalid", c.name, err)
		}
	}
}
