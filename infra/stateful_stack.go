package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscognito"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/brightrun/brightrun/pkg/blob"
	"github.com/brightrun/brightrun/pkg/dynamo/schema"
)

// Event archive: every event on the bus, replayable for this long.
const eventArchiveRetentionDays = 30

// deletedObjectExpiryDays: objects tagged blob.DeletedTag=true expire this
// many days after their creation (S3 counts lifecycle age from creation, so
// an older object goes at the next daily lifecycle run after tagging).
const deletedObjectExpiryDays = 1

// StatefulStack holds everything that stores data: the table, the buckets
// and the Cognito user pool (the accounts) with its app client. It changes
// rarely and every data-holding resource is RETAINed (table and pool also
// have deletion protection on), so the service stack can be destroyed,
// replaced or redeployed without touching them. The pool lives here rather
// than next to its JWT authorizer: in the service stack, destroying that
// stack orphaned the retained pool and the next deploy created a new, empty
// one (every account gone from the app's point of view).
//
// The EventBridge bus lives here too: it is the integration point that
// producers and consumers of several stacks (service now, training later)
// reference by name, and its archive keeps 30 days of events for replay; a
// redeploy or replacement of the service stack must not take either away.
//
// So does the secret holding the GPU cluster's bearer token: its value is
// put in by hand after the first deploy, and destroying the service stack
// must not lose it.
type StatefulStack struct {
	awscdk.Stack
	Table          awsdynamodb.Table
	DatasetsBucket awss3.Bucket
	ModelsBucket   awss3.Bucket
	UserPool       awscognito.UserPool
	Client         awscognito.UserPoolClient
	EventBus       awsevents.EventBus
	// GPUClusterToken holds the GPU cluster API's bearer token
	// (GPU_CLUSTER_TOKEN_SECRET_ARN; read by functions with the cluster
	// scope).
	GPUClusterToken awssecretsmanager.Secret
}

type statefulStackProps struct {
	awscdk.StackProps
	Config config
}

func newStatefulStack(scope constructs.Construct, id string, props *statefulStackProps) *StatefulStack {
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	cfg := props.Config
	s := &StatefulStack{Stack: stack}

	s.Table = newTable(stack, cfg)
	s.DatasetsBucket = newUploadBucket(stack, "DatasetsBucket", cfg)
	s.ModelsBucket = newUploadBucket(stack, "ModelsBucket", cfg)
	s.UserPool, s.Client = newUserPool(stack, cfg)
	s.EventBus = newEventBus(stack, cfg)
	s.GPUClusterToken = newGPUClusterTokenSecret(stack, cfg)

	output(stack, "TableName", s.Table.TableName(), "DynamoDB table (TABLE_NAME)")
	output(stack, "DatasetsBucketName", s.DatasetsBucket.BucketName(), "S3 bucket for dataset uploads")
	output(stack, "ModelsBucketName", s.ModelsBucket.BucketName(), "S3 bucket for trained model artifacts")
	output(stack, "UserPoolId", s.UserPool.UserPoolId(), "Cognito user pool id (COGNITO_USER_POOL_ID)")
	output(stack, "UserPoolClientId", s.Client.UserPoolClientId(), "Cognito app client id (COGNITO_CLIENT_ID)")
	output(stack, "EventBusName", s.EventBus.EventBusName(), "EventBridge bus of BrightRun events (EVENT_BUS_NAME)")
	output(stack, "GpuClusterTokenSecretArn", s.GPUClusterToken.SecretArn(),
		"Secret holding the GPU cluster bearer token (GPU_CLUSTER_TOKEN_SECRET_ARN): put the real token in it")
	return s
}

// gpuClusterTokenSecretName is the secret's name: brightrun-<stage>/gpu-cluster-token.
func gpuClusterTokenSecretName(cfg config) string {
	return cfg.resourceName() + "/gpu-cluster-token"
}

// newGPUClusterTokenSecret creates the secret for the GPU cluster's bearer
// token. The token is issued by the cluster's operator, so CloudFormation
// cannot know it and it must never be in a template: the secret starts
// with a random value (a token the cluster rejects, so a forgotten step
// shows as 401 Unauthorized rather than as a silently empty token) and the
// operator replaces it once per stage:
//
//	aws secretsmanager put-secret-value --secret-id brightrun-<stage>/gpu-cluster-token --secret-string "$TOKEN"
//
// CloudFormation generates a value only when it creates the secret or when
// GenerateSecretString changes: leave the generator as it is, or the next
// deploy overwrites the real token. The value is a plain string (no JSON),
// which is what app.SecretString reads. Retained like everything here: the
// real token would be lost with the stack.
func newGPUClusterTokenSecret(stack awscdk.Stack, cfg config) awssecretsmanager.Secret {
	name := gpuClusterTokenSecretName(cfg)
	secret := awssecretsmanager.NewSecret(stack, jsii.String("GpuClusterToken"), &awssecretsmanager.SecretProps{
		SecretName: jsii.String(name),
		Description: jsii.String("Bearer token of the GPU cluster API for BrightRun " + cfg.Stage +
			" training tasks. Created with a random placeholder: put the real token in it with " +
			"aws secretsmanager put-secret-value --secret-id " + name + " --secret-string <token>"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(40),
			ExcludePunctuation: jsii.Bool(true),
		},
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	cdknag.NagSuppressions_AddResourceSuppressions(secret, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-SMG4"),
		Reason: jsii.String("The GPU cluster's operator issues this bearer token; Secrets Manager cannot rotate it. " +
			"Rotate it with the cluster's operator and put the new value in the secret (put-secret-value)."),
	}}, jsii.Bool(true))
	return secret
}

// newEventBus is the custom bus brightrun-<stage> every BrightRun event goes
// to (pkg/event), with an archive of everything on it. Neither is retained:
// the bus holds no data and the archive is a replay buffer, not a record
// (the table is); a fixed, retained bus name would block re-creating the
// stack.
func newEventBus(stack awscdk.Stack, cfg config) awsevents.EventBus {
	bus := awsevents.NewEventBus(stack, jsii.String("EventBus"), &awsevents.EventBusProps{
		EventBusName: jsii.String(cfg.resourceName()),
		Description:  jsii.String("BrightRun " + cfg.Stage + " domain events (DatasetValidated, …)"),
	})
	bus.Archive(jsii.String("Archive"), &awsevents.BaseArchiveProps{
		ArchiveName: jsii.String(cfg.resourceName() + "-events"),
		Description: jsii.String("Every event of the " + cfg.resourceName() + " bus, for replay"),
		// Matches every event on the bus: all of them come from this account.
		EventPattern: &awsevents.EventPattern{Account: jsii.Strings(*stack.Account())},
		Retention:    awscdk.Duration_Days(jsii.Number(eventArchiveRetentionDays)),
	})
	return bus
}

// newTable builds the one table from schema.Definition(), the same
// definition the local stack and the adapter tests create DynamoDB Local
// tables from.
func newTable(stack awscdk.Stack, cfg config) awsdynamodb.Table {
	def := schema.Definition()
	str := func(name string) *awsdynamodb.Attribute {
		return &awsdynamodb.Attribute{Name: jsii.String(name), Type: awsdynamodb.AttributeType_STRING}
	}
	table := awsdynamodb.NewTable(stack, jsii.String("Table"), &awsdynamodb.TableProps{
		// A fixed name makes a key-schema change fail loudly (CloudFormation
		// cannot replace a custom-named resource) instead of silently
		// creating a new, empty table.
		TableName:    jsii.String(cfg.resourceName()),
		PartitionKey: str(def.PartitionKey),
		SortKey:      str(def.SortKey),
		BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		DeletionProtection:  jsii.Bool(true),
		RemovalPolicy:       awscdk.RemovalPolicy_RETAIN,
		TimeToLiveAttribute: jsii.String(def.TTLAttribute),
		Encryption:          awsdynamodb.TableEncryption_AWS_MANAGED,
	})
	for _, ix := range def.Indexes {
		table.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
			IndexName:      jsii.String(ix.Name),
			PartitionKey:   str(ix.PartitionKey),
			SortKey:        str(ix.SortKey),
			ProjectionType: awsdynamodb.ProjectionType_ALL,
		})
	}
	return table
}

// newUserPool: email is the username, accounts are created only by the
// sign-up Lambda (IAM AdminCreateUser + AdminSetUserPassword), and the role
// lives in custom:role, which only the Lambdas' admin calls can write.
func newUserPool(stack awscdk.Stack, cfg config) (awscognito.UserPool, awscognito.UserPoolClient) {
	pool := awscognito.NewUserPool(stack, jsii.String("UserPool"), &awscognito.UserPoolProps{
		UserPoolName:        jsii.String(cfg.resourceName()),
		SignInAliases:       &awscognito.SignInAliases{Email: jsii.Bool(true)},
		SignInCaseSensitive: jsii.Bool(false),
		// Off (AdminCreateUserConfig.AllowAdminCreateUserOnly): the app
		// client id is public (the `aud` of every ID token), so with self
		// sign-up anyone could call Cognito's SignUp with someone else's
		// email and leave an unconfirmed user that blocks the real sign-up
		// (EMAIL_EXISTS). The sign-up Lambda is the only way in.
		SelfSignUpEnabled: jsii.Bool(false),
		// The sign-up Lambda creates users with email_verified=true and no
		// invitation (MessageAction SUPPRESS), so Cognito must not mail
		// verification codes: the default sender is capped at 50 mails a
		// day and a code nobody asks for confuses users.
		AutoVerify: &awscognito.AutoVerifiedAttrs{Email: jsii.Bool(false)},
		// The same rule the app checks (spec FR-1.4.1: at least 8
		// characters); character-class rules would make Cognito reject
		// passwords the API just validated as fine.
		PasswordPolicy: &awscognito.PasswordPolicy{
			MinLength:        jsii.Number(8),
			RequireLowercase: jsii.Bool(false),
			RequireUppercase: jsii.Bool(false),
			RequireDigits:    jsii.Bool(false),
			RequireSymbols:   jsii.Bool(false),
		},
		StandardAttributes: &awscognito.StandardAttributes{
			Email: &awscognito.StandardAttribute{Required: jsii.Bool(true), Mutable: jsii.Bool(true)},
			// Not required: required attributes can never be changed
			// without replacing the pool (and losing every account).
			Fullname: &awscognito.StandardAttribute{Required: jsii.Bool(false), Mutable: jsii.Bool(true)},
		},
		CustomAttributes: &map[string]awscognito.ICustomAttribute{
			"role": awscognito.NewStringAttribute(&awscognito.StringAttributeProps{
				Mutable: jsii.Bool(true), MinLen: jsii.Number(1), MaxLen: jsii.Number(32),
			}),
		},
		AccountRecovery: awscognito.AccountRecovery_EMAIL_ONLY,
		Mfa:             awscognito.Mfa_OFF,
		// Password sign-in needs nothing beyond Lite, the cheapest plan.
		FeaturePlan: awscognito.FeaturePlan_LITE,
		// Accounts cannot be exported with their passwords: never delete
		// the pool with the stack.
		DeletionProtection: jsii.Bool(true),
		RemovalPolicy:      awscdk.RemovalPolicy_RETAIN,
	})
	cdknag.NagSuppressions_AddResourceSuppressions(pool, &[]*cdknag.NagPackSuppression{
		{Id: jsii.String("AwsSolutions-COG1"), Reason: jsii.String("Password rule is the spec's (FR-1.4.1: minimum 8 characters) and is enforced identically by the API and the local provider.")},
		{Id: jsii.String("AwsSolutions-COG2"), Reason: jsii.String("MFA is not in the product spec; the API only offers email + password log-in.")},
		{Id: jsii.String("AwsSolutions-COG8"), Reason: jsii.String("Plus (threat protection) costs several times Lite per MAU; password sign-in needs nothing from it. Revisit before public launch.")},
	}, jsii.Bool(true))

	client := pool.AddClient(jsii.String("AppClient"), &awscognito.UserPoolClientOptions{
		UserPoolClientName: jsii.String(cfg.resourceName() + "-api"),
		GenerateSecret:     jsii.Bool(false),
		// No hosted UI / OAuth: the API calls InitiateAuth itself. Without
		// this CDK enables the implicit and code grants with a placeholder
		// callback URL.
		DisableOAuth:               jsii.Bool(true),
		AuthFlows:                  &awscognito.AuthFlow{UserPassword: jsii.Bool(true)},
		IdTokenValidity:            awscdk.Duration_Hours(jsii.Number(1)),
		AccessTokenValidity:        awscdk.Duration_Hours(jsii.Number(1)),
		PreventUserExistenceErrors: jsii.Bool(true),
		// Explicit lists: custom:role is readable (it is a claim of the id
		// token) but not writable through the app client (user-level
		// UpdateUserAttributes), so no user can make themselves an admin.
		WriteAttributes: awscognito.NewClientAttributes().WithStandardAttributes(&awscognito.StandardAttributesMask{
			Email: jsii.Bool(true), Fullname: jsii.Bool(true),
		}),
		ReadAttributes: awscognito.NewClientAttributes().WithStandardAttributes(&awscognito.StandardAttributesMask{
			Email: jsii.Bool(true), EmailVerified: jsii.Bool(true), Fullname: jsii.Bool(true),
		}).WithCustomAttributes(jsii.String("role")),
	})
	return pool, client
}

// newUploadBucket builds a private bucket that browsers reach only through
// presigned URLs. Versioning stays off: objects are written once under
// ULID keys, a DELETE from the API must really delete the data, and
// noncurrent versions would be paid-for copies of multi-GB files.
func newUploadBucket(stack awscdk.Stack, id string, cfg config) awss3.Bucket {
	b := awss3.NewBucket(stack, jsii.String(id), &awss3.BucketProps{
		// No BucketName: names are global, CloudFormation generates a unique one
		// and the stack outputs it.
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		EnforceSSL:        jsii.Bool(true),
		MinimumTLSVersion: jsii.Number(1.2),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		Versioned:         jsii.Bool(false),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		Cors: &[]*awss3.CorsRule{{
			// Presigned PUT (single or multipart part), GET and HEAD from the
			// frontend. The browser must read ETag of every uploaded part to
			// send CompleteMultipartUpload.
			AllowedMethods: &[]awss3.HttpMethods{awss3.HttpMethods_PUT, awss3.HttpMethods_GET, awss3.HttpMethods_HEAD},
			AllowedOrigins: jsii.Strings(cfg.CorsOrigins...),
			AllowedHeaders: jsii.Strings("*"),
			ExposedHeaders: jsii.Strings("ETag"),
			MaxAge:         jsii.Number(3600),
		}},
		LifecycleRules: &[]*awss3.LifecycleRule{
			{
				Id:                                  jsii.String("abort-incomplete-multipart-uploads"),
				AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
			},
			{
				// Deletion is a tag (blob.MarkDeleted): functions never need
				// s3:DeleteObject and no sweeper is needed.
				Id:         jsii.String("expire-deleted-objects"),
				TagFilters: &map[string]interface{}{blob.DeletedTag: "true"},
				Expiration: awscdk.Duration_Days(jsii.Number(deletedObjectExpiryDays)),
			},
		},
	})
	cdknag.NagSuppressions_AddResourceSuppressions(b, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-S1"),
		Reason: jsii.String("Objects are only reachable through presigned URLs that the API issues and logs per request; " +
			"server access logs would need a third bucket per stage. Enable CloudTrail S3 data events at the account level if an audit trail is required."),
	}}, jsii.Bool(true))
	return b
}

// output adds a CfnOutput; ids double as output names.
func output(stack awscdk.Stack, id string, value *string, description string) {
	awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{
		Value:       value,
		Description: jsii.String(description),
	})
}
