// Package cognito implements identity.Provider on an Amazon Cognito user
// pool: email is the username, the user id is Cognito's sub, and the role
// is the custom:role attribute, which the app client cannot write, so only
// these admin calls can change it.
//
// Accounts are created with the admin API only. The pool has self sign-up
// off: its app client id is public (the `aud` of every ID token), and with
// self sign-up on anyone could call SignUp with someone else's email and
// leave an unconfirmed user that blocks the real sign-up (see
// docs/adr/0002-identity.md).
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

// rollbackTimeout bounds the AdminDeleteUser that undoes a half-created
// account. It runs detached from the request's cancellation: a cancelled
// request must not leave a user behind that blocks the email.
const rollbackTimeout = 10 * time.Second

// API is the part of the Cognito client the provider uses.
type API interface {
	AdminCreateUser(ctx context.Context, in *cip.AdminCreateUserInput, opts ...func(*cip.Options)) (*cip.AdminCreateUserOutput, error)
	AdminSetUserPassword(ctx context.Context, in *cip.AdminSetUserPasswordInput, opts ...func(*cip.Options)) (*cip.AdminSetUserPasswordOutput, error)
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

// Register creates the user with the admin API (no invitation mail; the
// email is taken as given and marked verified, see
// docs/adr/0002-identity.md), with its name and role, then sets the
// password as permanent, which confirms the account. If the password cannot
// be set, the user is deleted again, so a failed sign-up leaves nothing
// behind. The caller (identity.Service) has validated every field, so an
// InvalidParameterException is a misconfiguration, not a client error.
func (p *Provider) Register(ctx context.Context, r identity.Registration) (string, error) {
	out, err := p.api.AdminCreateUser(ctx, &cip.AdminCreateUserInput{
		UserPoolId:    aws.String(p.poolID),
		Username:      aws.String(r.Email),
		MessageAction: types.MessageActionTypeSuppress,
		UserAttributes: []types.AttributeType{
			{Name: aws.String("email"), Value: aws.String(r.Email)},
			{Name: aws.String("email_verified"), Value: aws.String("true")},
			{Name: aws.String("name"), Value: aws.String(r.Name)},
			{Name: aws.String("custom:role"), Value: aws.String(string(r.Role))},
		},
	})
	if err != nil {
		var exists *types.UsernameExistsException
		if errors.As(err, &exists) {
			return "", apperr.New(apperr.Conflict, "an account with this email already exists").WithCode(identity.CodeEmailExists)
		}
		return "", apperr.Wrap(err, "cognito admin create user")
	}
	sub := subject(out.User)
	if sub == "" {
		// AdminCreateUser always returns the user; without its sub the
		// account cannot be used, so undo it by its email.
		return "", p.rollback(ctx, r.Email, apperr.New(apperr.Internal, "cognito admin create user returned no sub for the new user"))
	}
	_, err = p.api.AdminSetUserPassword(ctx, &cip.AdminSetUserPasswordInput{
		UserPoolId: aws.String(p.poolID),
		Username:   aws.String(sub),
		Password:   aws.String(r.Password),
		Permanent:  true,
	})
	if err != nil {
		return "", p.rollback(ctx, sub, setPasswordError(err, sub))
	}
	return sub, nil
}

// rollback deletes the half-created user (by sub, or email) after failed
// and returns failed, or an internal error carrying both if the delete
// fails too (the user is then left in FORCE_CHANGE_PASSWORD and blocks its
// email until an operator deletes it).
func (p *Provider) rollback(ctx context.Context, username string, failed error) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	if uerr := p.Unregister(rctx, username); uerr != nil {
		return apperr.Wrap(errors.Join(failed, uerr), "sign-up failed and its rollback too; delete user %s by hand", username)
	}
	return failed
}

// subject is the new user's sub: its `sub` attribute, or the username,
// which Cognito sets to the sub in a pool whose username is the email.
func subject(u *types.UserType) string {
	if u == nil {
		return ""
	}
	for _, a := range u.Attributes {
		if aws.ToString(a.Name) == "sub" && aws.ToString(a.Value) != "" {
			return aws.ToString(a.Value)
		}
	}
	return aws.ToString(u.Username)
}

// setPasswordError maps a failed AdminSetUserPassword: a password that
// breaks the pool's policy is the client's, everything else is ours.
func setPasswordError(err error, sub string) error {
	var weak *types.InvalidPasswordException
	if errors.As(err, &weak) {
		return &apperr.Error{Kind: apperr.Invalid, Message: "request validation failed", Fields: map[string][]string{"password": {aws.ToString(weak.Message)}}}
	}
	return apperr.Wrap(err, "cognito admin set user password of %s", sub)
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
	var reset *types.PasswordResetRequiredException
	switch {
	case errors.As(err, &notAuth) || errors.As(err, &noUser) || errors.As(err, &unconfirmed):
		return identity.Token{}, apperr.New(apperr.Unauthorized, "invalid email or password").WithCode("INVALID_CREDENTIALS")
	case errors.As(err, &reset):
		// An operator forced a reset (AdminResetUserPassword, which
		// invalidates the password). Not a wrong password: saying so lets
		// the user act. It tells whoever asks that the email has an
		// account, as sign-up's EMAIL_EXISTS already does, and only for
		// accounts an operator reset.
		return identity.Token{}, apperr.New(apperr.Unauthorized, "a password reset is required for this account").WithCode(identity.CodePasswordResetRequired)
	case err != nil:
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
