package dataset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/optional"
)

// Store keeps datasets. Every status change is a conditional write.
type Store interface {
	CreateDataset(ctx context.Context, d Dataset) error
	// Dataset returns NotFound for an unknown or deleted dataset; withReport
	// adds the stored issues and samples.
	Dataset(ctx context.Context, userID, id string, withReport bool) (Dataset, error)
	// ListDatasets returns the user's datasets that are not deleted,
	// without reports.
	ListDatasets(ctx context.Context, userID string) ([]Dataset, error)
	UpdateDataset(ctx context.Context, userID, id string, name *string, description optional.Value[string], now time.Time) (Dataset, error)
	DeleteDataset(ctx context.Context, userID, id string, now time.Time) error
	// StartValidation gives the validating state to run token: from
	// uploading, or from validating when the previous run started before
	// staleBefore (it crashed). It reports false when it was not given.
	StartValidation(ctx context.Context, userID, id, token string, now, staleBefore time.Time) (bool, error)
	// AbandonValidation returns validating to uploading if token owns it.
	AbandonValidation(ctx context.Context, userID, id, token string) error
	// FinishValidation stores the outcome if token still owns validating.
	FinishValidation(ctx context.Context, userID, id, token string, r Result, now time.Time) (bool, error)
}

// Blob is the object storage the service needs.
type Blob interface {
	PresignPut(ctx context.Context, bucket, key string, size int64, ttl time.Duration) (string, error)
	CreateMultipart(ctx context.Context, bucket, key string) (string, error)
	PresignPart(ctx context.Context, bucket, key, uploadID string, part int32, size int64, ttl time.Duration) (string, error)
	CompleteMultipart(ctx context.Context, bucket, key, uploadID string, parts []Part) error
	Size(ctx context.Context, bucket, key string) (int64, error) // NotFound if absent
	Open(ctx context.Context, bucket, key string) (io.ReadCloser, error)
	MarkDeleted(ctx context.Context, bucket, key string) error
}

// Runner starts a validation run elsewhere (the validate-dataset function,
// invoked asynchronously).
type Runner interface {
	StartRun(ctx context.Context, r Run) error
}

// Notifier announces finished validations (the DatasetValidated event).
type Notifier interface {
	DatasetValidated(ctx context.Context, d Dataset, run string) error
}

// Run identifies one validation run.
type Run struct {
	UserID    string `json:"user_id"`
	DatasetID string `json:"dataset_id"`
	Token     string `json:"token"`
}

// Part is an uploaded part of a multipart upload.
type Part struct {
	Number int32  `json:"part_number"`
	ETag   string `json:"etag"`
}

// Service implements the dataset use cases.
type Service struct {
	Store    Store
	Blob     Blob
	Runner   Runner
	Notifier Notifier
	Bucket   string
	NewID    func() string
	Now      func() time.Time
	Options  Options // validator options; Format is set per dataset
}

func (s *Service) now() time.Time { return s.Now().UTC() }

// CreateInput is the POST /api/datasets body.
type CreateInput struct {
	Name        string  `json:"name"`
	Description *string `json:"description"`
	Format      *Format `json:"format"`
	FileName    string  `json:"file_name"`
	FileSize    int64   `json:"file_size"`
}

// Upload tells the client how to send the file.
type Upload struct {
	Method    string            `json:"method"` // "PUT" or "MULTIPART"
	URL       string            `json:"url,omitempty"`
	Headers   map[string]string `json:"headers,omitempty"`
	PartSize  int64             `json:"part_size,omitempty"`
	Parts     []UploadPart      `json:"parts,omitempty"`
	Complete  string            `json:"complete,omitempty"` // the API path that completes a multipart upload
	Confirm   string            `json:"confirm"`            // the API path to call after uploading
	ExpiresAt time.Time         `json:"expires_at"`
}

// UploadPart is one presigned part URL.
type UploadPart struct {
	Number int32  `json:"part_number"`
	Size   int64  `json:"size"`
	URL    string `json:"url"`
}

// Created is the POST /api/datasets answer. uploadUrl and storagePath are
// the spec's DatasetUploadResponse names; upload has the full instructions.
type Created struct {
	Dataset     Dataset `json:"dataset"`
	Upload      Upload  `json:"upload"`
	UploadURL   string  `json:"uploadUrl,omitempty"`
	StoragePath string  `json:"storagePath"`
}

// Create records a dataset and returns presigned upload instructions.
// S3 is prepared first: an orphaned multipart upload costs nothing (the
// bucket aborts it after a day), an orphaned dataset would confuse the user.
func (s *Service) Create(ctx context.Context, userID string, in CreateInput) (Created, error) {
	fields := apperr.Fields{}
	name := strings.TrimSpace(in.Name)
	if n := utf8.RuneCountInString(name); n == 0 || n > maxName {
		fields.Add("name", "must be 1 to %d characters", maxName)
	}
	desc := trimmedOrNil(in.Description)
	if desc != nil && utf8.RuneCountInString(*desc) > maxDescription {
		fields.Add("description", "must be at most %d characters", maxDescription)
	}
	if in.Format != nil && !in.Format.valid() {
		fields.Add("format", "must be one of %s", formatList())
	}
	if n := utf8.RuneCountInString(in.FileName); strings.TrimSpace(in.FileName) == "" || n > maxFileName {
		fields.Add("file_name", "must be 1 to %d characters", maxFileName)
	}
	if in.FileSize <= 0 {
		fields.Add("file_size", "must be a positive number of bytes")
	}
	if err := fields.Err(); err != nil {
		return Created{}, err
	}
	if in.FileSize > MaxFileSize {
		return Created{}, &apperr.Error{Kind: apperr.TooLarge, Message: fmt.Sprintf("file_size %d exceeds the limit of %d bytes (10 GiB)", in.FileSize, MaxFileSize),
			Fields: map[string][]string{"file_size": {fmt.Sprintf("must be at most %d bytes", MaxFileSize)}}}
	}

	now := s.now()
	id := s.NewID()
	key := ObjectKey(userID, id, in.FileName)
	d := Dataset{ID: id, UserID: userID, Name: name, Description: desc, Format: in.Format, Status: StatusUploading,
		StorageBucket: s.Bucket, StoragePath: key, FileName: in.FileName, FileSize: in.FileSize, CreatedAt: now, UpdatedAt: now}
	up := Upload{Confirm: "/api/datasets/" + id + "/confirm", ExpiresAt: now.Add(UploadURLTTL)}
	if in.FileSize <= SinglePutMax {
		u, err := s.Blob.PresignPut(ctx, s.Bucket, key, in.FileSize, UploadURLTTL)
		if err != nil {
			return Created{}, err
		}
		up.Method, up.URL, up.Headers = "PUT", u, map[string]string{"Content-Length": fmt.Sprint(in.FileSize)}
	} else {
		uploadID, err := s.Blob.CreateMultipart(ctx, s.Bucket, key)
		if err != nil {
			return Created{}, err
		}
		d.MultipartUploadID = uploadID
		up.Method, up.PartSize, up.Complete = "MULTIPART", PartSize, "/api/datasets/"+id+"/upload/complete"
		for n, off := int32(1), int64(0); off < in.FileSize; n, off = n+1, off+PartSize {
			size := min(PartSize, in.FileSize-off)
			u, err := s.Blob.PresignPart(ctx, s.Bucket, key, uploadID, n, size, UploadURLTTL)
			if err != nil {
				return Created{}, err
			}
			up.Parts = append(up.Parts, UploadPart{Number: n, Size: size, URL: u})
		}
	}
	if err := s.Store.CreateDataset(ctx, d); err != nil {
		return Created{}, err
	}
	return Created{Dataset: d, Upload: up, UploadURL: up.URL, StoragePath: key}, nil
}

// CompleteUpload assembles a multipart upload from the parts' ETags. The
// S3 event that follows starts validation; so may a confirm call.
func (s *Service) CompleteUpload(ctx context.Context, userID, id string, parts []Part) (Dataset, error) {
	fields := apperr.Fields{}
	if len(parts) == 0 {
		fields.Add("parts", "must list every uploaded part")
	}
	seen := map[int32]bool{}
	for i, p := range parts {
		if p.Number < 1 || p.Number > 10000 || seen[p.Number] {
			fields.Add(fmt.Sprintf("parts[%d].part_number", i), "must be a unique number from 1 to 10000")
		}
		seen[p.Number] = true
		if strings.TrimSpace(p.ETag) == "" {
			fields.Add(fmt.Sprintf("parts[%d].etag", i), "is required: the ETag header S3 returned for the part")
		}
	}
	if err := fields.Err(); err != nil {
		return Dataset{}, err
	}
	d, err := s.Store.Dataset(ctx, userID, id, false)
	if err != nil {
		return Dataset{}, err
	}
	if d.MultipartUploadID == "" {
		return Dataset{}, apperr.New(apperr.Conflict, "this dataset uses a single PUT upload, not multipart")
	}
	// S3 completes an upload from any subset of its parts; a missing part
	// would silently truncate the file, so every part must be listed.
	if want := int32((d.FileSize + PartSize - 1) / PartSize); len(parts) != int(want) || !allParts(seen, want) {
		return Dataset{}, apperr.Fields{"parts": {fmt.Sprintf("must list all %d parts, numbered 1 to %d", want, want)}}.Err()
	}
	if d.Status != StatusUploading {
		return d, nil // already completed: a repeated call changes nothing
	}
	if _, err := s.Blob.Size(ctx, s.Bucket, d.StoragePath); err == nil {
		return d, nil // completed before; S3 has forgotten the upload id
	}
	if err := s.Blob.CompleteMultipart(ctx, s.Bucket, d.StoragePath, d.MultipartUploadID, parts); err != nil {
		return Dataset{}, err
	}
	return s.Store.Dataset(ctx, userID, id, false)
}

func allParts(seen map[int32]bool, n int32) bool {
	for i := int32(1); i <= n; i++ {
		if !seen[i] {
			return false
		}
	}
	return true
}

// Confirm is the client's "upload done". It is idempotent: it starts
// validation if the file is there and nothing else has, and otherwise
// returns the dataset as it is.
func (s *Service) Confirm(ctx context.Context, userID, id string) (Dataset, error) {
	d, err := s.Store.Dataset(ctx, userID, id, false)
	if err != nil {
		return Dataset{}, err
	}
	if d.Status != StatusUploading {
		return d, nil
	}
	if _, err := s.Blob.Size(ctx, s.Bucket, d.StoragePath); apperr.KindOf(err) == apperr.NotFound {
		hint := "PUT the file to the upload URL first"
		if d.MultipartUploadID != "" {
			hint = "upload every part and complete the multipart upload first"
		}
		return Dataset{}, apperr.New(apperr.Conflict, "upload not found: %s", hint).WithCode("UPLOAD_NOT_FOUND")
	} else if err != nil {
		return Dataset{}, err
	}
	run := Run{UserID: userID, DatasetID: id, Token: s.NewID()}
	now := s.now()
	started, err := s.Store.StartValidation(ctx, userID, id, run.Token, now, now.Add(-validationLease))
	if err != nil {
		return Dataset{}, err
	}
	if started {
		if err := s.Runner.StartRun(ctx, run); err != nil {
			// Leave no dataset stuck in validating without a run.
			return Dataset{}, errors.Join(err, s.Store.AbandonValidation(ctx, userID, id, run.Token))
		}
	}
	return s.Store.Dataset(ctx, userID, id, false)
}

// ObjectCreated handles the S3 event for an uploaded object: it starts and
// runs validation unless confirm (or an earlier delivery) already did.
// Objects that are not a live dataset's file are ignored.
func (s *Service) ObjectCreated(ctx context.Context, bucket, key string) error {
	userID, id, ok := ParseObjectKey(key)
	if !ok || bucket != s.Bucket {
		return nil
	}
	d, err := s.Store.Dataset(ctx, userID, id, false)
	if apperr.KindOf(err) == apperr.NotFound {
		// An upload that finished after its dataset was deleted: let the
		// bucket's lifecycle rule remove it like any deleted dataset's file.
		if err := s.Blob.MarkDeleted(ctx, bucket, key); err != nil && apperr.KindOf(err) != apperr.NotFound {
			return err
		}
		return nil
	}
	if err != nil {
		return err
	}
	if d.StoragePath != key || d.Status != StatusUploading {
		return nil
	}
	run := Run{UserID: userID, DatasetID: id, Token: s.NewID()}
	now := s.now()
	started, err := s.Store.StartValidation(ctx, userID, id, run.Token, now, now.Add(-validationLease))
	if err != nil || !started {
		return err
	}
	return s.Validate(ctx, run)
}

// Validate runs the validator for run and stores the outcome. It is safe
// to repeat: a superseded run does nothing, and a finished run only
// re-announces its result (consumers deduplicate by run).
func (s *Service) Validate(ctx context.Context, run Run) error {
	d, err := s.Store.Dataset(ctx, run.UserID, run.DatasetID, false)
	if apperr.KindOf(err) == apperr.NotFound {
		return nil // deleted meanwhile
	}
	if err != nil {
		return err
	}
	if d.ValidationToken != run.Token {
		return nil
	}
	switch d.Status {
	case StatusReady, StatusError:
		return s.Notifier.DatasetValidated(ctx, d, run.Token)
	case StatusValidating:
	default:
		return nil
	}

	res, err := s.check(ctx, d)
	if err != nil {
		return err // I/O trouble: the invocation fails and is retried
	}
	done, err := s.Store.FinishValidation(ctx, run.UserID, run.DatasetID, run.Token, res, s.now())
	if err != nil || !done {
		return err
	}
	if d, err = s.Store.Dataset(ctx, run.UserID, run.DatasetID, false); err != nil {
		return err
	}
	return s.Notifier.DatasetValidated(ctx, d, run.Token)
}

func (s *Service) check(ctx context.Context, d Dataset) (Result, error) {
	rc, err := s.Blob.Open(ctx, s.Bucket, d.StoragePath)
	if apperr.KindOf(err) == apperr.NotFound {
		return Result{Status: StatusError, ErrorMessage: "the uploaded file is gone; upload it again"}, nil
	}
	if err != nil {
		return Result{}, err
	}
	defer rc.Close()
	opts := s.Options
	opts.SampleMaxChars = sampleMaxChars
	if d.Format != nil {
		opts.Format = *d.Format
	}
	rep, err := Validate(ctx, rc, opts)
	if err != nil {
		return Result{}, err
	}
	return resultOf(rep), nil
}

// Get returns a dataset with its report.
func (s *Service) Get(ctx context.Context, userID, id string) (Dataset, error) {
	return s.Store.Dataset(ctx, userID, id, true)
}

// UpdateInput is the PATCH body: absent fields stay, null clears description.
type UpdateInput struct {
	Name        optional.Value[string] `json:"name"`
	Description optional.Value[string] `json:"description"`
}

// Update renames or redescribes a dataset.
func (s *Service) Update(ctx context.Context, userID, id string, in UpdateInput) (Dataset, error) {
	fields := apperr.Fields{}
	var name *string
	if in.Name.Set {
		n := strings.TrimSpace(in.Name.Value)
		if l := utf8.RuneCountInString(n); in.Name.Null {
			fields.Add("name", "cannot be null")
		} else if l == 0 || l > maxName {
			fields.Add("name", "must be 1 to %d characters", maxName)
		}
		name = &n
	}
	desc := in.Description
	if desc.Set && !desc.Null {
		if d := trimmedOrNil(&desc.Value); d == nil {
			desc = optional.Null[string]()
		} else if utf8.RuneCountInString(*d) > maxDescription {
			fields.Add("description", "must be at most %d characters", maxDescription)
		} else {
			desc = optional.Of(*d)
		}
	}
	if err := fields.Err(); err != nil {
		return Dataset{}, err
	}
	if name == nil && !desc.Set {
		return s.Store.Dataset(ctx, userID, id, false)
	}
	return s.Store.UpdateDataset(ctx, userID, id, name, desc, s.now())
}

// Delete hides the dataset at once; its object is tagged, and the
// bucket's lifecycle rule removes tagged objects a day later. A dataset
// still uploading has no object yet: the lifecycle rule aborts unfinished
// multipart uploads, and a file that still arrives is tagged by
// ObjectCreated.
func (s *Service) Delete(ctx context.Context, userID, id string) error {
	d, err := s.Store.Dataset(ctx, userID, id, false)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteDataset(ctx, userID, id, s.now()); err != nil {
		return err
	}
	if d.Status == StatusUploading {
		return nil
	}
	if err := s.Blob.MarkDeleted(ctx, s.Bucket, d.StoragePath); err != nil && apperr.KindOf(err) != apperr.NotFound {
		return err
	}
	return nil
}

// ObjectKey is datasets/{user}/{dataset}/{sanitized file name}.
func ObjectKey(userID, id, fileName string) string {
	return "datasets/" + userID + "/" + id + "/" + SanitizeFileName(fileName)
}

// ParseObjectKey inverts ObjectKey.
func ParseObjectKey(key string) (userID, id string, ok bool) {
	parts := strings.Split(key, "/")
	if len(parts) != 4 || parts[0] != "datasets" || parts[1] == "" || parts[2] == "" || parts[3] == "" {
		return "", "", false
	}
	return parts[1], parts[2], true
}

// SanitizeFileName keeps the base name's letters, digits, dot, dash and
// underscore; anything else becomes '_'. The result is never empty.
func SanitizeFileName(name string) string {
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := strings.TrimLeft(b.String(), ".")
	if len(out) > 200 {
		out = out[len(out)-200:]
	}
	if out == "" || strings.Trim(out, "_") == "" {
		return "dataset.jsonl"
	}
	return out
}

func trimmedOrNil(s *string) *string {
	if s == nil {
		return nil
	}
	t := strings.TrimSpace(*s)
	if t == "" {
		return nil
	}
	return &t
}

func formatList() string {
	var names []string
	for _, f := range Formats() {
		names = append(names, string(f))
	}
	return strings.Join(names, ", ")
}
