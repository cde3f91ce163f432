package main

import (
	"fmt"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/brightrun/brightrun/pkg/route"
)

// grantResources are the resources an access scope can point at. New scopes
// (datasets:read, models:read, events:put, workflow:start, …) add a field here
// and a row to accessGrants.
type grantResources struct {
	TableArn    string // DynamoDB table ARN (token)
	UserPoolArn string // Cognito user pool ARN (token)
}

// grant is one row of the scope table: exact IAM actions on resources.
// Actions are always spelled out: never "*" or "<service>:*".
type grant struct {
	Actions   []string
	Resources func(r grantResources) []string
}

// Table actions. TransactGetItems and TransactWriteItems have no IAM action
// of their own: they are authorised per item with GetItem, PutItem,
// UpdateItem, DeleteItem and ConditionCheckItem. Scan is left out on
// purpose: every access pattern of the single-table design is a key lookup
// or a Query (docs/data-model.md); a function that needs Scan should say so
// with a scope of its own.
var (
	tableReadActions = []string{
		"dynamodb:GetItem",
		"dynamodb:BatchGetItem",
		"dynamodb:Query",
		"dynamodb:ConditionCheckItem",
	}
	tableWriteActions = []string{
		"dynamodb:PutItem",
		"dynamodb:UpdateItem",
		"dynamodb:DeleteItem",
		"dynamodb:BatchWriteItem",
	}
)

// tableAndIndexes: queries on a GSI are authorised on <table>/index/<name>.
func tableAndIndexes(r grantResources) []string {
	return []string{r.TableArn, r.TableArn + "/index/*"}
}

// accessGrants maps every route.Access scope to its grant. It is the only
// place that knows what a scope means in IAM; an unknown scope fails synth.
var accessGrants = map[string]grant{
	route.TableRead: {
		Actions:   tableReadActions,
		Resources: tableAndIndexes,
	},
	route.TableWrite: {
		Actions:   append(append([]string{}, tableReadActions...), tableWriteActions...),
		Resources: tableAndIndexes,
	},
	// SignUp and InitiateAuth(USER_PASSWORD_AUTH) are unauthenticated Cognito
	// APIs and need no IAM; the admin calls below confirm a sign-up, set the
	// role attribute (which the app client may not write) and undo a failed
	// sign-up.
	route.Identity: {
		Actions: []string{
			"cognito-idp:AdminConfirmSignUp",
			"cognito-idp:AdminDeleteUser",
			"cognito-idp:AdminUpdateUserAttributes",
			"cognito-idp:AdminGetUser",
		},
		Resources: func(r grantResources) []string { return []string{r.UserPoolArn} },
	},
}

// policyStatements returns the statements a route's Access list grants, or an
// error naming the route and scope if a scope has no row in accessGrants.
func policyStatements(r route.Route, res grantResources) ([]awsiam.PolicyStatement, error) {
	var out []awsiam.PolicyStatement
	for _, scope := range r.Access {
		g, ok := accessGrants[scope]
		if !ok {
			return nil, fmt.Errorf("route %q (function %s): unknown access scope %q; known scopes: %v (add it to accessGrants in infra/grants.go)",
				r.Key(), r.Function, scope, knownScopes())
		}
		out = append(out, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Effect:    awsiam.Effect_ALLOW,
			Actions:   jsii.Strings(g.Actions...),
			Resources: jsii.Strings(g.Resources(res)...),
		}))
	}
	return out, nil
}

func knownScopes() []string {
	s := make([]string, 0, len(accessGrants))
	for k := range accessGrants {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}
