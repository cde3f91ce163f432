package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/httpapi"
	"github.com/brightrun/brightrun/pkg/jwtauth"
	"github.com/brightrun/brightrun/pkg/localidp"
)

// StreamLeeway is the clock skew tolerated on exp, nbf and iat. Lambda and
// Cognito keep NTP time; this covers a token used the second it is issued
// by a clock slightly ahead, and extends a 1 h token by a negligible 30 s.
const StreamLeeway = 30 * time.Second

// StreamTokenQuery is the query parameter that may carry the token: a
// browser's EventSource cannot set an Authorization header.
const StreamTokenQuery = "access_token"

// StreamAuth authenticates callers of the job event stream. That route is
// served by a Lambda Function URL (API Gateway's HTTP API cannot stream
// responses), and a Function URL has no JWT authorizer, so the function
// verifies the token itself, with the checks the authorizer makes for
// every other route.
type StreamAuth struct {
	verifier *jwtauth.Verifier
}

// StreamAuth builds the authenticator once, at cold start. Cognito: the
// pool's JWKS is fetched now (an unreachable endpoint fails the cold start)
// through the SDK's HTTP client, and again for an unknown kid at most once
// a minute. Local: the local identity provider's key file, the same one
// the log-in function signs with. Either way only ID tokens are accepted
// (token_use "id"): Cognito's access tokens carry neither the email nor
// the role claim.
func (a *App) StreamAuth(ctx context.Context) (*StreamAuth, error) {
	c := jwtauth.Config{TokenUse: "id", Leeway: StreamLeeway}
	switch a.Config.IdentityProvider {
	case ProviderLocal:
		// LoadOrCreateKey, as Identity does: every local function shares
		// the file, and O_EXCL creation keeps them on one key.
		key, err := localidp.LoadOrCreateKey(a.Config.LocalKeyFile)
		if err != nil {
			return nil, fmt.Errorf("stream auth: %w", err)
		}
		c.Keys = jwtauth.StaticKeys{localidp.KeyID(&key.PublicKey): &key.PublicKey}
		c.Issuer, c.Audience = a.Config.LocalIssuer, a.Config.LocalAudience
	case ProviderCognito:
		if a.AWS.Region == "" {
			return nil, errors.New("stream auth: no AWS region for the Cognito issuer")
		}
		c.Issuer = CognitoIssuer(a.AWS.Region, a.Config.CognitoPoolID)
		c.Audience = a.Config.CognitoClientID
		keys, err := jwtauth.NewJWKS(ctx, c.Issuer+"/.well-known/jwks.json", jwtauth.JWKSOptions{Client: a.AWS.HTTPClient})
		if err != nil {
			return nil, fmt.Errorf("stream auth: %w", err)
		}
		c.Keys = keys
	default:
		return nil, fmt.Errorf("stream auth: unknown identity provider %q", a.Config.IdentityProvider)
	}
	v, err := jwtauth.New(c)
	if err != nil {
		return nil, fmt.Errorf("stream auth: %w", err)
	}
	return &StreamAuth{verifier: v}, nil
}

// CognitoIssuer is the iss of a user pool's tokens; its JWKS is at
// <issuer>/.well-known/jwks.json. infra's JWT authorizer uses the same.
func CognitoIssuer(region, poolID string) string {
	return fmt.Sprintf("https://cognito-idp.%s.amazonaws.com/%s", region, poolID)
}

// Caller verifies the request's token and returns the caller as API
// Gateway handlers see it (httpapi.CallerFromClaims). The token is the
// Authorization header ("Bearer <jwt>", or the bare token as API Gateway
// also accepts) or else the access_token query parameter; a non-empty
// header wins, even when it is wrong and the query is right, so one request
// never carries two identities. Every failure is the same Unauthorized
// error (401 UNAUTHORIZED "authentication required"); the reason is in its
// cause, for the log only.
func (s *StreamAuth) Caller(ctx context.Context, req events.LambdaFunctionURLRequest) (httpapi.Caller, error) {
	tok := streamToken(req)
	if tok == "" {
		return httpapi.Caller{}, unauthorized(errors.New("no token"))
	}
	claims, err := s.verifier.Verify(ctx, tok)
	if err != nil {
		return httpapi.Caller{}, unauthorized(err)
	}
	c, ok := httpapi.CallerFromClaims(claims)
	if !ok {
		return httpapi.Caller{}, unauthorized(errors.New("token has no subject"))
	}
	return c, nil
}

// streamToken finds the token. Function URLs lower-case header names, but
// a test event or another front may not.
func streamToken(req events.LambdaFunctionURLRequest) string {
	var h string
	for k, v := range req.Headers {
		if strings.EqualFold(k, "Authorization") {
			h = strings.TrimSpace(v)
			break
		}
	}
	if h != "" {
		if len(h) > len("Bearer ") && strings.EqualFold(h[:len("Bearer ")], "Bearer ") {
			return strings.TrimSpace(h[len("Bearer "):])
		}
		return h
	}
	return strings.TrimSpace(req.QueryStringParameters[StreamTokenQuery])
}

func unauthorized(cause error) error {
	e := apperr.New(apperr.Unauthorized, "authentication required")
	e.Err = cause
	return e
}
