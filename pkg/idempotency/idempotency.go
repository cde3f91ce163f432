// Package idempotency holds the rules of the Idempotency-Key header: the
// first request with a key runs, later ones with the same key and request
// get the stored answer, the same key with another request is a conflict.
package idempotency

import (
	"context"
	"time"
)

// Header is the request header carrying the key.
const Header = "Idempotency-Key"

// Timings. The lock outlives any Lambda timeout, so a key whose request
// crashed mid-way can be retried once the lock has lapsed.
const (
	TTL  = 24 * time.Hour
	Lock = 2 * time.Minute
)

// Record is a stored key.
type Record struct {
	Fingerprint string
	Done        bool
	Status      int
	Body        string
}

// Store persists keys per user.
type Store interface {
	// ClaimIdempotencyKey takes the key for this request unless it is held
	// (unexpired, and done or locked); then it returns the held record.
	ClaimIdempotencyKey(ctx context.Context, userID, key, fingerprint string, now, lockUntil, expires time.Time) (held Record, claimed bool, err error)
	// CompleteIdempotencyKey stores the answer for replay.
	CompleteIdempotencyKey(ctx context.Context, userID, key string, status int, body string) error
	// ReleaseIdempotencyKey forgets a key whose request failed on our side.
	ReleaseIdempotencyKey(ctx context.Context, userID, key string) error
}
