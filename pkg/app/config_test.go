package app

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestConfigFromEnv(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		wantErr string // substring; "" means valid
		check   func(Config) bool
	}{
		{"cognito by default", map[string]string{"TABLE_NAME": "t", "COGNITO_USER_POOL_ID": "p", "COGNITO_CLIENT_ID": "c"}, "",
			func(c Config) bool { return c.IdentityProvider == ProviderCognito && c.LogLevel == slog.LevelInfo }},
		{"local", map[string]string{"TABLE_NAME": "t", "IDENTITY_PROVIDER": "local", "LOCAL_IDP_KEY_FILE": "k", "LOCAL_IDP_ISSUER": "i", "LOCAL_IDP_AUDIENCE": "a", "LOG_LEVEL": "debug"}, "",
			func(c Config) bool { return c.LocalKeyFile == "k" && c.LogLevel == slog.LevelDebug }},
		{"everything missing", map[string]string{}, "TABLE_NAME, COGNITO_USER_POOL_ID, COGNITO_CLIENT_ID", nil},
		{"local keys missing", map[string]string{"TABLE_NAME": "t", "IDENTITY_PROVIDER": "local"}, "LOCAL_IDP_KEY_FILE, LOCAL_IDP_ISSUER, LOCAL_IDP_AUDIENCE", nil},
		{"unknown provider", map[string]string{"TABLE_NAME": "t", "IDENTITY_PROVIDER": "ldap"}, `IDENTITY_PROVIDER must be "cognito" or "local"`, nil},
		{"bad log level", map[string]string{"TABLE_NAME": "t", "COGNITO_USER_POOL_ID": "p", "COGNITO_CLIENT_ID": "c", "LOG_LEVEL": "loud"}, "LOG_LEVEL", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := ConfigFromEnv(func(k string) string { return c.env[k] })
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil || !c.check(cfg) {
				t.Fatalf("got %+v, %v", cfg, err)
			}
		})
	}
}

func TestSeconds(t *testing.T) {
	const def, max = 2 * time.Second, 60 * time.Second
	tests := []struct {
		v       string
		want    time.Duration
		wantErr bool
	}{
		{"", def, false},
		{"0.2", 200 * time.Millisecond, false},
		{"60", max, false},
		{"60.5", 0, true},
		{"0", 0, true},
		{"-1", 0, true},
		{"two", 0, true},
		{"1e-12", 0, true}, // rounds to no time at all
	}
	for _, tt := range tests {
		got, err := Seconds("X_SECONDS", tt.v, def, max)
		if tt.wantErr {
			if err == nil || !strings.Contains(err.Error(), "X_SECONDS must be a number of seconds in (0, 60]") {
				t.Errorf("%q: got %v, %v; want an error naming X_SECONDS and its range", tt.v, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: got %v, %v; want %v", tt.v, got, err, tt.want)
		}
	}
}
