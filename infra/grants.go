package main

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/brightrun/brightrun/pkg/route"
)

// grantResources are the resources an access scope can point at. New scopes
// (models:read, workflow:start, …) add a field here and a row to
// accessGrants.
type grantResources struct {
	TableArn          string // DynamoDB table ARN (token)
	UserPoolArn       string // Cognito user pool ARN (token)
	DatasetsBucketArn string // datasets bucket ARN (token)
	ModelsBucketArn   string // models bucket ARN (token)
	EventBusArn       string // the BrightRun event bus ARN (token)
	StateMachineArn   string // the training state machine (its fixed name's ARN)
	// TrainingExecutionsArn: every execution of the training state machine,
	// arn:<partition>:states:<region>:<account>:execution:<name>:* (fixed
	// name, no reference; trainingExecutionsArn).
	TrainingExecutionsArn string
	// GPUClusterTokenSecretArn: the Secrets Manager secret holding the GPU
	// cluster's bearer token (token; full ARN with the random suffix).
	GPUClusterTokenSecretArn string
	// FunctionArns: ARN of every function of the service stack, by
	// route.Route.Function / route.Worker.Function. Complete before any
	// grant is rendered, so an invoke scope never depends on creation order.
	FunctionArns map[string]string
}

// validateDatasetFunction is the worker behind route.InvokeValidate and
// VALIDATE_DATASET_FUNCTION.
const validateDatasetFunction = "validate-dataset"

// datasetsPrefix is the key prefix of every dataset object (pkg/dataset
// builds keys as datasets/<user>/<dataset>/…); grants and the upload
// notification are limited to it.
const datasetsPrefix = "datasets/"

// modelsPrefix is the key prefix of every model artifact (pkg/job builds
// keys as models/<user>/<job>/<file>); the models:write grant is limited
// to it.
const modelsPrefix = "models/"

// grant is one row of the scope table: exact IAM actions on resources.
// Actions are always spelled out: never "*" or "<service>:*".
type grant struct {
	Actions   []string
	Resources func(r grantResources) []string
	// And: further statements of the scope (other actions on other
	// resources), for example a bucket-level action next to object actions.
	And []grant
	// Nag: the cdk-nag suppressions a resource pattern of the scope needs
	// (a wildcard that stops at resources of this app), added to the role
	// of every function granted the scope. cfg names the resources.
	Nag func(cfg config) []*cdknag.NagPackSuppression
}

// parts is the grant's statements: the grant itself, then And.
func (g grant) parts() []grant {
	return append([]grant{{Actions: g.Actions, Resources: g.Resources}}, g.And...)
}

// allActions lists the actions of every statement of the grant.
func (g grant) allActions() []string {
	var out []string
	for _, p := range g.parts() {
		out = append(out, p.Actions...)
	}
	return out
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

// datasetObjects: every dataset object, nothing else of the bucket.
func datasetObjects(r grantResources) []string {
	return []string{r.DatasetsBucketArn + "/" + datasetsPrefix + "*"}
}

// modelObjects: every model artifact, nothing else of the bucket.
func modelObjects(r grantResources) []string {
	return []string{r.ModelsBucketArn + "/" + modelsPrefix + "*"}
}

// invoke grants lambda:InvokeFunction on one function of the service stack.
func invoke(function string) grant {
	return grant{
		Actions:   []string{"lambda:InvokeFunction"},
		Resources: func(r grantResources) []string { return []string{r.FunctionArns[function]} },
	}
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
	// InitiateAuth(USER_PASSWORD_AUTH) is an unauthenticated Cognito API and
	// needs no IAM. The admin calls are exactly those pkg/cognito makes:
	// sign-up creates the user (self sign-up is off in the pool) and sets
	// its password, a failed sign-up deletes it again, and update-user sets
	// the role attribute (which the app client may not write).
	route.IdentityRegister: {
		Actions: []string{
			"cognito-idp:AdminCreateUser",
			"cognito-idp:AdminSetUserPassword",
			"cognito-idp:AdminDeleteUser", // rollback of a failed sign-up
		},
		Resources: func(r grantResources) []string { return []string{r.UserPoolArn} },
	},
	route.IdentityRoles: {
		Actions:   []string{"cognito-idp:AdminUpdateUserAttributes"},
		Resources: func(r grantResources) []string { return []string{r.UserPoolArn} },
	},
	// GetObject also authorises HeadObject (pkg/blob Head) and streaming reads.
	// ListBucket (bucket level, key names only) is what makes S3 answer 404
	// for a missing object instead of 403: without it, confirm before the
	// upload finished would be a 500 instead of 409 UPLOAD_NOT_FOUND, and the
	// validator could not tell "file gone" from a failure. It cannot be
	// limited to datasets/ (s3:prefix is only set on list requests).
	route.DatasetsRead: {
		Actions:   []string{"s3:GetObject"},
		Resources: datasetObjects,
		And: []grant{{
			Actions:   []string{"s3:ListBucket"},
			Resources: func(r grantResources) []string { return []string{r.DatasetsBucketArn} },
		}},
	},
	// Presigned URLs act with the signer's permissions: PutObject authorises
	// the presigned PUT and, for multipart uploads, CreateMultipartUpload,
	// the presigned UploadPart and CompleteMultipartUpload. Abort has an
	// action of its own.
	route.DatasetsWrite: {
		Actions:   []string{"s3:PutObject", "s3:AbortMultipartUpload"},
		Resources: datasetObjects,
	},
	// Soft delete: blob.MarkDeleted tags the object, the bucket's lifecycle
	// rule expires it (stateful_stack.go); no function may delete objects.
	route.DatasetsTag: {
		Actions:   []string{"s3:PutObjectTagging"},
		Resources: datasetObjects,
	},
	// copy-artifacts: GetObject is its HEAD of an artifact already copied
	// (a retried copy resumes; blob.Stat), with ListBucket for 404 instead
	// of 403, as for datasets:read. PutObject covers single and multipart
	// uploads (create, parts, complete); abort has an action of its own.
	// No DeleteObject: a bad copy is overwritten, never deleted.
	route.ModelsWrite: {
		Actions:   []string{"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"},
		Resources: modelObjects,
		And: []grant{{
			Actions:   []string{"s3:ListBucket"},
			Resources: func(r grantResources) []string { return []string{r.ModelsBucketArn} },
		}},
	},
	// The cluster is an outside HTTP API: no IAM of its own. What IAM
	// guards is its bearer token, read once per cold start from the secret
	// (GPU_CLUSTER_TOKEN_SECRET_ARN). The secret is encrypted with the AWS
	// managed key aws/secretsmanager, whose key policy lets Secrets Manager
	// decrypt for any principal of the account allowed GetSecretValue: no
	// kms:Decrypt grant is needed.
	route.GPUCluster: {
		Actions:   []string{"secretsmanager:GetSecretValue"},
		Resources: func(r grantResources) []string { return []string{r.GPUClusterTokenSecretArn} },
	},
	route.EventsPut: {
		Actions:   []string{"events:PutEvents"},
		Resources: func(r grantResources) []string { return []string{r.EventBusArn} },
	},
	route.InvokeValidate: invoke(validateDatasetFunction),
	route.WorkflowStart: {
		Actions:   []string{"states:StartExecution"},
		Resources: func(r grantResources) []string { return []string{r.StateMachineArn} },
	},
	// The sweeper describes the executions of jobs that look idle (named
	// <jobId>, or <jobId>-c<N> after continue-as-new). DescribeExecution is
	// authorised on execution ARNs, whose names are chosen at run time: the
	// resource is every execution of the training state machine and of no
	// other machine, and the action is DescribeExecution alone (not
	// GetExecutionHistory or StopExecution).
	route.WorkflowRead: {
		Actions:   []string{"states:DescribeExecution"},
		Resources: func(r grantResources) []string { return []string{r.TrainingExecutionsArn} },
		Nag: func(cfg config) []*cdknag.NagPackSuppression {
			machine := trainingStateMachineName(cfg)
			return []*cdknag.NagPackSuppression{{
				Id: jsii.String("AwsSolutions-IAM5"),
				Reason: jsii.String("states:DescribeExecution is authorised on execution ARNs, <state machine>:<execution name>; " +
					"executions of " + machine + " are named per job at run time (<jobId>, <jobId>-c<N> after continue-as-new), " +
					"so the resource is arn:<partition>:states:<region>:<account>:execution:" + machine + ":*. " +
					"The wildcard stops at that one state machine's executions; the action stays explicit."),
				AppliesTo: &[]interface{}{
					// Partition, region and account are pseudo parameters
					// when the stack is environment-agnostic, literals when
					// the CLI sets CDK_DEFAULT_ACCOUNT/REGION.
					&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:(<AWS::Partition>|aws[a-z-]*):states:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|[0-9]{12}):execution:` +
						regexp.QuoteMeta(machine) + `:\*$/g`)},
				},
			}}
		},
	},
}

// grantSuppressions returns the cdk-nag suppressions (grant.Nag) of the
// scopes in access, for the role they are granted to.
func grantSuppressions(cfg config, access []string) []*cdknag.NagPackSuppression {
	var out []*cdknag.NagPackSuppression
	for _, scope := range access {
		if g := accessGrants[scope]; g.Nag != nil {
			out = append(out, g.Nag(cfg)...)
		}
	}
	return out
}

// policyStatements returns the statements an Access list grants, or an error
// naming the function (owner: `route "GET /api/me" (function get-me)` or
// `worker validate-dataset`) and the scope if a scope has no row in
// accessGrants or points at a resource the app does not have.
func policyStatements(owner, function string, access []string, res grantResources) ([]awsiam.PolicyStatement, error) {
	var out []awsiam.PolicyStatement
	for _, scope := range access {
		g, ok := accessGrants[scope]
		if !ok {
			return nil, fmt.Errorf("%s: unknown access scope %q; known scopes: %v (add it to accessGrants in infra/grants.go)",
				owner, scope, knownScopes())
		}
		if scope == "invoke:"+function {
			// The role's policy would reference the function's own ARN,
			// and the function depends on its role: a cycle.
			return nil, fmt.Errorf("%s: access scope %q: a function cannot be granted to invoke itself", owner, scope)
		}
		for _, part := range g.parts() {
			resources := part.Resources(res)
			for _, r := range resources {
				if r == "" || strings.HasPrefix(r, "/") {
					return nil, fmt.Errorf("%s: access scope %q points at a resource this app does not define (for invoke:<fn>, a function of route.Table or route.Workers)", owner, scope)
				}
			}
			out = append(out, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Effect:    awsiam.Effect_ALLOW,
				Actions:   jsii.Strings(part.Actions...),
				Resources: jsii.Strings(resources...),
			}))
		}
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
