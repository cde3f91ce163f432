package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/dynamo/schema"
	"github.com/brightrun/brightrun/pkg/identity"
)

// Credentials of the development identity provider are two items written
// together: EMAIL#e holds the hash (log-in looks up by email, and its
// conditional put makes emails unique), USER#sub points back to the email
// (rollback and role changes look up by subject).
type credentialItem struct {
	PK           string `dynamodbav:"PK"`
	SK           string `dynamodbav:"SK"`
	Entity       string `dynamodbav:"entity"`
	Subject      string `dynamodbav:"subject"`
	Email        string `dynamodbav:"email"`
	PasswordHash string `dynamodbav:"passwordHash,omitempty"`
	Name         string `dynamodbav:"name,omitempty"`
	Role         string `dynamodbav:"role,omitempty"`
}

// CreateCredential stores a credential; a taken email is EMAIL_EXISTS.
func (s *Store) CreateCredential(ctx context.Context, c identity.Credential) error {
	byEmail, err := attributevalue.MarshalMap(credentialItem{PK: emailPK(c.Email), SK: credentialSK, Entity: "credential",
		Subject: c.Subject, Email: c.Email, PasswordHash: c.PasswordHash, Name: c.Name, Role: string(c.Role)})
	if err != nil {
		return apperr.Wrap(err, "marshal credential")
	}
	bySubject, err := attributevalue.MarshalMap(credentialItem{PK: userPK(c.Subject), SK: credentialSK, Entity: "credential-ref", Subject: c.Subject, Email: c.Email})
	if err != nil {
		return apperr.Wrap(err, "marshal credential ref")
	}
	notExists := aws.String("attribute_not_exists(" + schema.PK + ")")
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(s.table), Item: byEmail, ConditionExpression: notExists}},
		{Put: &types.Put{TableName: aws.String(s.table), Item: bySubject, ConditionExpression: notExists}},
	}})
	if conditionFailed(err) {
		return apperr.New(apperr.Conflict, "an account with this email already exists").WithCode(identity.CodeEmailExists)
	}
	if err != nil {
		return apperr.Wrap(err, "put credential")
	}
	return nil
}

// CredentialByEmail returns the credential for email, or NotFound.
func (s *Store) CredentialByEmail(ctx context.Context, email string) (identity.Credential, error) {
	it, err := s.credential(ctx, emailPK(email))
	if err != nil {
		return identity.Credential{}, err
	}
	return identity.Credential{Subject: it.Subject, Email: it.Email, PasswordHash: it.PasswordHash, Name: it.Name, Role: identity.Role(it.Role)}, nil
}

// DeleteCredential removes both items of subject's credential.
func (s *Store) DeleteCredential(ctx context.Context, subject string) error {
	ref, err := s.credential(ctx, userPK(subject))
	if apperr.KindOf(err) == apperr.NotFound {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: aws.String(s.table), Key: key(emailPK(ref.Email), credentialSK)}},
		{Delete: &types.Delete{TableName: aws.String(s.table), Key: key(userPK(subject), credentialSK)}},
	}})
	if err != nil {
		return apperr.Wrap(err, "delete credential %s", subject)
	}
	return nil
}

// SetCredentialRole changes the role future tokens carry.
func (s *Store) SetCredentialRole(ctx context.Context, subject string, role identity.Role) error {
	ref, err := s.credential(ctx, userPK(subject))
	if err != nil {
		return err
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(emailPK(ref.Email), credentialSK),
		UpdateExpression:          aws.String("SET #role = :role"),
		ConditionExpression:       aws.String("attribute_exists(" + schema.PK + ")"),
		ExpressionAttributeNames:  map[string]string{"#role": "role"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":role": str(string(role))},
	})
	if conditionFailed(err) {
		return apperr.NotFoundf("user")
	}
	if err != nil {
		return apperr.Wrap(err, "set role of %s", subject)
	}
	return nil
}

func (s *Store) credential(ctx context.Context, pk string) (credentialItem, error) {
	var it credentialItem
	found, err := s.get(ctx, pk, credentialSK, &it)
	if err == nil && !found {
		err = apperr.NotFoundf("credential")
	}
	return it, err
}
