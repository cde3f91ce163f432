package identity

import (
	"context"
	"errors"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/money"
	"github.com/brightrun/brightrun/pkg/optional"
)

// Codes refining error kinds for accounts.
const (
	CodeEmailExists = "EMAIL_EXISTS" // Conflict: sign-up with a taken email
	// CodePasswordResetRequired refines Unauthorized on log-in when an
	// operator forced a password reset (Cognito).
	CodePasswordResetRequired = "PASSWORD_RESET_REQUIRED"
)

// Limits from the specification (FR-1.4.1). Passwords stop at 72 bytes
// because bcrypt ignores everything after that; accepting longer ones would
// make two different passwords equal.
const (
	minPassword     = 8
	maxPasswordByte = 72
	minName         = 2
	maxName         = 100
	maxOrganization = 200
	maxEmail        = 254
)

// Service implements the account use cases.
type Service struct {
	provider Provider
	profiles Profiles
	now      func() time.Time
}

// NewService returns a Service; now defaults to time.Now.
func NewService(p Provider, s Profiles, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{provider: p, profiles: s, now: now}
}

// SignUpInput is the sign-up request body.
type SignUpInput struct {
	Email        string  `json:"email"`
	Password     string  `json:"password"`
	Name         string  `json:"name"`
	Organization *string `json:"organization"`
}

// SignUp creates an account and its profile, or nothing at all.
func (s *Service) SignUp(ctx context.Context, in SignUpInput) (User, error) {
	fields := apperr.Fields{}
	email := normalizeEmail(in.Email)
	checkEmail(fields, email)
	if n := utf8.RuneCountInString(in.Password); n < minPassword {
		fields.Add("password", "must be at least %d characters", minPassword)
	} else if len(in.Password) > maxPasswordByte {
		fields.Add("password", "must be at most %d bytes", maxPasswordByte)
	}
	name := strings.TrimSpace(in.Name)
	checkName(fields, name)
	org := checkOrganization(fields, in.Organization)
	if err := fields.Err(); err != nil {
		return User{}, err
	}

	sub, err := s.provider.Register(ctx, Registration{Email: email, Password: in.Password, Name: name, Role: RoleUser})
	if err != nil {
		return User{}, err
	}
	now := s.now().UTC()
	u := User{ID: sub, Email: email, Name: name, Organization: org, Role: RoleUser, SubscriptionTier: TierFree, CreatedAt: now, UpdatedAt: now}
	if err := s.profiles.CreateProfile(ctx, u); err != nil {
		if uerr := s.provider.Unregister(ctx, sub); uerr != nil {
			return User{}, apperr.Wrap(errors.Join(err, uerr), "sign-up: profile write and rollback both failed for %s", sub)
		}
		return User{}, err
	}
	return u, nil
}

// LogInInput is the log-in request body.
type LogInInput struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// LogIn exchanges credentials for an ID token.
func (s *Service) LogIn(ctx context.Context, in LogInInput) (Token, error) {
	fields := apperr.Fields{}
	email := normalizeEmail(in.Email)
	if email == "" {
		fields.Add("email", "is required")
	}
	if in.Password == "" {
		fields.Add("password", "is required")
	}
	if err := fields.Err(); err != nil {
		return Token{}, err
	}
	if len(email) > maxEmail || len(in.Password) > maxPasswordByte {
		// No account can have these: answer like any wrong credential
		// without sending oversized input to the provider.
		return Token{}, apperr.New(apperr.Unauthorized, "invalid email or password").WithCode("INVALID_CREDENTIALS")
	}
	return s.provider.Authenticate(ctx, email, in.Password)
}

// Me returns the caller's profile.
func (s *Service) Me(ctx context.Context, userID string) (User, error) {
	return s.profiles.Profile(ctx, userID)
}

// ProfilePatch is the PATCH /api/me body. Absent fields stay unchanged;
// null clears organization and monthly_budget.
type ProfilePatch struct {
	Name          optional.Value[string]  `json:"name"`
	Organization  optional.Value[string]  `json:"organization"`
	MonthlyBudget optional.Value[float64] `json:"monthly_budget"`
}

// Change is a validated profile update; nil/unset fields stay unchanged.
type Change struct {
	Name          *string
	Organization  optional.Value[string]
	MonthlyBudget optional.Value[money.Amount]
	Role          *Role
	Tier          *Tier
}

// Empty reports whether the change would change nothing.
func (c Change) Empty() bool {
	return c.Name == nil && !c.Organization.Set && !c.MonthlyBudget.Set && c.Role == nil && c.Tier == nil
}

// UpdateMe changes the caller's own name, organization and budget.
func (s *Service) UpdateMe(ctx context.Context, userID string, p ProfilePatch) (User, error) {
	fields := apperr.Fields{}
	var c Change
	if p.Name.Set {
		name := strings.TrimSpace(p.Name.Value)
		if p.Name.Null {
			fields.Add("name", "cannot be null")
		} else {
			checkName(fields, name)
		}
		c.Name = &name
	}
	if p.Organization.Set {
		if p.Organization.Null {
			c.Organization = optional.Null[string]()
		} else if org := checkOrganization(fields, &p.Organization.Value); org == nil {
			c.Organization = optional.Null[string]()
		} else {
			c.Organization = optional.Of(*org)
		}
	}
	if p.MonthlyBudget.Set {
		if p.MonthlyBudget.Null {
			c.MonthlyBudget = optional.Null[money.Amount]()
		} else if amount, err := money.Dollars(p.MonthlyBudget.Value); err != nil || amount <= 0 {
			fields.Add("monthly_budget", "must be a positive dollar amount or null")
		} else {
			c.MonthlyBudget = optional.Of(amount)
		}
	}
	if err := fields.Err(); err != nil {
		return User{}, err
	}
	if c.Empty() {
		return s.profiles.Profile(ctx, userID)
	}
	return s.profiles.UpdateProfile(ctx, userID, c, s.now().UTC())
}

// AccountPatch is an administrator's change to another user's account.
type AccountPatch struct {
	Role             optional.Value[Role] `json:"role"`
	SubscriptionTier optional.Value[Tier] `json:"subscription_tier"`
}

// UpdateAccount changes a user's role or tier. The provider is updated
// first because it issues the role claim; both writes are idempotent, so a
// failure between them is repaired by repeating the request.
func (s *Service) UpdateAccount(ctx context.Context, userID string, p AccountPatch) (User, error) {
	fields := apperr.Fields{}
	var c Change
	if p.Role.Set {
		if p.Role.Null || !slices.Contains(Roles, p.Role.Value) {
			fields.Add("role", "must be one of USER, ADMIN, BILLING_ADMIN")
		} else {
			c.Role = &p.Role.Value
		}
	}
	if p.SubscriptionTier.Set {
		if p.SubscriptionTier.Null || !slices.Contains(Tiers, p.SubscriptionTier.Value) {
			fields.Add("subscription_tier", "must be one of FREE, STARTER, PROFESSIONAL, ENTERPRISE")
		} else {
			c.Tier = &p.SubscriptionTier.Value
		}
	}
	if err := fields.Err(); err != nil {
		return User{}, err
	}
	current, err := s.profiles.Profile(ctx, userID)
	if err != nil {
		return User{}, err
	}
	if c.Empty() {
		return current, nil
	}
	if c.Role != nil && *c.Role != current.Role {
		if err := s.provider.SetRole(ctx, userID, *c.Role); err != nil {
			return User{}, err
		}
	}
	return s.profiles.UpdateProfile(ctx, userID, c, s.now().UTC())
}

func normalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

func checkEmail(f apperr.Fields, email string) {
	if email == "" {
		f.Add("email", "is required")
		return
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || len(email) > maxEmail || !strings.Contains(email[strings.LastIndexByte(email, '@'):], ".") {
		f.Add("email", "must be a valid email address")
	}
}

func checkName(f apperr.Fields, name string) {
	if n := utf8.RuneCountInString(name); n < minName || n > maxName {
		f.Add("name", "must be %d to %d characters", minName, maxName)
	}
}

// checkOrganization trims it and maps "" to nil.
func checkOrganization(f apperr.Fields, org *string) *string {
	if org == nil {
		return nil
	}
	o := strings.TrimSpace(*org)
	if o == "" {
		return nil
	}
	if utf8.RuneCountInString(o) > maxOrganization {
		f.Add("organization", "must be at most %d characters", maxOrganization)
	}
	return &o
}
