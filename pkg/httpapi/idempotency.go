package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/idempotency"
)

const maxKeyLength = 255

func (s *Server) idempotent(ctx context.Context, req *Request, run func(context.Context) (events.APIGatewayV2HTTPResponse, error)) (events.APIGatewayV2HTTPResponse, error) {
	key := req.Header(idempotency.Header)
	if key == "" {
		return run(ctx)
	}
	if len(key) > maxKeyLength || !printableASCII(key) {
		return events.APIGatewayV2HTTPResponse{}, FieldError(idempotency.Header, "must be 1 to 255 printable ASCII characters")
	}
	sum := sha256.Sum256([]byte(req.Event.RequestContext.HTTP.Method + " " + req.Event.RawPath + "\n" + string(req.body)))
	fp := hex.EncodeToString(sum[:])
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	held, claimed, err := s.Idempotency.ClaimIdempotencyKey(ctx, req.Caller.UserID, key, fp, now, now.Add(idempotency.Lock), now.Add(idempotency.TTL))
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	if !claimed {
		switch {
		case held.Fingerprint != fp:
			return events.APIGatewayV2HTTPResponse{}, apperr.New(apperr.Conflict, "this Idempotency-Key was already used with a different request").WithCode("IDEMPOTENCY_KEY_REUSED")
		case !held.Done:
			return events.APIGatewayV2HTTPResponse{}, apperr.New(apperr.Conflict, "a request with this Idempotency-Key is still in progress; retry shortly").WithCode("IDEMPOTENCY_IN_PROGRESS")
		}
		out := respond(held.Status, envelope{})
		out.Body = held.Body
		out.Headers["Idempotent-Replayed"] = "true"
		return out, nil
	}

	res, err := run(ctx)
	if err != nil && apperr.KindOf(err) != apperr.Internal {
		// A client error is an answer too: replaying it is correct.
		res, err = respond(errorResponse(err)), nil
	}
	if err != nil || res.StatusCode >= 500 {
		// Our failure: let the client retry with the same key.
		if rerr := s.Idempotency.ReleaseIdempotencyKey(ctx, req.Caller.UserID, key); rerr != nil {
			s.Logger.Error("releasing idempotency key", "error", rerr.Error())
		}
		return res, err
	}
	if cerr := s.Idempotency.CompleteIdempotencyKey(ctx, req.Caller.UserID, key, res.StatusCode, res.Body); cerr != nil {
		// The work is done; failing to remember it only costs replay.
		s.Logger.Error("completing idempotency key", "error", cerr.Error())
	}
	return res, nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
