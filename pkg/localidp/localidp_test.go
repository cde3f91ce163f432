package localidp_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/identity"
	"github.com/brightrun/brightrun/pkg/localidp"
	"github.com/brightrun/brightrun/pkg/testkit"
)

func TestMain(m *testing.M) { os.Exit(testkit.MainWithDynamo(m)) }

func TestKeyPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idp", "key.pem")
	k1, err := localidp.LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := localidp.LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Equal(k2) {
		t.Fatal("the second load made a new key: tokens would not survive a restart")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode: got %v, want 0600", fi.Mode().Perm())
	}
	if err := os.WriteFile(path, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := localidp.LoadOrCreateKey(path); err == nil {
		t.Error("a corrupt key file must be an error, not silently replaced")
	}
}

func TestProviderRoundTrip(t *testing.T) {
	store, _ := testkit.Table(t)
	key, err := localidp.LoadOrCreateKey(filepath.Join(t.TempDir(), "k.pem"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	p, err := localidp.New(store, localidp.Config{Key: key, Issuer: "iss", Audience: "aud", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sub, err := p.Register(ctx, identity.Registration{Email: "ada@example.com", Password: "correct horse", Name: "Ada", Role: identity.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	c, err := store.CredentialByEmail(ctx, "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if cost, err := bcrypt.Cost([]byte(c.PasswordHash)); err != nil || cost < 10 || c.PasswordHash == "correct horse" {
		t.Fatalf("stored hash: cost %d err %v; want bcrypt cost >= 10", cost, err)
	}
	if _, err := p.Register(ctx, identity.Registration{Email: "ada@example.com", Password: "x", Name: "Ada2", Role: identity.RoleUser}); apperr.KindOf(err) != apperr.Conflict {
		t.Fatalf("duplicate register: got %v, want Conflict", err)
	}

	tok, err := p.Authenticate(ctx, "ada@example.com", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	claims, err := localidp.NewVerifier(&key.PublicKey, "iss", "aud", func() time.Time { return now }).Verify(tok.IDToken)
	if err != nil {
		t.Fatalf("verify own token: %v", err)
	}
	if claims["sub"] != sub || claims["email"] != "ada@example.com" || claims["custom:role"] != "USER" || claims["token_use"] != "id" {
		t.Fatalf("claims: got %v", claims)
	}
	if !tok.ExpiresAt.Equal(now.UTC().Truncate(time.Second).Add(time.Hour)) || tok.ExpiresIn != 3600 {
		t.Errorf("expiry: got %v / %d", tok.ExpiresAt, tok.ExpiresIn)
	}
	// The verifier rejects the token an hour later, like API Gateway.
	if _, err := localidp.NewVerifier(&key.PublicKey, "iss", "aud", func() time.Time { return now.Add(61 * time.Minute) }).Verify(tok.IDToken); err == nil {
		t.Error("expired token accepted")
	}

	for _, c := range []struct{ email, password string }{{"ada@example.com", "wrong horse"}, {"nobody@example.com", "correct horse"}} {
		_, err := p.Authenticate(ctx, c.email, c.password)
		if e, ok := apperr.As(err); !ok || e.Kind != apperr.Unauthorized || e.Message != "invalid email or password" {
			t.Errorf("%s/%s: got %v, want the one Unauthorized message", c.email, c.password, err)
		}
	}

	if err := p.SetRole(ctx, sub, identity.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	tok, _ = p.Authenticate(ctx, "ada@example.com", "correct horse")
	mc := jwt.MapClaims{}
	_, _, _ = jwt.NewParser().ParseUnverified(tok.IDToken, mc)
	if mc["custom:role"] != "ADMIN" {
		t.Errorf("role after SetRole: got %v, want ADMIN", mc["custom:role"])
	}

	if err := p.Unregister(ctx, sub); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Authenticate(ctx, "ada@example.com", "correct horse"); apperr.KindOf(err) != apperr.Unauthorized {
		t.Errorf("after unregister: got %v, want Unauthorized", err)
	}
}

func TestCostBelowMinimumRejected(t *testing.T) {
	key, _ := localidp.LoadOrCreateKey(filepath.Join(t.TempDir(), "k.pem"))
	if _, err := localidp.New(nil, localidp.Config{Key: key, Cost: 4}); err == nil {
		t.Fatal("bcrypt cost 4 accepted; the specification requires >= 10")
	}
}
