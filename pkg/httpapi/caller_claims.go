package httpapi

import "github.com/aws/aws-lambda-go/events"

// CallerFromClaims maps verified token claims to the Caller, for a function
// that verifies the token itself because no JWT authorizer stands in front
// of it (the job event stream behind a Lambda Function URL). It goes
// through callerFrom, so such a function and every API Gateway handler read
// the claims one way. ok is false without a subject.
func CallerFromClaims(claims map[string]string) (c Caller, ok bool) {
	var ev events.APIGatewayV2HTTPRequest
	ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims},
	}
	return callerFrom(ev)
}
