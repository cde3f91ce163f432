// Package eventbus publishes BrightRun events to EventBridge with the
// unchanged SDK client (locally pointed at the stand-in bus).
package eventbus

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/event"
)

// Bus puts events on one event bus.
type Bus struct {
	client *eventbridge.Client
	name   string
}

// New returns a Bus.
func New(c *eventbridge.Client, busName string) *Bus { return &Bus{client: c, name: busName} }

// Put publishes one event with the given detail type.
func (b *Bus) Put(ctx context.Context, detailType string, detail any) error {
	raw, err := json.Marshal(detail)
	if err != nil {
		return apperr.Wrap(err, "marshal %s", detailType)
	}
	out, err := b.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{{
		EventBusName: aws.String(b.name), Source: aws.String(event.Source), DetailType: aws.String(detailType), Detail: aws.String(string(raw)),
	}}})
	if err != nil {
		return apperr.Wrap(err, "put %s", detailType)
	}
	if out.FailedEntryCount > 0 {
		e := out.Entries[0]
		return apperr.Wrap(fmt.Errorf("%s: %s", aws.ToString(e.ErrorCode), aws.ToString(e.ErrorMessage)), "put %s", detailType)
	}
	return nil
}
