package jwtauth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"maps"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/brightrun/brightrun/pkg/jwtauth"
)

const (
	issuer   = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Test"
	audience = "client-123"
)

var (
	now = time.Unix(1_700_000_000, 0)
	// Test keys, made once: 2048-bit generation is the slow part.
	key1, key2, key3 = mustKey(2048), mustKey(2048), mustKey(2048)
)

func mustKey(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

// idClaims are those of a valid Cognito ID token at now.
func idClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"sub":              "user-123",
		"email":            "ada@example.com",
		"custom:role":      "ADMIN",
		"cognito:username": "ada@example.com",
		"token_use":        "id",
		"iss":              issuer,
		"aud":              audience,
		"auth_time":        now.Add(-time.Minute).Unix(),
		"iat":              now.Add(-time.Minute).Unix(),
		"exp":              now.Add(time.Hour).Unix(),
	}
}

func with(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	c = maps.Clone(c)
	if v == nil {
		delete(c, k)
	} else {
		c[k] = v
	}
	return c
}

func sign(t *testing.T, key *rsa.PrivateKey, kid string, c jwt.MapClaims) string {
	t.Helper()
	return signWith(t, jwt.SigningMethodRS256, key, kid, c)
}

func signWith(t *testing.T, m jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newVerifier(t *testing.T, c jwtauth.Config) *jwtauth.Verifier {
	t.Helper()
	v, err := jwtauth.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func cognitoConfig(keys jwtauth.KeySource) jwtauth.Config {
	return jwtauth.Config{Keys: keys, Issuer: issuer, Audience: audience, TokenUse: "id", Leeway: 30 * time.Second,
		Now: func() time.Time { return now }}
}

func TestVerify(t *testing.T) {
	v := newVerifier(t, cognitoConfig(jwtauth.StaticKeys{"k1": &key1.PublicKey, "k2": &key2.PublicKey}))
	valid := sign(t, key1, "k1", idClaims())
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"someone-else","iss":"`+issuer+`","aud":"`+audience+`","token_use":"id","exp":9999999999}`)) + "." + parts[2]
	hs256 := func() string {
		// The classic confusion: HMAC keyed with the RSA public key.
		pub, err := x509.MarshalPKIXPublicKey(&key1.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return signWith(t, jwt.SigningMethodHS256, pub, "k1", idClaims())
	}()
	none := signWith(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "k1", idClaims())

	tests := []struct {
		name   string
		token  string
		wantOK bool
	}{
		{"valid", valid, true},
		{"second key of the set", sign(t, key2, "k2", idClaims()), true},
		{"audience in a list", sign(t, key1, "k1", with(idClaims(), "aud", []string{"x", audience})), true},
		{"audience as client_id", sign(t, key1, "k1", with(with(idClaims(), "aud", nil), "client_id", audience)), true},
		{"expired within the leeway", sign(t, key1, "k1", with(idClaims(), "exp", now.Add(-29*time.Second).Unix())), true},
		{"nbf within the leeway", sign(t, key1, "k1", with(idClaims(), "nbf", now.Add(29*time.Second).Unix())), true},
		{"iat within the leeway", sign(t, key1, "k1", with(idClaims(), "iat", now.Add(29*time.Second).Unix())), true},

		{"empty", "", false},
		{"garbage", "not.a.jwt", false},
		{"payload tampered", tampered, false},
		{"bad signature: another key under our kid", sign(t, key3, "k1", idClaims()), false},
		{"signed by k2, names k1", sign(t, key2, "k1", idClaims()), false},
		{"unknown kid", sign(t, key3, "k3", idClaims()), false},
		{"no kid", sign(t, key1, "", idClaims()), false},
		{"wrong issuer", sign(t, key1, "k1", with(idClaims(), "iss", "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other")), false},
		{"no issuer", sign(t, key1, "k1", with(idClaims(), "iss", nil)), false},
		{"wrong audience", sign(t, key1, "k1", with(idClaims(), "aud", "another-client")), false},
		{"no audience", sign(t, key1, "k1", with(idClaims(), "aud", nil)), false},
		{"empty audience", sign(t, key1, "k1", with(idClaims(), "aud", "")), false},
		{"access token", sign(t, key1, "k1", with(with(with(idClaims(), "aud", nil), "client_id", audience), "token_use", "access")), false},
		{"no token_use", sign(t, key1, "k1", with(idClaims(), "token_use", nil)), false},
		{"expired beyond the leeway", sign(t, key1, "k1", with(idClaims(), "exp", now.Add(-31*time.Second).Unix())), false},
		{"no exp", sign(t, key1, "k1", with(idClaims(), "exp", nil)), false},
		{"nbf beyond the leeway", sign(t, key1, "k1", with(idClaims(), "nbf", now.Add(31*time.Second).Unix())), false},
		{"iat beyond the leeway", sign(t, key1, "k1", with(idClaims(), "iat", now.Add(31*time.Second).Unix())), false},
		{"alg none", none, false},
		{"HS256 keyed with the public key", hs256, false},
		{"RS512", signWith(t, jwt.SigningMethodRS512, key1, "k1", idClaims()), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims, err := v.Verify(context.Background(), tt.token)
			if tt.wantOK {
				if err != nil {
					t.Fatalf("got %v, want the token accepted", err)
				}
				if claims["sub"] != "user-123" {
					t.Errorf("sub: got %q, want user-123", claims["sub"])
				}
				return
			}
			if !errors.Is(err, jwtauth.ErrInvalidToken) {
				t.Fatalf("got claims %v, error %v; want ErrInvalidToken", claims, err)
			}
			if claims != nil {
				t.Errorf("claims with an error: got %v, want nil", claims)
			}
		})
	}
}

// TestClaimsFlattened: the map is what API Gateway hands a function, so a
// caller reads the same strings whichever provider signed the token.
func TestClaimsFlattened(t *testing.T) {
	v := newVerifier(t, cognitoConfig(jwtauth.StaticKeys{"k1": &key1.PublicKey}))
	got, err := v.Verify(context.Background(), sign(t, key1, "k1", idClaims()))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"sub": "user-123", "email": "ada@example.com", "custom:role": "ADMIN", "cognito:username": "ada@example.com",
		"token_use": "id", "iss": issuer, "aud": audience,
		"auth_time": strconv.FormatInt(now.Add(-time.Minute).Unix(), 10),
		"iat":       strconv.FormatInt(now.Add(-time.Minute).Unix(), 10),
		"exp":       strconv.FormatInt(now.Add(time.Hour).Unix(), 10),
	}
	if !maps.Equal(got, want) {
		t.Errorf("claims:\ngot  %v\nwant %v", got, want)
	}
}

// TestTokenUseOptional: without TokenUse the verifier is API Gateway's
// authorizer, which accepts access tokens by client_id.
func TestTokenUseOptional(t *testing.T) {
	c := cognitoConfig(jwtauth.StaticKeys{"k1": &key1.PublicKey})
	c.TokenUse = ""
	v := newVerifier(t, c)
	access := sign(t, key1, "k1", with(with(with(idClaims(), "aud", nil), "client_id", audience), "token_use", "access"))
	if _, err := v.Verify(context.Background(), access); err != nil {
		t.Errorf("access token without a token_use check: got %v, want accepted", err)
	}
}

// countingKeys counts lookups, to show which tokens reach the key source.
type countingKeys struct {
	jwtauth.StaticKeys
	n atomic.Int32
}

func (c *countingKeys) Key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	c.n.Add(1)
	return c.StaticKeys.Key(ctx, kid)
}

// TestIssuerCheckedBeforeKeyLookup: a JWKS lookup of an unknown kid may
// fetch; a token of another issuer must not get that far.
func TestIssuerCheckedBeforeKeyLookup(t *testing.T) {
	tests := []struct {
		name        string
		claims      jwt.MapClaims
		wantLookups int32
	}{
		{"our issuer", idClaims(), 1},
		{"another issuer", with(idClaims(), "iss", "https://evil.example.com"), 0},
		{"no issuer", with(idClaims(), "iss", nil), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := &countingKeys{StaticKeys: jwtauth.StaticKeys{"k1": &key1.PublicKey}}
			v := newVerifier(t, cognitoConfig(keys))
			_, _ = v.Verify(context.Background(), sign(t, key3, "unknown", tt.claims))
			if got := keys.n.Load(); got != tt.wantLookups {
				t.Errorf("key lookups: got %d, want %d", got, tt.wantLookups)
			}
		})
	}
}

func TestNewRejectsIncompleteConfig(t *testing.T) {
	keys := jwtauth.StaticKeys{"k1": &key1.PublicKey}
	tests := []struct {
		name    string
		c       jwtauth.Config
		wantErr string
	}{
		{"complete", jwtauth.Config{Keys: keys, Issuer: issuer, Audience: audience}, ""},
		{"no keys", jwtauth.Config{Issuer: issuer, Audience: audience}, "no key source"},
		{"no issuer", jwtauth.Config{Keys: keys, Audience: audience}, "empty issuer"},
		{"no audience", jwtauth.Config{Keys: keys, Issuer: issuer}, "empty audience"},
		{"negative leeway", jwtauth.Config{Keys: keys, Issuer: issuer, Audience: audience, Leeway: -time.Second}, "negative leeway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := jwtauth.New(tt.c)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
