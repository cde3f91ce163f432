package jwtauth

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"sync"
	"time"
)

const (
	// DefaultFetchTimeout bounds one JWKS request. The first runs in the
	// Lambda init phase (10 s in all), later ones inside a request.
	DefaultFetchTimeout = 5 * time.Second
	// DefaultRefetchInterval is the least time between two fetches. An
	// unknown kid refetches (the pool rotated its keys), but anyone can send
	// a token with a made-up kid, so at most one per interval reaches the
	// identity provider.
	DefaultRefetchInterval = time.Minute
	// MinRSABits is the smallest modulus accepted; Cognito's keys are 2048.
	MinRSABits = 2048
	// maxJWKSBytes bounds the document read; Cognito's is about 1 KiB.
	maxJWKSBytes = 256 << 10
)

// Doer sends an HTTP request. *http.Client is one, and so is the AWS SDK's
// aws.Config.HTTPClient, which carries the function's proxy and CA settings.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// JWKSOptions tune a JWKS. Zero values mean the defaults.
type JWKSOptions struct {
	Client          Doer          // nil means a plain http.Client
	Timeout         time.Duration // per fetch; DefaultFetchTimeout
	RefetchInterval time.Duration // DefaultRefetchInterval
	Now             func() time.Time
}

// JWKS is a KeySource backed by a JWKS document. It is fetched once when
// made (at cold start) and again only for an unknown kid, at most once per
// RefetchInterval. It is safe for concurrent use.
type JWKS struct {
	url     string
	client  Doer
	timeout time.Duration
	every   time.Duration
	now     func() time.Time

	mu   sync.RWMutex
	keys map[string]*rsa.PublicKey

	// fetchMu serialises fetches, so concurrent requests with a new kid
	// cause one fetch, and guards fetched.
	fetchMu sync.Mutex
	fetched time.Time // start of the last attempt, failed ones included
}

// NewJWKS fetches the document at rawURL, which must be https. An
// unreachable endpoint or a document without a usable key is an error: a
// function that cannot verify anyone should fail its cold start, not
// answer 401 to everyone.
func NewJWKS(ctx context.Context, rawURL string, o JWKSOptions) (*JWKS, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("jwks: %q is not an https URL", rawURL)
	}
	j := &JWKS{url: rawURL, client: o.Client, timeout: o.Timeout, every: o.RefetchInterval, now: o.Now}
	if j.client == nil {
		j.client = &http.Client{}
	}
	if j.timeout <= 0 {
		j.timeout = DefaultFetchTimeout
	}
	if j.every <= 0 {
		j.every = DefaultRefetchInterval
	}
	if j.now == nil {
		j.now = time.Now
	}
	j.fetchMu.Lock()
	defer j.fetchMu.Unlock()
	if err := j.refresh(ctx); err != nil {
		return nil, err
	}
	return j, nil
}

// Key implements KeySource.
func (j *JWKS) Key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	if k, ok := j.lookup(kid); ok {
		return k, nil
	}
	j.fetchMu.Lock()
	defer j.fetchMu.Unlock()
	// Another request may have fetched the new keys while this one waited.
	if k, ok := j.lookup(kid); ok {
		return k, nil
	}
	if j.now().Sub(j.fetched) < j.every {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, kid)
	}
	if err := j.refresh(ctx); err != nil {
		return nil, fmt.Errorf("%w %q: refetch: %v", ErrUnknownKey, kid, err)
	}
	if k, ok := j.lookup(kid); ok {
		return k, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownKey, kid)
}

func (j *JWKS) lookup(kid string) (*rsa.PublicKey, bool) {
	j.mu.RLock()
	defer j.mu.RUnlock()
	k, ok := j.keys[kid]
	return k, ok
}

// refresh fetches the document and replaces the key set; the caller holds
// fetchMu. Replacing (not merging) drops keys the provider retired. A
// failed fetch keeps the old set: a broken endpoint must not lock out
// tokens signed with keys still published a minute ago.
func (j *JWKS) refresh(ctx context.Context) error {
	j.fetched = j.now()
	ctx, cancel := context.WithTimeout(ctx, j.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	res, err := j.client.Do(req)
	if err != nil {
		return fmt.Errorf("jwks: fetch %s: %w", j.url, err)
	}
	defer func() { _ = res.Body.Close() }()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("jwks: fetch %s: status %d", j.url, res.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxJWKSBytes+1))
	if err != nil {
		return fmt.Errorf("jwks: read %s: %w", j.url, err)
	}
	if len(body) > maxJWKSBytes {
		return fmt.Errorf("jwks: %s is larger than %d bytes", j.url, maxJWKSBytes)
	}
	keys, err := ParseJWKS(body)
	if err != nil {
		return fmt.Errorf("jwks: %s: %w", j.url, err)
	}
	j.mu.Lock()
	j.keys = keys
	j.mu.Unlock()
	return nil
}

// jwk is one key of a JWKS document (RFC 7517); only RSA members are read.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// ParseJWKS returns the RSA signature keys of a JWKS document by kid. A key
// that is not one (another kty, use other than sig, alg other than RS256,
// no kid, a malformed or weak modulus or exponent) is skipped, not an
// error: a provider may publish keys we have no use for next to ours. A kid
// that appears twice is dropped, since a token naming it would be
// ambiguous. A document with no usable key is an error.
func ParseJWKS(doc []byte) (map[string]*rsa.PublicKey, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("not a JWKS document: %w", err)
	}
	keys := map[string]*rsa.PublicKey{}
	seen := map[string]bool{}
	for _, k := range set.Keys {
		if k.Kid == "" {
			continue
		}
		if seen[k.Kid] {
			delete(keys, k.Kid)
			continue
		}
		seen[k.Kid] = true
		if pub, err := k.rsaSigningKey(); err == nil {
			keys[k.Kid] = pub
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no usable RSA signing key")
	}
	return keys, nil
}

func (k jwk) rsaSigningKey() (*rsa.PublicKey, error) {
	switch {
	case k.Kty != "RSA":
		return nil, fmt.Errorf("kty %q", k.Kty)
	case k.Use != "" && k.Use != "sig":
		return nil, fmt.Errorf("use %q", k.Use)
	case k.Alg != "" && k.Alg != "RS256":
		return nil, fmt.Errorf("alg %q", k.Alg)
	}
	nb, err := base64.RawURLEncoding.DecodeString(k.N)
	if err != nil {
		return nil, fmt.Errorf("n: %w", err)
	}
	eb, err := base64.RawURLEncoding.DecodeString(k.E)
	if err != nil {
		return nil, fmt.Errorf("e: %w", err)
	}
	n := new(big.Int).SetBytes(nb)
	if n.BitLen() < MinRSABits {
		return nil, fmt.Errorf("modulus of %d bits", n.BitLen())
	}
	// The exponent must be odd, above 1 and below 2^31 (65537 in
	// practice); crypto/rsa refuses anything else at verification.
	if len(eb) == 0 || len(eb) > 4 {
		return nil, fmt.Errorf("exponent of %d bytes", len(eb))
	}
	e := new(big.Int).SetBytes(eb).Int64()
	if e < 3 || e%2 == 0 || e > 1<<31-1 {
		return nil, fmt.Errorf("exponent %d", e)
	}
	return &rsa.PublicKey{N: n, E: int(e)}, nil
}
