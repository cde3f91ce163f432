package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/brightrun/brightrun/pkg/cognito"
	"github.com/brightrun/brightrun/pkg/dashboard"
	"github.com/brightrun/brightrun/pkg/dynamo"
	"github.com/brightrun/brightrun/pkg/httpapi"
	"github.com/brightrun/brightrun/pkg/identity"
	"github.com/brightrun/brightrun/pkg/localidp"
	"github.com/brightrun/brightrun/pkg/route"
	"github.com/brightrun/brightrun/pkg/training"
)

// App holds what a function builds once at cold start.
type App struct {
	Config Config
	Logger *slog.Logger
	AWS    aws.Config
	Store  *dynamo.Store
}

// New builds the App from cfg.
func New(ctx context.Context, cfg Config) (*App, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	return &App{
		Config: cfg,
		Logger: NewLogger(cfg.LogLevel),
		AWS:    awsCfg,
		Store:  dynamo.New(dynamodb.NewFromConfig(awsCfg), cfg.TableName),
	}, nil
}

// Run is the whole of a function's main: it loads the App, lets build
// return the Lambda handler, and starts it. Errors at cold start are logged
// once and end the process, so Lambda reports an init failure.
func Run(build func(ctx context.Context, a *App) (any, error)) {
	ctx := context.Background()
	cfg, err := ConfigFromEnv(os.Getenv)
	if err != nil {
		fail(err)
	}
	a, err := New(ctx, cfg)
	if err != nil {
		fail(err)
	}
	h, err := build(ctx, a)
	if err != nil {
		fail(err)
	}
	lambda.Start(h)
}

func fail(err error) {
	slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("cold start failed", "error", err.Error())
	os.Exit(1)
}

// HTTP adapts fn as the handler of the route served by function name.
func (a *App) HTTP(function string, fn httpapi.HandlerFunc) (httpapi.LambdaFunc, error) {
	r, err := route.ByFunction(function)
	if err != nil {
		return nil, err
	}
	srv := &httpapi.Server{Logger: a.Logger, Idempotency: a.Store}
	return srv.Handle(r, fn), nil
}

// Identity wires the account service to the configured provider.
func (a *App) Identity() (*identity.Service, error) {
	var p identity.Provider
	switch a.Config.IdentityProvider {
	case ProviderLocal:
		key, err := localidp.LoadOrCreateKey(a.Config.LocalKeyFile)
		if err != nil {
			return nil, err
		}
		lp, err := localidp.New(a.Store, localidp.Config{Key: key, Issuer: a.Config.LocalIssuer, Audience: a.Config.LocalAudience})
		if err != nil {
			return nil, err
		}
		p = lp
	default:
		p = cognito.New(cip.NewFromConfig(a.AWS), a.Config.CognitoPoolID, a.Config.CognitoClientID)
	}
	return identity.NewService(p, a.Store, nil), nil
}

// Training wires the estimate service.
func (a *App) Training() *training.Service {
	return &training.Service{Datasets: a.Store, Profiles: a.Store, Spending: a.Store, Now: time.Now}
}

// Dashboard wires the dashboard service.
func (a *App) Dashboard() *dashboard.Service { return dashboard.NewService(a.Store) }
