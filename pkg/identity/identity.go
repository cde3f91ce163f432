// Package identity holds accounts: sign-up, log-in, the caller's profile and
// role changes. It talks to an identity Provider (Cognito in AWS, a local
// provider in development) and a profile store through interfaces it owns,
// so handlers cannot tell which provider is behind them.
package identity

import (
	"context"
	"time"

	"github.com/brightrun/brightrun/pkg/money"
	"github.com/brightrun/brightrun/pkg/route"
)

// Role is the user's authorization role.
type Role string

const (
	RoleUser         Role = route.RoleUser
	RoleAdmin        Role = route.RoleAdmin
	RoleBillingAdmin Role = route.RoleBillingAdmin
)

// Roles lists every role, for validation.
var Roles = []Role{RoleUser, RoleAdmin, RoleBillingAdmin}

// Tier is the subscription tier.
type Tier string

const (
	TierFree         Tier = "FREE"
	TierStarter      Tier = "STARTER"
	TierProfessional Tier = "PROFESSIONAL"
	TierEnterprise   Tier = "ENTERPRISE"
)

// Tiers lists every tier, for validation.
var Tiers = []Tier{TierFree, TierStarter, TierProfessional, TierEnterprise}

// User is a profile as the API shows it. Money is stored as integer
// micro-dollars and shown as a dollar number.
type User struct {
	ID               string        `json:"id"`
	Email            string        `json:"email"`
	Name             string        `json:"name"`
	Organization     *string       `json:"organization"`
	Role             Role          `json:"role"`
	SubscriptionTier Tier          `json:"subscription_tier"`
	MonthlyBudget    *money.Amount `json:"monthly_budget"`
	CreatedAt        time.Time     `json:"created_at"`
	UpdatedAt        time.Time     `json:"updated_at"`
}

// Registration is what a Provider needs to create an account.
type Registration struct {
	Email    string
	Password string
	Name     string
	Role     Role
}

// Token is an issued ID token.
type Token struct {
	IDToken   string    `json:"id_token"`
	TokenType string    `json:"token_type"`
	ExpiresIn int       `json:"expires_in"` // seconds
	ExpiresAt time.Time `json:"expires_at"`
}

// Provider creates accounts and authenticates them. Register returns the
// subject (the token's `sub`), which is also the user id. It returns an
// apperr Conflict with code EMAIL_EXISTS for a taken email, and
// Authenticate an Unauthorized error that never says which part was wrong.
type Provider interface {
	Register(ctx context.Context, r Registration) (subject string, err error)
	Authenticate(ctx context.Context, email, password string) (Token, error)
	// Unregister removes an account whose profile could not be written,
	// so a failed sign-up leaves nothing behind.
	Unregister(ctx context.Context, subject string) error
	// SetRole changes the role claim carried by future tokens.
	SetRole(ctx context.Context, subject string, role Role) error
}

// Profiles stores user profiles.
type Profiles interface {
	// CreateProfile fails with Conflict if the id exists.
	CreateProfile(ctx context.Context, u User) error
	// Profile returns NotFound for an unknown id.
	Profile(ctx context.Context, id string) (User, error)
	// UpdateProfile applies a change to an existing profile and returns it.
	UpdateProfile(ctx context.Context, id string, c Change, now time.Time) (User, error)
}

// Credential is a password credential kept by the development identity
// provider (in AWS, Cognito keeps them). It lives in the domain so the
// provider and the store it uses need not know each other.
type Credential struct {
	Subject      string
	Email        string
	PasswordHash string
	Name         string
	Role         Role
}
