package dynamo

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/dynamo/schema"
	"github.com/brightrun/brightrun/pkg/identity"
	"github.com/brightrun/brightrun/pkg/money"
)

type profileItem struct {
	PK            string  `dynamodbav:"PK"`
	SK            string  `dynamodbav:"SK"`
	Entity        string  `dynamodbav:"entity"`
	ID            string  `dynamodbav:"id"`
	Email         string  `dynamodbav:"email"`
	Name          string  `dynamodbav:"name"`
	Organization  *string `dynamodbav:"organization,omitempty"`
	Role          string  `dynamodbav:"role"`
	Tier          string  `dynamodbav:"tier"`
	MonthlyBudget *int64  `dynamodbav:"monthlyBudget,omitempty"`
	CreatedAt     string  `dynamodbav:"createdAt"`
	UpdatedAt     string  `dynamodbav:"updatedAt"`
}

func (p profileItem) user() identity.User {
	u := identity.User{ID: p.ID, Email: p.Email, Name: p.Name, Organization: p.Organization, Role: identity.Role(p.Role), SubscriptionTier: identity.Tier(p.Tier)}
	if p.MonthlyBudget != nil {
		b := money.Amount(*p.MonthlyBudget)
		u.MonthlyBudget = &b
	}
	u.CreatedAt, _ = time.Parse(time.RFC3339Nano, p.CreatedAt)
	u.UpdatedAt, _ = time.Parse(time.RFC3339Nano, p.UpdatedAt)
	return u
}

// CreateProfile writes a new profile; an existing id is a Conflict.
func (s *Store) CreateProfile(ctx context.Context, u identity.User) error {
	it := profileItem{PK: userPK(u.ID), SK: profileSK, Entity: "user", ID: u.ID, Email: u.Email, Name: u.Name, Organization: u.Organization,
		Role: string(u.Role), Tier: string(u.SubscriptionTier), CreatedAt: u.CreatedAt.Format(time.RFC3339Nano), UpdatedAt: u.UpdatedAt.Format(time.RFC3339Nano)}
	if u.MonthlyBudget != nil {
		b := int64(*u.MonthlyBudget)
		it.MonthlyBudget = &b
	}
	return s.putNew(ctx, it, "user", u.ID)
}

// Profile returns a user's profile, or NotFound.
func (s *Store) Profile(ctx context.Context, id string) (identity.User, error) {
	var it profileItem
	found, err := s.get(ctx, userPK(id), profileSK, &it)
	if err != nil {
		return identity.User{}, err
	}
	if !found {
		return identity.User{}, apperr.NotFoundf("user")
	}
	return it.user(), nil
}

// UpdateProfile applies c to an existing profile in one conditional write.
func (s *Store) UpdateProfile(ctx context.Context, id string, c identity.Change, now time.Time) (identity.User, error) {
	upd := expression.Set(expression.Name("updatedAt"), expression.Value(now.Format(time.RFC3339Nano)))
	if c.Name != nil {
		upd.Set(expression.Name("name"), expression.Value(*c.Name))
	}
	if c.Organization.Set {
		if c.Organization.Null {
			upd.Remove(expression.Name("organization"))
		} else {
			upd.Set(expression.Name("organization"), expression.Value(c.Organization.Value))
		}
	}
	if c.MonthlyBudget.Set {
		if c.MonthlyBudget.Null {
			upd.Remove(expression.Name("monthlyBudget"))
		} else {
			upd.Set(expression.Name("monthlyBudget"), expression.Value(int64(c.MonthlyBudget.Value)))
		}
	}
	if c.Role != nil {
		upd.Set(expression.Name("role"), expression.Value(string(*c.Role)))
	}
	if c.Tier != nil {
		upd.Set(expression.Name("tier"), expression.Value(string(*c.Tier)))
	}
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(expression.AttributeExists(expression.Name(schema.PK))).Build()
	if err != nil {
		return identity.User{}, apperr.Wrap(err, "build profile update")
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(userPK(id), profileSK),
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ReturnValues:              types.ReturnValueAllNew,
	})
	if conditionFailed(err) {
		return identity.User{}, apperr.NotFoundf("user")
	}
	if err != nil {
		return identity.User{}, apperr.Wrap(err, "update profile %s", id)
	}
	var it profileItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &it); err != nil {
		return identity.User{}, apperr.Wrap(err, "unmarshal profile %s", id)
	}
	return it.user(), nil
}
