// Package event names every event BrightRun puts on its EventBridge bus and
// the detail each carries. Producers, infra rules and the local router use
// these names and patterns, so they cannot drift apart.
package event

// Source is the source of every BrightRun event.
const Source = "brightrun"

// Detail types.
const (
	DatasetValidated = "DatasetValidated"
)

// DatasetValidatedDetail is emitted once per finished validation run;
// consumers deduplicate by Run (a retried run may emit it again).
type DatasetValidatedDetail struct {
	UserID        string `json:"user_id"`
	DatasetID     string `json:"dataset_id"`
	Run           string `json:"run"`
	Name          string `json:"name"`
	Status        string `json:"status"` // ready or error
	TrainingReady bool   `json:"training_ready"`
	Format        string `json:"format,omitempty"`
	Conversations int    `json:"conversations"`
	TotalTokens   int64  `json:"total_tokens"`
	ErrorCount    int    `json:"error_count"`
	ErrorMessage  string `json:"error_message,omitempty"`
}

// Pattern is an EventBridge event pattern for detail types of our source.
type Pattern struct {
	Source     []string `json:"source"`
	DetailType []string `json:"detail-type"`
}

// PatternFor matches the given detail types.
func PatternFor(detailTypes ...string) Pattern {
	return Pattern{Source: []string{Source}, DetailType: detailTypes}
}
