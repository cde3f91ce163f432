package localidp

import (
	"context"
	"crypto/rsa"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oklog/ulid/v2"
	"golang.org/x/crypto/bcrypt"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/identity"
)

// TokenTTL matches Cognito's default ID token validity.
const TokenTTL = time.Hour

// MinCost is the lowest bcrypt cost accepted (the specification asks for
// salt rounds >= 10).
const MinCost = 10

// CredentialStore keeps password credentials.
type CredentialStore interface {
	CreateCredential(ctx context.Context, c identity.Credential) error
	CredentialByEmail(ctx context.Context, email string) (identity.Credential, error)
	DeleteCredential(ctx context.Context, subject string) error
	SetCredentialRole(ctx context.Context, subject string, role identity.Role) error
}

// Provider implements identity.Provider for development.
type Provider struct {
	store    CredentialStore
	key      *rsa.PrivateKey
	kid      string
	issuer   string
	audience string
	cost     int
	now      func() time.Time
	// dummy is compared against when the email is unknown, so a miss costs
	// as much time as a wrong password and does not reveal which it was.
	dummy []byte
}

// Config configures a Provider.
type Config struct {
	Key      *rsa.PrivateKey
	Issuer   string // the token's iss; the gateway checks it
	Audience string // the token's aud (Cognito: the app client id)
	Cost     int    // bcrypt cost; 0 means MinCost
	Now      func() time.Time
}

// New returns a Provider.
func New(store CredentialStore, c Config) (*Provider, error) {
	if c.Cost == 0 {
		c.Cost = MinCost
	}
	if c.Cost < MinCost {
		return nil, apperr.New(apperr.Internal, "bcrypt cost %d is below %d", c.Cost, MinCost)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("not-a-password"), c.Cost)
	if err != nil {
		return nil, err
	}
	return &Provider{store: store, key: c.Key, kid: KeyID(&c.Key.PublicKey), issuer: c.Issuer, audience: c.Audience, cost: c.Cost, now: c.Now, dummy: dummy}, nil
}

// Register hashes the password and stores the credential.
func (p *Provider) Register(ctx context.Context, r identity.Registration) (string, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(r.Password), p.cost)
	if err != nil {
		return "", apperr.Wrap(err, "hash password")
	}
	sub := ulid.Make().String()
	err = p.store.CreateCredential(ctx, identity.Credential{Subject: sub, Email: r.Email, PasswordHash: string(hash), Name: r.Name, Role: r.Role})
	if err != nil {
		return "", err
	}
	return sub, nil
}

// Authenticate checks the password and signs an ID token.
func (p *Provider) Authenticate(ctx context.Context, email, password string) (identity.Token, error) {
	wrong := apperr.New(apperr.Unauthorized, "invalid email or password").WithCode("INVALID_CREDENTIALS")
	c, err := p.store.CredentialByEmail(ctx, email)
	if apperr.KindOf(err) == apperr.NotFound {
		_ = bcrypt.CompareHashAndPassword(p.dummy, []byte(password))
		return identity.Token{}, wrong
	}
	if err != nil {
		return identity.Token{}, err
	}
	if bcrypt.CompareHashAndPassword([]byte(c.PasswordHash), []byte(password)) != nil {
		return identity.Token{}, wrong
	}
	now := p.now().UTC().Truncate(time.Second)
	exp := now.Add(TokenTTL)
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"sub": c.Subject, "email": c.Email, "name": c.Name, "custom:role": string(c.Role),
		"iss": p.issuer, "aud": p.audience, "token_use": "id",
		"iat": now.Unix(), "auth_time": now.Unix(), "exp": exp.Unix(),
	})
	tok.Header["kid"] = p.kid
	signed, err := tok.SignedString(p.key)
	if err != nil {
		return identity.Token{}, apperr.Wrap(err, "sign token")
	}
	return identity.Token{IDToken: signed, TokenType: "Bearer", ExpiresIn: int(TokenTTL.Seconds()), ExpiresAt: exp}, nil
}

// Unregister deletes the credential.
func (p *Provider) Unregister(ctx context.Context, subject string) error {
	return p.store.DeleteCredential(ctx, subject)
}

// SetRole changes the role claim of future tokens.
func (p *Provider) SetRole(ctx context.Context, subject string, role identity.Role) error {
	return p.store.SetCredentialRole(ctx, subject, role)
}
