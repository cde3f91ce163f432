package dataset

import (
	"time"
)

// Status is a dataset's lifecycle state.
type Status string

const (
	StatusUploading  Status = "uploading"  // created; the file is being uploaded
	StatusValidating Status = "validating" // the file is there; the validator runs
	StatusReady      Status = "ready"      // valid: training_ready
	StatusError      Status = "error"      // the file has errors, listed with lines
)

// Statuses lists every status, for filters.
var Statuses = []Status{StatusUploading, StatusValidating, StatusReady, StatusError}

// Limits from FR-2 and the datasets issue.
const (
	MaxFileSize     int64 = 10 << 30  // 10 GiB
	SinglePutMax    int64 = 100 << 20 // above this, multipart
	PartSize        int64 = 64 << 20  // multipart part size: 10 GiB is 160 parts
	maxName               = 200
	maxDescription        = 5000
	maxFileName           = 255
	UploadURLTTL          = time.Hour
	sampleMaxTurns        = 12   // per sample conversation, to keep the item small
	sampleMaxChars        = 1000 // per sample turn content
	validationLease       = 20 * time.Minute
)

// Dataset is a user's dataset as the API shows it (the spec's Dataset type
// plus the statistics and report of the datasets issue).
type Dataset struct {
	ID            string  `json:"id"`
	UserID        string  `json:"user_id"`
	Name          string  `json:"name"`
	Description   *string `json:"description"`
	Format        *Format `json:"format"` // declared at creation or detected; null until known
	Status        Status  `json:"status"`
	StorageBucket string  `json:"storage_bucket"`
	StoragePath   string  `json:"storage_path"` // the object key; never a URL
	FileName      string  `json:"file_name"`
	FileSize      int64   `json:"file_size"`

	TotalTrainingPairs      *int64   `json:"total_training_pairs"`
	TotalValidationPairs    *int64   `json:"total_validation_pairs"`
	TotalTokens             *int64   `json:"total_tokens"`
	AvgTurnsPerConversation *float64 `json:"avg_turns_per_conversation"`
	AvgTokensPerTurn        *float64 `json:"avg_tokens_per_turn"`
	Statistics              *Stats   `json:"statistics"` // everything the validator measured
	SHA256                  *string  `json:"sha256"`

	TrainingReady    bool           `json:"training_ready"`
	ErrorMessage     *string        `json:"error_message"`
	ErrorCount       int            `json:"error_count"`
	WarningCount     int            `json:"warning_count"`
	CountsByCode     map[Code]int   `json:"counts_by_code,omitempty"`
	ValidationErrors []Issue        `json:"validation_errors"` // first 100 errors and 100 warnings; only on GET by id
	IssuesTruncated  bool           `json:"issues_truncated"`
	SampleData       []Conversation `json:"sample_data"` // only on GET by id

	UploadedAt  *time.Time `json:"uploaded_at"`
	ValidatedAt *time.Time `json:"validated_at"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	DeletedAt   *time.Time `json:"deleted_at"`

	// Upload bookkeeping, never shown.
	MultipartUploadID string `json:"-"`
	// ValidationToken names the validation run that owns the validating
	// state; ValidationStarted bounds its lease (a crashed run is retried).
	ValidationToken   string     `json:"-"`
	ValidationStarted *time.Time `json:"-"`
}
