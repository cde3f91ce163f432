package localidp

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Verifier checks a bearer token as API Gateway's JWT authorizer does:
// RS256 signature by a known kid, the issuer, the audience (aud or
// client_id), exp and nbf; iat must not be in the future.
type Verifier struct {
	keys     map[string]*rsa.PublicKey
	issuer   string
	audience string
	now      func() time.Time
}

// NewVerifier trusts pub for tokens from issuer to audience.
func NewVerifier(pub *rsa.PublicKey, issuer, audience string, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	return &Verifier{keys: map[string]*rsa.PublicKey{KeyID(pub): pub}, issuer: issuer, audience: audience, now: now}
}

// ErrInvalidToken is every verification failure; the gateway answers 401
// without saying why, as API Gateway does.
var ErrInvalidToken = errors.New("invalid token")

// Verify returns the claims flattened to strings, as API Gateway passes
// them in requestContext.authorizer.jwt.claims.
func (v *Verifier) Verify(token string) (map[string]string, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		k, ok := v.keys[kid]
		if !ok {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		return k, nil
	},
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(v.issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(v.now),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if !v.audienceMatches(claims) {
		return nil, fmt.Errorf("%w: audience", ErrInvalidToken)
	}
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
	return out, nil
}

func (v *Verifier) audienceMatches(c jwt.MapClaims) bool {
	if cid, _ := c["client_id"].(string); cid == v.audience {
		return true
	}
	aud, _ := c.GetAudience()
	for _, a := range aud {
		if a == v.audience {
			return true
		}
	}
	return false
}
