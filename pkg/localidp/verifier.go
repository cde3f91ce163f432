package localidp

import (
	"context"
	"crypto/rsa"
	"fmt"
	"time"

	"github.com/brightrun/brightrun/pkg/jwtauth"
)

// Verifier checks a bearer token as API Gateway's JWT authorizer does:
// RS256 signature by a known kid, the issuer, the audience (aud or
// client_id), exp and nbf; iat must not be in the future. The checks live
// in pkg/jwtauth, shared with the stream function, which verifies tokens
// itself; this type keeps the context-free Verify the gateway calls.
type Verifier struct {
	v   *jwtauth.Verifier
	err error // a configuration error: every token is then rejected
}

// NewVerifier trusts pub for tokens from issuer to audience. An empty
// issuer or audience makes a Verifier that rejects every token (fail
// closed), where it used to skip the check.
func NewVerifier(pub *rsa.PublicKey, issuer, audience string, now func() time.Time) *Verifier {
	v, err := jwtauth.New(jwtauth.Config{
		Keys:     jwtauth.StaticKeys{KeyID(pub): pub},
		Issuer:   issuer,
		Audience: audience,
		Now:      now,
	})
	return &Verifier{v: v, err: err}
}

// ErrInvalidToken is every verification failure; the gateway answers 401
// without saying why, as API Gateway does. It is jwtauth's, so errors.Is
// works with either name.
var ErrInvalidToken = jwtauth.ErrInvalidToken

// Verify returns the claims flattened to strings, as API Gateway passes
// them in requestContext.authorizer.jwt.claims.
func (v *Verifier) Verify(token string) (map[string]string, error) {
	if v.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, v.err)
	}
	// Static keys never fetch, so there is nothing for a context to bound.
	return v.v.Verify(context.Background(), token)
}
