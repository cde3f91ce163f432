package identity_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/identity"
	"github.com/brightrun/brightrun/pkg/money"
	"github.com/brightrun/brightrun/pkg/optional"
)

// Fakes for pure domain logic: what the service asks of its provider and
// store, recorded.
type fakeProvider struct {
	registered   []identity.Registration
	unregistered []string
	roles        map[string]identity.Role
	registerErr  error
}

func (p *fakeProvider) Register(_ context.Context, r identity.Registration) (string, error) {
	if p.registerErr != nil {
		return "", p.registerErr
	}
	p.registered = append(p.registered, r)
	return "sub-1", nil
}
func (p *fakeProvider) Authenticate(context.Context, string, string) (identity.Token, error) {
	return identity.Token{IDToken: "t"}, nil
}
func (p *fakeProvider) Unregister(_ context.Context, s string) error {
	p.unregistered = append(p.unregistered, s)
	return nil
}
func (p *fakeProvider) SetRole(_ context.Context, s string, r identity.Role) error {
	if p.roles == nil {
		p.roles = map[string]identity.Role{}
	}
	p.roles[s] = r
	return nil
}

type fakeProfiles struct {
	users     map[string]identity.User
	createErr error
	changes   []identity.Change
}

func (f *fakeProfiles) CreateProfile(_ context.Context, u identity.User) error {
	if f.createErr != nil {
		return f.createErr
	}
	if f.users == nil {
		f.users = map[string]identity.User{}
	}
	f.users[u.ID] = u
	return nil
}
func (f *fakeProfiles) Profile(_ context.Context, id string) (identity.User, error) {
	u, ok := f.users[id]
	if !ok {
		return identity.User{}, apperr.NotFoundf("user")
	}
	return u, nil
}
func (f *fakeProfiles) UpdateProfile(_ context.Context, id string, c identity.Change, _ time.Time) (identity.User, error) {
	f.changes = append(f.changes, c)
	u := f.users[id]
	if c.Role != nil {
		u.Role = *c.Role
	}
	return u, nil
}

var (
	ctx   = context.Background()
	clock = func() time.Time { return time.Date(2026, 11, 25, 9, 0, 0, 0, time.FixedZone("CET", 3600)) }
)

func fields(t *testing.T, err error) map[string][]string {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.Invalid {
		t.Fatalf("got %v, want an Invalid error", err)
	}
	return e.Fields
}

func TestSignUpValidation(t *testing.T) {
	org := func(s string) *string { return &s }
	cases := []struct {
		name string
		in   identity.SignUpInput
		bad  []string
	}{
		{"missing everything", identity.SignUpInput{}, []string{"email", "password", "name"}},
		{"email without domain dot", identity.SignUpInput{Email: "a@b", Password: "12345678", Name: "Al"}, []string{"email"}},
		{"display-name email", identity.SignUpInput{Email: "Al <a@b.com>", Password: "12345678", Name: "Al"}, []string{"email"}},
		{"short password", identity.SignUpInput{Email: "a@b.com", Password: "1234567", Name: "Al"}, []string{"password"}},
		{"multibyte password counts runes", identity.SignUpInput{Email: "a@b.com", Password: "ééééééé", Name: "Al"}, []string{"password"}},
		{"password over 72 bytes", identity.SignUpInput{Email: "a@b.com", Password: strings.Repeat("p", 73), Name: "Al"}, []string{"password"}},
		{"name of spaces", identity.SignUpInput{Email: "a@b.com", Password: "12345678", Name: "  A  "}, []string{"name"}},
		{"name too long", identity.SignUpInput{Email: "a@b.com", Password: "12345678", Name: strings.Repeat("n", 101)}, []string{"name"}},
		{"organization too long", identity.SignUpInput{Email: "a@b.com", Password: "12345678", Name: "Al", Organization: org(strings.Repeat("o", 201))}, []string{"organization"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := &fakeProvider{}
			_, err := identity.NewService(p, &fakeProfiles{}, clock).SignUp(ctx, c.in)
			got := fields(t, err)
			if len(got) != len(c.bad) {
				t.Errorf("fields: got %v, want exactly %v", got, c.bad)
			}
			for _, f := range c.bad {
				if len(got[f]) == 0 {
					t.Errorf("fields: got %v, want %q", got, f)
				}
			}
			if len(p.registered) != 0 {
				t.Errorf("invalid input reached the provider: %v", p.registered)
			}
		})
	}
}

func TestSignUpNormalizesAndStores(t *testing.T) {
	p, s := &fakeProvider{}, &fakeProfiles{}
	org := "  "
	u, err := identity.NewService(p, s, clock).SignUp(ctx, identity.SignUpInput{Email: " Ada@Example.COM ", Password: "correct horse", Name: " Ada ", Organization: &org})
	if err != nil {
		t.Fatal(err)
	}
	want := identity.User{ID: "sub-1", Email: "ada@example.com", Name: "Ada", Role: identity.RoleUser, SubscriptionTier: identity.TierFree, CreatedAt: clock().UTC(), UpdatedAt: clock().UTC()}
	if u.ID != want.ID || u.Email != want.Email || u.Name != want.Name || u.Organization != nil || u.Role != want.Role || u.SubscriptionTier != want.SubscriptionTier || !u.CreatedAt.Equal(want.CreatedAt) || u.CreatedAt.Location() != time.UTC {
		t.Fatalf("got %+v, want %+v", u, want)
	}
	if len(p.registered) != 1 || p.registered[0].Email != "ada@example.com" || p.registered[0].Role != identity.RoleUser {
		t.Fatalf("registration: got %+v", p.registered)
	}
	if _, ok := s.users["sub-1"]; !ok {
		t.Fatal("profile not stored")
	}
}

// A profile that cannot be written leaves no account behind.
func TestSignUpRollsBack(t *testing.T) {
	p := &fakeProvider{}
	s := &fakeProfiles{createErr: apperr.Wrap(errors.New("throttled"), "put")}
	_, err := identity.NewService(p, s, clock).SignUp(ctx, identity.SignUpInput{Email: "a@b.com", Password: "12345678", Name: "Al"})
	if apperr.KindOf(err) != apperr.Internal {
		t.Fatalf("got %v, want the store's internal error", err)
	}
	if len(p.unregistered) != 1 || p.unregistered[0] != "sub-1" {
		t.Fatalf("unregistered: got %v, want [sub-1]", p.unregistered)
	}
}

func TestSignUpPassesProviderConflict(t *testing.T) {
	exists := apperr.New(apperr.Conflict, "taken").WithCode(identity.CodeEmailExists)
	_, err := identity.NewService(&fakeProvider{registerErr: exists}, &fakeProfiles{}, clock).SignUp(ctx, identity.SignUpInput{Email: "a@b.com", Password: "12345678", Name: "Al"})
	if e, ok := apperr.As(err); !ok || e.Code != identity.CodeEmailExists {
		t.Fatalf("got %v, want EMAIL_EXISTS", err)
	}
}

func TestUpdateMe(t *testing.T) {
	s := &fakeProfiles{users: map[string]identity.User{"u": {ID: "u", Name: "Ada"}}}
	svc := identity.NewService(&fakeProvider{}, s, clock)
	cases := []struct {
		name  string
		patch identity.ProfilePatch
		bad   []string
		check func(identity.Change) bool
	}{
		{"empty patch changes nothing", identity.ProfilePatch{}, nil, nil},
		{"budget in dollars to micros", identity.ProfilePatch{MonthlyBudget: optional.Of(12.345678)}, nil,
			func(c identity.Change) bool {
				return c.MonthlyBudget.Set && c.MonthlyBudget.Value == money.Amount(12_345_678)
			}},
		{"null budget clears", identity.ProfilePatch{MonthlyBudget: optional.Null[float64]()}, nil,
			func(c identity.Change) bool { return c.MonthlyBudget.Set && c.MonthlyBudget.Null }},
		{"blank organization clears", identity.ProfilePatch{Organization: optional.Of("  ")}, nil,
			func(c identity.Change) bool { return c.Organization.Set && c.Organization.Null }},
		{"trimmed name", identity.ProfilePatch{Name: optional.Of(" Ada K ")}, nil,
			func(c identity.Change) bool { return c.Name != nil && *c.Name == "Ada K" && !c.Organization.Set }},
		{"zero budget", identity.ProfilePatch{MonthlyBudget: optional.Of(0.0)}, []string{"monthly_budget"}, nil},
		{"negative budget", identity.ProfilePatch{MonthlyBudget: optional.Of(-1.0)}, []string{"monthly_budget"}, nil},
		{"budget below a micro-dollar", identity.ProfilePatch{MonthlyBudget: optional.Of(1e-9)}, []string{"monthly_budget"}, nil},
		{"absurd budget", identity.ProfilePatch{MonthlyBudget: optional.Of(1e300)}, []string{"monthly_budget"}, nil},
		{"null name", identity.ProfilePatch{Name: optional.Null[string]()}, []string{"name"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s.changes = nil
			_, err := svc.UpdateMe(ctx, "u", c.patch)
			if len(c.bad) > 0 {
				got := fields(t, err)
				for _, f := range c.bad {
					if len(got[f]) == 0 {
						t.Errorf("fields: got %v, want %q", got, f)
					}
				}
				if len(s.changes) != 0 {
					t.Errorf("invalid patch was written: %+v", s.changes)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.check == nil {
				if len(s.changes) != 0 {
					t.Errorf("empty patch wrote %+v", s.changes)
				}
				return
			}
			if len(s.changes) != 1 || !c.check(s.changes[0]) {
				t.Errorf("change: got %+v", s.changes)
			}
		})
	}
}

func TestUpdateAccount(t *testing.T) {
	p := &fakeProvider{}
	s := &fakeProfiles{users: map[string]identity.User{"u": {ID: "u", Role: identity.RoleUser}}}
	svc := identity.NewService(p, s, clock)
	if _, err := svc.UpdateAccount(ctx, "u", identity.AccountPatch{Role: optional.Of(identity.Role("ROOT")), SubscriptionTier: optional.Of(identity.Tier("GOLD"))}); len(fields(t, err)) != 2 {
		t.Fatalf("got %v, want role and tier errors", err)
	}
	if _, err := svc.UpdateAccount(ctx, "ghost", identity.AccountPatch{Role: optional.Of(identity.RoleAdmin)}); apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("unknown user: got %v, want NotFound", err)
	}
	if len(p.roles) != 0 {
		t.Fatalf("provider changed for an unknown user: %v", p.roles)
	}
	u, err := svc.UpdateAccount(ctx, "u", identity.AccountPatch{Role: optional.Of(identity.RoleBillingAdmin)})
	if err != nil || u.Role != identity.RoleBillingAdmin || p.roles["u"] != identity.RoleBillingAdmin {
		t.Fatalf("got %+v %v, provider roles %v; want BILLING_ADMIN in both", u, err, p.roles)
	}
	// Setting the tier alone does not touch the provider.
	p.roles = nil
	s.users["u"] = u
	if _, err := svc.UpdateAccount(ctx, "u", identity.AccountPatch{SubscriptionTier: optional.Of(identity.TierEnterprise)}); err != nil || p.roles != nil {
		t.Fatalf("tier change: err %v, provider roles %v", err, p.roles)
	}
}

func TestLogInRequiresFields(t *testing.T) {
	svc := identity.NewService(&fakeProvider{}, &fakeProfiles{}, clock)
	got := fields(t, func() error { _, err := svc.LogIn(ctx, identity.LogInInput{Email: " "}); return err }())
	if len(got["email"]) == 0 || len(got["password"]) == 0 {
		t.Fatalf("fields: got %v, want email and password", got)
	}
}

type countingProvider struct {
	fakeProvider
	calls int
}

func (p *countingProvider) Authenticate(context.Context, string, string) (identity.Token, error) {
	p.calls++
	return identity.Token{}, nil
}

// Credentials no account can have never reach the provider.
func TestLogInRejectsImpossibleCredentials(t *testing.T) {
	p := &countingProvider{}
	svc := identity.NewService(p, &fakeProfiles{}, clock)
	for _, in := range []identity.LogInInput{
		{Email: "a@b.com", Password: strings.Repeat("p", 73)},
		{Email: strings.Repeat("e", 250) + "@b.com", Password: "12345678"},
	} {
		_, err := svc.LogIn(ctx, in)
		if e, ok := apperr.As(err); !ok || e.Kind != apperr.Unauthorized || e.Code != "INVALID_CREDENTIALS" {
			t.Errorf("got %v, want INVALID_CREDENTIALS", err)
		}
	}
	if p.calls != 0 {
		t.Fatalf("the provider was called %d times", p.calls)
	}
}
