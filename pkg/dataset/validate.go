package dataset

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/brightrun/brightrun/pkg/bpe"
)

// Validate reads a JSONL dataset from r and reports on it. The returned
// error is only for failures to validate at all: a read error, a cancelled
// ctx, invalid Options, or an error from Options.OnConversation. Problems
// in the data are in the Report.
//
// Validate uses one goroutine; memory is bounded as described in the
// package doc. Results are deterministic for a given input and Options.
func Validate(ctx context.Context, r io.Reader, opts Options) (*Report, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	v := &validator{
		opts:   opts,
		issues: newIssueLog(opts.MaxIssues),
		format: opts.Format,
		ids:    idSet{limit: opts.MaxTrackedIDs},
	}
	if !opts.EstimateTokens {
		v.counter = opts.Encoding.NewCounter()
	}
	lr := newLineReader(r, opts.MaxLineBytes)
	rep := &Report{}
	for {
		if lr.line&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		line, tooLong, ok, err := lr.next()
		if err != nil {
			return nil, fmt.Errorf("dataset: read line %d: %w", lr.line+1, err)
		}
		if !ok {
			break
		}
		rep.LinesTotal++
		switch v.checkLine(lr.line, line, tooLong) {
		case lineBlank:
			rep.LinesBlank++
		case lineValid:
			rep.LinesValid++
		case lineInvalid:
			rep.LinesInvalid++
		}
		if v.cbErr != nil {
			return nil, v.cbErr
		}
	}
	rep.Bytes = lr.bytes
	rep.SHA256 = lr.sum()
	v.finish(rep)
	return rep, nil
}

type lineOutcome uint8

const (
	lineBlank lineOutcome = iota
	lineValid
	lineInvalid
)

// validator holds the state of one Validate call.
type validator struct {
	opts      Options
	issues    issueLog
	format    Format // fixed by Options or by the first certain line
	tentative Format // used for lines that fit several formats, while format is ""
	scan      scanner
	rec       rawRecord
	counter   *bpe.Counter
	ids       idSet
	stats     statsAcc
	turns     []normTurn
	samples   []Conversation
	cbErr     error

	line       int // current line number
	lineErrors int
}

// normTurn is a turn after schema checks; role is "" and content nil when
// they were missing or invalid.
type normTurn struct {
	role    Role
	content []byte
	tokens  int
}

// issue records a finding on the current line.
func (v *validator) issue(path string, code Code, message string) {
	if codes[code].severity == SeverityError {
		v.lineErrors++
	}
	v.issues.add(v.line, path, code, message)
}

// issuef is issue with a formatted message, formatted only if it is kept.
func (v *validator) issuef(path string, code Code, format string, args ...any) {
	msg := ""
	if v.issues.wouldKeep(codes[code].severity) {
		msg = fmt.Sprintf(format, args...)
	}
	v.issue(path, code, msg)
}

func (v *validator) finish(rep *Report) {
	if v.ids.full {
		v.issues.add(0, "", CodeDuplicateCheckTruncated, fmt.Sprintf(
			"only the first %d conversation ids were tracked; later ids were checked against those only", v.ids.limit))
	}
	if rep.LinesValid < v.opts.MinConversations {
		v.issues.add(0, "", CodeTooFewConversations, fmt.Sprintf(
			"the file has %d valid conversations; at least %d are required", rep.LinesValid, v.opts.MinConversations))
	}
	rep.Format = v.format
	if rep.Format == "" {
		rep.Format = v.tentative
	}
	rep.ErrorCount = v.issues.errors
	rep.WarningCount = v.issues.warnings
	rep.CountsByCode = v.issues.counts
	rep.Issues = v.issues.issues()
	rep.IssuesTruncated = v.issues.truncated
	rep.Valid = rep.ErrorCount == 0
	rep.Stats = v.stats.stats(v.counter != nil)
	rep.SampleData = v.samples
	if rep.SampleData == nil {
		rep.SampleData = []Conversation{}
	}
}

// lineID is the id of a conversation in a format without ids.
func lineID(line int) string { return "line-" + strconv.Itoa(line) }
