// Package invoke starts Lambda functions asynchronously (InvocationType
// Event): Lambda queues the event and retries a failed run twice.
package invoke

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/brightrun/brightrun/pkg/apperr"
)

// Async invokes one function with a JSON payload.
type Async struct {
	client   *lambda.Client
	function string
}

// New returns an Async for function (a name or ARN).
func New(c *lambda.Client, function string) *Async { return &Async{client: c, function: function} }

// Send queues payload for the function.
func (a *Async) Send(ctx context.Context, payload any) error {
	raw, err := json.Marshal(payload)
	if err != nil {
		return apperr.Wrap(err, "marshal payload for %s", a.function)
	}
	_, err = a.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(a.function), InvocationType: types.InvocationTypeEvent, Payload: raw})
	if err != nil {
		return apperr.Wrap(err, "invoke %s", a.function)
	}
	return nil
}
