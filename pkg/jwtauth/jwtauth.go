// Package jwtauth verifies bearer tokens the way API Gateway's JWT
// authorizer does, for the places that have no authorizer in front of
// them: the local gateway (through localidp.NewVerifier) and the Function
// URL of the job event stream, which must check Cognito's tokens itself.
// Keys come from a fixed set (the local identity provider's key file) or a
// JWKS document fetched over HTTPS (Cognito's user pool). It imports no
// AWS SDK: the domain of a token is the JOSE specs, not an AWS service.
package jwtauth

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrInvalidToken is every verification failure. Callers answer 401
// without saying why, as API Gateway does: the reason helps an attacker
// more than a legitimate client, which can only log in again.
var ErrInvalidToken = errors.New("invalid token")

// ErrUnknownKey is what a KeySource returns for a kid it does not hold.
var ErrUnknownKey = errors.New("unknown key id")

// KeySource finds the public key a token names in its kid header. The
// context bounds any fetch the lookup needs (a JWKS refetch).
type KeySource interface {
	Key(ctx context.Context, kid string) (*rsa.PublicKey, error)
}

// StaticKeys is a fixed key set by kid.
type StaticKeys map[string]*rsa.PublicKey

// Key implements KeySource.
func (s StaticKeys) Key(_ context.Context, kid string) (*rsa.PublicKey, error) {
	if k, ok := s[kid]; ok && k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownKey, kid)
}

// Config configures a Verifier.
type Config struct {
	Keys     KeySource
	Issuer   string // the exact iss (Cognito: https://cognito-idp.<region>.amazonaws.com/<poolId>)
	Audience string // matched against aud, or client_id (Cognito: the app client id)
	// TokenUse, if set, must equal the token_use claim. Cognito signs ID
	// and access tokens with the same keys and client; only this claim
	// tells them apart. API Gateway does not check it; "" leaves it so.
	TokenUse string
	// Leeway tolerates clock skew on exp, nbf and iat. 0 is none, which is
	// what the local gateway has always done.
	Leeway time.Duration
	Now    func() time.Time // nil means time.Now
}

// Verifier checks a bearer token: RS256 signature by a key its kid names,
// the issuer, the audience (aud or client_id), exp (required), nbf, iat not
// in the future, and token_use if configured.
type Verifier struct {
	c Config
}

// New returns a Verifier. An empty issuer or audience is an error rather
// than "any": the JWT library skips the issuer check for "", and an empty
// audience would match a token that has no client_id.
func New(c Config) (*Verifier, error) {
	switch {
	case c.Keys == nil:
		return nil, errors.New("jwtauth: no key source")
	case c.Issuer == "":
		return nil, errors.New("jwtauth: empty issuer")
	case c.Audience == "":
		return nil, errors.New("jwtauth: empty audience")
	case c.Leeway < 0:
		return nil, errors.New("jwtauth: negative leeway")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Verifier{c: c}, nil
}

// Verify returns the claims flattened to strings, as API Gateway passes
// them to a function in requestContext.authorizer.jwt.claims, so a caller
// reads the same map whichever provider signed the token. Every failure
// wraps ErrInvalidToken.
func (v *Verifier) Verify(ctx context.Context, token string) (map[string]string, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		// Checked before the key lookup, which may fetch the JWKS: a token
		// of another issuer must not cost a request. The validator checks
		// the issuer again after the signature.
		if iss, _ := t.Claims.GetIssuer(); iss != v.c.Issuer {
			return nil, errors.New("issuer")
		}
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("no kid")
		}
		k, err := v.c.Keys.Key(ctx, kid)
		if err != nil {
			return nil, err
		}
		return k, nil
	},
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(v.c.Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(v.c.Leeway),
		jwt.WithTimeFunc(v.c.Now),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if !v.audienceMatches(claims) {
		return nil, fmt.Errorf("%w: audience", ErrInvalidToken)
	}
	if v.c.TokenUse != "" {
		if use, _ := claims["token_use"].(string); use != v.c.TokenUse {
			return nil, fmt.Errorf("%w: token_use %q", ErrInvalidToken, use)
		}
	}
	return flatten(claims), nil
}

// audienceMatches accepts aud (ID tokens) or client_id (access tokens,
// which have no aud), as API Gateway's JWT authorizer does.
func (v *Verifier) audienceMatches(c jwt.MapClaims) bool {
	if cid, _ := c["client_id"].(string); cid == v.c.Audience {
		return true
	}
	aud, _ := c.GetAudience()
	for _, a := range aud {
		if a == v.c.Audience {
			return true
		}
	}
	return false
}

// flatten renders every claim as a string; numbers without exponent, so
// exp reads "1700000000", not "1.7e+09".
func flatten(claims jwt.MapClaims) map[string]string {
	out := make(map[string]string, len(claims))
	for k, val := range claims {
		switch x := val.(type) {
		case string:
			out[k] = x
		case float64:
			out[k] = strconv.FormatFloat(x, 'f', -1, 64)
		default:
			out[k] = fmt.Sprint(x)
		}
	}
	return out
}
