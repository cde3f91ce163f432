package jwtauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brightrun/brightrun/pkg/jwtauth"
)

// rsaJWK is a key as Cognito publishes it.
func rsaJWK(kid string, pub *rsa.PublicKey) map[string]string {
	return map[string]string{
		"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}
}

func ecJWK(kid string) map[string]string {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return map[string]string{
		"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
		"x": base64.RawURLEncoding.EncodeToString(k.X.FillBytes(make([]byte, 32))),
		"y": base64.RawURLEncoding.EncodeToString(k.Y.FillBytes(make([]byte, 32))),
	}
}

func jwksDoc(keys ...map[string]string) []byte {
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		panic(err)
	}
	return b
}

// jwkWith is m with member k set to v, or removed if v is "".
func jwkWith(m map[string]string, k, v string) map[string]string {
	out := maps.Clone(m)
	if v == "" {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

func TestParseJWKS(t *testing.T) {
	weak := mustKey(1024)
	k1 := rsaJWK("k1", &key1.PublicKey)
	tests := []struct {
		name     string
		doc      []byte
		wantKids []string // nil: an error
	}{
		{"one RSA key", jwksDoc(k1), []string{"k1"}},
		{"two RSA keys (rotation)", jwksDoc(k1, rsaJWK("k2", &key2.PublicKey)), []string{"k1", "k2"}},
		{"use and alg omitted", jwksDoc(jwkWith(jwkWith(k1, "use", ""), "alg", "")), []string{"k1"}},
		{"EC key ignored", jwksDoc(ecJWK("ec1"), k1), []string{"k1"}},
		{"encryption key ignored", jwksDoc(jwkWith(rsaJWK("enc", &key2.PublicKey), "use", "enc"), k1), []string{"k1"}},
		{"RS512 key ignored", jwksDoc(jwkWith(rsaJWK("rs512", &key2.PublicKey), "alg", "RS512"), k1), []string{"k1"}},
		{"key without kid ignored", jwksDoc(jwkWith(rsaJWK("x", &key2.PublicKey), "kid", ""), k1), []string{"k1"}},
		{"1024-bit key ignored", jwksDoc(rsaJWK("weak", &weak.PublicKey), k1), []string{"k1"}},
		{"padded base64 ignored", jwksDoc(jwkWith(rsaJWK("pad", &key2.PublicKey), "e", "AQAB=="), k1), []string{"k1"}},
		{"even exponent ignored", jwksDoc(jwkWith(rsaJWK("even", &key2.PublicKey), "e", "AQAA"), k1), []string{"k1"}},
		{"exponent 1 ignored", jwksDoc(jwkWith(rsaJWK("one", &key2.PublicKey), "e", "AQ"), k1), []string{"k1"}},
		{"exponent too long ignored", jwksDoc(jwkWith(rsaJWK("long", &key2.PublicKey), "e", "AQAAAAE"), k1), []string{"k1"}},
		{"duplicate kid dropped", jwksDoc(rsaJWK("dup", &key2.PublicKey), k1, rsaJWK("dup", &key3.PublicKey)), []string{"k1"}},

		{"only an EC key", jwksDoc(ecJWK("ec1")), nil},
		{"no keys", []byte(`{"keys":[]}`), nil},
		{"no keys member", []byte(`{}`), nil},
		{"not JSON", []byte(`<html>`), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := jwtauth.ParseJWKS(tt.doc)
			if tt.wantKids == nil {
				if err == nil {
					t.Fatalf("got keys %v, want an error", slices.Sorted(maps.Keys(keys)))
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want kids %v", err, tt.wantKids)
			}
			if got := slices.Sorted(maps.Keys(keys)); !slices.Equal(got, tt.wantKids) {
				t.Fatalf("kids: got %v, want %v", got, tt.wantKids)
			}
			if k1 := keys["k1"]; k1 != nil && !k1.Equal(&key1.PublicKey) {
				t.Errorf("k1: got a different key than published")
			}
		})
	}
}

// jwksServer serves a JWKS document over loopback HTTPS and counts fetches.
type jwksServer struct {
	*httptest.Server
	mu     sync.Mutex
	doc    []byte
	status int
	hits   atomic.Int32
}

func newJWKSServer(t *testing.T, doc []byte) *jwksServer {
	s := &jwksServer{doc: doc, status: http.StatusOK}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		doc, status := s.doc, s.status
		s.mu.Unlock()
		if r.URL.Path != "/.well-known/jwks.json" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(doc)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) publish(doc []byte, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.doc, s.status = doc, status
}

func (s *jwksServer) jwksURL() string { return s.URL + "/.well-known/jwks.json" }

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func TestJWKSColdStart(t *testing.T) {
	good := jwksDoc(rsaJWK("k1", &key1.PublicKey))
	tests := []struct {
		name    string
		setup   func(t *testing.T) (url string, client jwtauth.Doer)
		wantErr string // "" means the key set loads
	}{
		{"ok", func(t *testing.T) (string, jwtauth.Doer) {
			s := newJWKSServer(t, good)
			return s.jwksURL(), s.Client()
		}, ""},
		{"status 500", func(t *testing.T) (string, jwtauth.Doer) {
			s := newJWKSServer(t, good)
			s.publish([]byte("oops"), http.StatusInternalServerError)
			return s.jwksURL(), s.Client()
		}, "status 500"},
		{"not found", func(t *testing.T) (string, jwtauth.Doer) {
			s := newJWKSServer(t, good)
			return s.URL + "/elsewhere", s.Client()
		}, "status 404"},
		{"no usable key", func(t *testing.T) (string, jwtauth.Doer) {
			s := newJWKSServer(t, jwksDoc(ecJWK("ec1")))
			return s.jwksURL(), s.Client()
		}, "no usable RSA signing key"},
		{"endpoint down", func(t *testing.T) (string, jwtauth.Doer) {
			s := newJWKSServer(t, good)
			url, client := s.jwksURL(), s.Client()
			s.Close()
			return url, client
		}, "fetch"},
		{"untrusted certificate", func(t *testing.T) (string, jwtauth.Doer) {
			s := newJWKSServer(t, good)
			return s.jwksURL(), &http.Client{}
		}, "certificate"},
		{"plain http refused", func(t *testing.T) (string, jwtauth.Doer) {
			s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(good) }))
			t.Cleanup(s.Close)
			return s.URL + "/.well-known/jwks.json", s.Client()
		}, "not an https URL"},
		{"too large", func(t *testing.T) (string, jwtauth.Doer) {
			s := newJWKSServer(t, nil)
			s.publish([]byte(`{"keys":[],"pad":"`+strings.Repeat("x", 300<<10)+`"}`), http.StatusOK)
			return s.jwksURL(), s.Client()
		}, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, client := tt.setup(t)
			j, err := jwtauth.NewJWKS(context.Background(), url, jwtauth.JWKSOptions{Client: client})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want the key set", err)
				}
				if _, err := j.Key(context.Background(), "k1"); err != nil {
					t.Errorf("k1 after cold start: got %v, want the key", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestJWKSFetchTimeout: a hanging endpoint fails the cold start after the
// timeout instead of eating the whole init phase.
func TestJWKSFetchTimeout(t *testing.T) {
	release := make(chan struct{})
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(release) }) // runs first: lets Close finish
	start := time.Now()
	_, err := jwtauth.NewJWKS(context.Background(), s.URL, jwtauth.JWKSOptions{Client: s.Client(), Timeout: 100 * time.Millisecond})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v, want about the 100ms timeout", d)
	}
}

// TestJWKSRotation walks one function instance through a key rotation: an
// unknown kid refetches, at most once per minute (the cold-start fetch
// counts), and the refetched set replaces the old one.
func TestJWKSRotation(t *testing.T) {
	t0 := now
	clk := &clock{t: t0}
	srv := newJWKSServer(t, jwksDoc(rsaJWK("k1", &key1.PublicKey)))
	j, err := jwtauth.NewJWKS(context.Background(), srv.jwksURL(), jwtauth.JWKSOptions{Client: srv.Client(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	c := cognitoConfig(j)
	c.Now = clk.Now
	v := newVerifier(t, c)
	keyOf := map[string]*rsa.PrivateKey{"k1": key1, "k2": key2, "k3": key3}

	steps := []struct {
		name     string
		at       time.Duration // since cold start
		publish  []byte        // nil: leave the document as it is
		kid      string
		wantOK   bool
		wantHits int32
	}{
		{"cold start key, no fetch", 0, nil, "k1", true, 1},
		{"unknown kid within the first minute: no fetch", 30 * time.Second, nil, "k2", false, 1},
		{"rotated to k2 (k1 retired), a minute on: one refetch", 2 * time.Minute,
			jwksDoc(rsaJWK("k2", &key2.PublicKey)), "k2", true, 2},
		{"k2 again: no fetch", 2*time.Minute + time.Second, nil, "k2", true, 2},
		{"retired k1 rejected, no fetch within the minute", 2*time.Minute + 2*time.Second, nil, "k1", false, 2},
		{"k3 published, but within the minute: no fetch", 2*time.Minute + 59*time.Second,
			jwksDoc(rsaJWK("k2", &key2.PublicKey), rsaJWK("k3", &key3.PublicKey)), "k3", false, 2},
		{"k3 once the minute is over: refetch", 3*time.Minute + time.Second, nil, "k3", true, 3},
		{"k2 still there", 3*time.Minute + 2*time.Second, nil, "k2", true, 3},
	}
	for _, s := range steps {
		clk.Set(t0.Add(s.at))
		if s.publish != nil {
			srv.publish(s.publish, http.StatusOK)
		}
		tok := sign(t, keyOf[s.kid], s.kid, with(with(idClaims(), "iat", clk.Now().Unix()), "exp", clk.Now().Add(time.Hour).Unix()))
		_, err := v.Verify(context.Background(), tok)
		if gotOK := err == nil; gotOK != s.wantOK {
			t.Errorf("%s: got error %v, want accepted=%v", s.name, err, s.wantOK)
		}
		if got := srv.hits.Load(); got != s.wantHits {
			t.Errorf("%s: fetches: got %d, want %d", s.name, got, s.wantHits)
		}
	}
}

// TestJWKSFailedRefetch: a failing endpoint keeps the keys already known,
// and the failed attempt counts toward the rate limit (no hammering).
func TestJWKSFailedRefetch(t *testing.T) {
	clk := &clock{t: now}
	srv := newJWKSServer(t, jwksDoc(rsaJWK("k1", &key1.PublicKey)))
	j, err := jwtauth.NewJWKS(context.Background(), srv.jwksURL(), jwtauth.JWKSOptions{Client: srv.Client(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	srv.publish([]byte("unavailable"), http.StatusServiceUnavailable)
	clk.Set(now.Add(2 * time.Minute))
	if _, err := j.Key(ctx, "k2"); !errors.Is(err, jwtauth.ErrUnknownKey) || !strings.Contains(err.Error(), "status 503") {
		t.Errorf("k2 while the endpoint fails: got %v, want ErrUnknownKey with the fetch error", err)
	}
	if got := srv.hits.Load(); got != 2 {
		t.Errorf("fetches: got %d, want 2", got)
	}
	if _, err := j.Key(ctx, "k1"); err != nil {
		t.Errorf("k1 after a failed refetch: got %v, want the key kept", err)
	}
	srv.publish(jwksDoc(rsaJWK("k1", &key1.PublicKey), rsaJWK("k2", &key2.PublicKey)), http.StatusOK)
	clk.Set(now.Add(2*time.Minute + 30*time.Second))
	if _, err := j.Key(ctx, "k2"); !errors.Is(err, jwtauth.ErrUnknownKey) {
		t.Errorf("k2 within a minute of the failed attempt: got %v, want ErrUnknownKey", err)
	}
	if got := srv.hits.Load(); got != 2 {
		t.Errorf("fetches after the failed attempt: got %d, want 2", got)
	}
}

// TestJWKSConcurrentUnknownKid: many requests naming a new kid at once
// cause one fetch, and all of them get the key.
func TestJWKSConcurrentUnknownKid(t *testing.T) {
	clk := &clock{t: now}
	srv := newJWKSServer(t, jwksDoc(rsaJWK("k1", &key1.PublicKey)))
	j, err := jwtauth.NewJWKS(context.Background(), srv.jwksURL(), jwtauth.JWKSOptions{Client: srv.Client(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv.publish(jwksDoc(rsaJWK("k1", &key1.PublicKey), rsaJWK("k2", &key2.PublicKey)), http.StatusOK)
	clk.Set(now.Add(2 * time.Minute))
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := j.Key(context.Background(), "k2"); err != nil {
				failed.Add(1)
			}
			if _, err := j.Key(context.Background(), "k1"); err != nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Errorf("failed lookups: got %d, want 0", n)
	}
	if got := srv.hits.Load(); got != 2 {
		t.Errorf("fetches: got %d, want 2 (cold start and one refetch)", got)
	}
}
