package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/brightrun/brightrun/pkg/dynamo/schema"
)

// StatefulStack holds the table and the buckets. It changes rarely and every
// resource is RETAINed, so the service stack can be redeployed without
// touching them. (The Cognito user pool holds accounts too; it lives in the
// service stack next to its JWT authorizer and is retained with deletion
// protection on.)
type StatefulStack struct {
	awscdk.Stack
	Table          awsdynamodb.Table
	DatasetsBucket awss3.Bucket
	ModelsBucket   awss3.Bucket
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

	output(stack, "TableName", s.Table.TableName(), "DynamoDB table (TABLE_NAME)")
	output(stack, "DatasetsBucketName", s.DatasetsBucket.BucketName(), "S3 bucket for dataset uploads")
	output(stack, "ModelsBucketName", s.ModelsBucket.BucketName(), "S3 bucket for trained model artifacts")
	return s
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
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("abort-incomplete-multipart-uploads"),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
		}},
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
