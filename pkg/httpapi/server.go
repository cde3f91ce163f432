package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/idempotency"
	"github.com/brightrun/brightrun/pkg/route"
)

// HandlerFunc serves one route. It returns a Response, or an error whose
// apperr kind decides the status.
type HandlerFunc func(ctx context.Context, req *Request) (Response, error)

// LambdaFunc is what lambda.Start receives for an HTTP API route.
type LambdaFunc func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Server holds what every route's adapter shares.
type Server struct {
	Logger      *slog.Logger
	Idempotency idempotency.Store // required by routes marked Idempotent
	BodyLimit   int               // 0 means DefaultBodyLimit
	Now         func() time.Time  // nil means time.Now
}

// Handle adapts fn to API Gateway for route r. It checks authentication and
// the route's roles, decodes the body under the size limit, runs fn, and
// encodes the envelope. Expected errors are answered, never returned:
// a Lambda error would make API Gateway answer 500.
func (s *Server) Handle(r route.Route, fn HandlerFunc) LambdaFunc {
	if r.Idempotent && s.Idempotency == nil {
		panic(fmt.Sprintf("httpapi: route %s is idempotent but the server has no idempotency store", r.Key()))
	}
	limit := s.BodyLimit
	if limit == 0 {
		limit = DefaultBodyLimit
	}
	now := s.Now
	if now == nil {
		now = time.Now
	}
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (resp events.APIGatewayV2HTTPResponse, _ error) {
		start := now()
		req := &Request{Event: ev}
		log := s.Logger.With("request_id", ev.RequestContext.RequestID, "route", r.Key())
		defer func() {
			if p := recover(); p != nil {
				log.Error("panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				resp = respond(errorResponse(apperr.New(apperr.Internal, "panic")))
			}
			log.Info("request", "status", resp.StatusCode, "user", req.Caller.UserID, "ms", now().Sub(start).Milliseconds())
		}()

		res, err := s.serve(ctx, r, fn, req, limit)
		if err != nil {
			if apperr.KindOf(err) == apperr.Internal {
				log.Error("internal error", "error", err.Error())
			}
			return respond(errorResponse(err)), nil
		}
		return res, nil
	}
}

func (s *Server) serve(ctx context.Context, r route.Route, fn HandlerFunc, req *Request, limit int) (events.APIGatewayV2HTTPResponse, error) {
	if !r.Public {
		c, ok := callerFrom(req.Event)
		if !ok {
			return events.APIGatewayV2HTTPResponse{}, apperr.New(apperr.Unauthorized, "authentication required")
		}
		if !r.Allows(c.Role) {
			return events.APIGatewayV2HTTPResponse{}, apperr.New(apperr.Forbidden, "your role does not allow this action")
		}
		req.Caller = c
	}
	body, err := readBody(req.Event, limit)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	req.body = body
	run := func(ctx context.Context) (events.APIGatewayV2HTTPResponse, error) {
		res, err := fn(ctx, req)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		out := respond(res.Status, envelope{Success: true, Data: res.Data})
		for k, v := range res.Headers {
			out.Headers[k] = v
		}
		return out, nil
	}
	if r.Idempotent {
		return s.idempotent(ctx, req, run)
	}
	return run(ctx)
}

func respond(status int, body envelope) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"},
		Body:       encode(body),
	}
}
