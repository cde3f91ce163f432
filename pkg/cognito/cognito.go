// Package cognito implements identity.Provider on an Amazon Cognito user
// pool: email is the username, the user id is Cognito's sub, and the role
// is the custom:role attribute, which the app client cannot write, so only
// these admin calls can change it.
package cognito

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/identity"
)

// API is the part of the Cognito client the provider uses.
type API interface {
	SignUp(ctx context.Context, in *cip.SignUpInput, opts ...func(*cip.Options)) (*cip.SignUpOutput, error)
	AdminConfirmSignUp(ctx context.Context, in *cip.AdminConfirmSignUpInput, opts ...func(*cip.Options)) (*cip.AdminConfirmSignUpOutput, error)
	AdminUpdateUserAttributes(ctx context.Context, in *cip.AdminUpdateUserAttributesInput, opts ...func(*cip.Options)) (*cip.AdminUpdateUserAttributesOutput, error)
	AdminDeleteUser(ctx context.Context, in *cip.AdminDeleteUserInput, opts ...func(*cip.Options)) (*cip.AdminDeleteUserOutput, error)
	InitiateAuth(ctx context.Context, in *cip.InitiateAuthInput, opts ...func(*cip.Options)) (*cip.InitiateAuthOutput, error)
}

// Provider is the Cognito identity provider.
type Provider struct {
	api      API
	poolID   string
	clientID string
	now      func() time.Time
}

// New returns a Provider for a pool and its public app client.
func New(api API, poolID, clientID string) *Provider {
	return &Provider{api: api, poolID: poolID, clientID: clientID, now: time.Now}
}

// Register signs the user up, confirms them (email verification is not part
// of the sign-up contract yet; see docs/adr/0002-identity.md) and sets the
// role attribute with admin rights.
func (p *Provider) Register(ctx context.Context, r identity.Registration) (string, error) {
	out, err := p.api.SignUp(ctx, &cip.SignUpInput{
		ClientId: aws.String(p.clientID),
		Username: aws.String(r.Email),
		Password: aws.String(r.Password),
		UserAttributes: []types.AttributeType{
			{Name: aws.String("email"), Value: aws.String(r.Email)},
			{Name: aws.String("name"), Value: aws.String(r.Name)},
		},
	})
	if err != nil {
		return "", signUpError(err)
	}
	sub := aws.ToString(out.UserSub)
	if _, err := p.api.AdminConfirmSignUp(ctx, &cip.AdminConfirmSignUpInput{UserPoolId: aws.String(p.poolID), Username: aws.String(r.Email)}); err != nil {
		return "", errors.Join(apperr.Wrap(err, "confirm sign-up"), p.Unregister(ctx, sub))
	}
	if err := p.SetRole(ctx, sub, r.Role); err != nil {
		return "", errors.Join(err, p.Unregister(ctx, sub))
	}
	return sub, nil
}

func signUpError(err error) error {
	var exists *types.UsernameExistsException
	var weak *types.InvalidPasswordException
	var bad *types.InvalidParameterException
	switch {
	case errors.As(err, &exists):
		return apperr.New(apperr.Conflict, "an account with this email already exists").WithCode(identity.CodeEmailExists)
	case errors.As(err, &weak):
		return &apperr.Error{Kind: apperr.Invalid, Message: "request validation failed", Fields: map[string][]string{"password": {aws.ToString(weak.Message)}}}
	case errors.As(err, &bad):
		return apperr.New(apperr.Invalid, "%s", aws.ToString(bad.Message))
	}
	return apperr.Wrap(err, "cognito sign-up")
}

// Authenticate runs USER_PASSWORD_AUTH and returns the ID token.
func (p *Provider) Authenticate(ctx context.Context, email, password string) (identity.Token, error) {
	out, err := p.api.InitiateAuth(ctx, &cip.InitiateAuthInput{
		AuthFlow:       types.AuthFlowTypeUserPasswordAuth,
		ClientId:       aws.String(p.clientID),
		AuthParameters: map[string]string{"USERNAME": email, "PASSWORD": password},
	})
	var notAuth *types.NotAuthorizedException
	var noUser *types.UserNotFoundException
	var unconfirmed *types.UserNotConfirmedException
	if errors.As(err, &notAuth) || errors.As(err, &noUser) || errors.As(err, &unconfirmed) {
		return identity.Token{}, apperr.New(apperr.Unauthorized, "invalid email or password").WithCode("INVALID_CREDENTIALS")
	}
	if err != nil {
		return identity.Token{}, apperr.Wrap(err, "cognito initiate auth")
	}
	res := out.AuthenticationResult
	if res == nil || res.IdToken == nil {
		return identity.Token{}, apperr.New(apperr.Internal, "cognito returned a challenge (%s), which this flow does not handle", out.ChallengeName)
	}
	return identity.Token{IDToken: aws.ToString(res.IdToken), TokenType: "Bearer", ExpiresIn: int(res.ExpiresIn),
		ExpiresAt: p.now().UTC().Add(time.Duration(res.ExpiresIn) * time.Second).Truncate(time.Second)}, nil
}

// Unregister deletes the Cognito user.
func (p *Provider) Unregister(ctx context.Context, subject string) error {
	_, err := p.api.AdminDeleteUser(ctx, &cip.AdminDeleteUserInput{UserPoolId: aws.String(p.poolID), Username: aws.String(subject)})
	var noUser *types.UserNotFoundException
	if err != nil && !errors.As(err, &noUser) {
		return apperr.Wrap(err, "cognito delete user %s", subject)
	}
	return nil
}

// SetRole writes custom:role.
func (p *Provider) SetRole(ctx context.Context, subject string, role identity.Role) error {
	_, err := p.api.AdminUpdateUserAttributes(ctx, &cip.AdminUpdateUserAttributesInput{
		UserPoolId:     aws.String(p.poolID),
		Username:       aws.String(subject),
		UserAttributes: []types.AttributeType{{Name: aws.String("custom:role"), Value: aws.String(string(role))}},
	})
	if err != nil {
		return apperr.Wrap(err, "cognito set role of %s", subject)
	}
	return nil
}
