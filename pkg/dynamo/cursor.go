package dynamo

import (
	"encoding/base64"
	"encoding/json"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/dynamo/schema"
)

// A cursor is an opaque, URL-safe token for DynamoDB's LastEvaluatedKey.
// It names its owner and listing, and decoding checks both plus that the
// start key lies in the owner's partition. So a cursor cannot be replayed
// against another user's data: a forged one can at most skip within the
// caller's own partition. Cursors are not secret and need no server key.
type cursor struct {
	Owner string            `json:"o"`
	List  string            `json:"l"`
	Key   map[string]string `json:"k"`
}

func encodeCursor(owner, list string, key map[string]string) string {
	if len(key) == 0 {
		return ""
	}
	b, _ := json.Marshal(cursor{Owner: owner, List: list, Key: key})
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor returns the start key, or an Invalid error naming "cursor".
// partitionAttr/partitionValue is the partition the listing queries.
func decodeCursor(token, owner, list, partitionAttr, partitionValue string) (map[string]string, error) {
	if token == "" {
		return nil, nil
	}
	bad := &apperr.Error{Kind: apperr.Invalid, Message: "request validation failed", Fields: map[string][]string{"cursor": {"is not a valid cursor for this list"}}}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return nil, bad
	}
	var c cursor
	if json.Unmarshal(raw, &c) != nil || c.Owner != owner || c.List != list || c.Key[partitionAttr] != partitionValue || c.Key[schema.PK] == "" || c.Key[schema.SK] == "" {
		return nil, bad
	}
	return c.Key, nil
}
