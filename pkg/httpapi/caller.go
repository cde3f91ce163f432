package httpapi

import (
	"github.com/aws/aws-lambda-go/events"

	"github.com/brightrun/brightrun/pkg/route"
)

// Claim names in the ID token. Cognito prefixes custom attributes with
// "custom:", and the local identity provider issues the same names.
const (
	ClaimSubject = "sub"
	ClaimEmail   = "email"
	ClaimName    = "name"
	ClaimRole    = "custom:role"
)

// Caller is the authenticated user, as the JWT authorizer verified it.
type Caller struct {
	UserID string
	Email  string
	Role   string
}

// callerFrom reads the claims API Gateway's JWT authorizer put in the
// request context. A token without a role claim is a plain user.
func callerFrom(ev events.APIGatewayV2HTTPRequest) (Caller, bool) {
	if ev.RequestContext.Authorizer == nil || ev.RequestContext.Authorizer.JWT == nil {
		return Caller{}, false
	}
	claims := ev.RequestContext.Authorizer.JWT.Claims
	c := Caller{UserID: claims[ClaimSubject], Email: claims[ClaimEmail], Role: claims[ClaimRole]}
	if c.Role == "" {
		c.Role = route.RoleUser
	}
	return c, c.UserID != ""
}
