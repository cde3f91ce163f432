package dynamo

// Exported for the external tests, which cannot import testkit from
// package dynamo itself (testkit imports dynamo).
var (
	EncodeCursor = encodeCursor
	DecodeCursor = decodeCursor
)
