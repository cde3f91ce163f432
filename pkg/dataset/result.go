package dataset

import (
	"fmt"
	"strings"
)

// Result is what a finished validation stores on the dataset.
type Result struct {
	Status          Status
	Format          *Format
	SHA256          string
	Bytes           int64
	Stats           *Stats
	ErrorMessage    string
	ErrorCount      int
	WarningCount    int
	CountsByCode    map[Code]int
	Issues          []Issue
	IssuesTruncated bool
	Samples         []Conversation
}

func resultOf(rep *Report) Result {
	r := Result{
		Status: StatusReady, SHA256: rep.SHA256, Bytes: rep.Bytes, ErrorCount: rep.ErrorCount, WarningCount: rep.WarningCount,
		CountsByCode: rep.CountsByCode, Issues: rep.Issues, IssuesTruncated: rep.IssuesTruncated, Samples: rep.SampleData,
	}
	if rep.Format != "" {
		f := rep.Format
		r.Format = &f
	}
	st := rep.Stats
	r.Stats = &st
	for i := range r.Samples {
		// Samples are a preview; long conversations would bloat the item.
		if len(r.Samples[i].Turns) > sampleMaxTurns {
			r.Samples[i].Turns = r.Samples[i].Turns[:sampleMaxTurns]
		}
	}
	if !rep.Valid {
		r.Status = StatusError
		r.ErrorMessage = summary(rep)
	}
	return r
}

// summary is the one-line error_message: how many errors, and the first.
func summary(rep *Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d error%s", rep.ErrorCount, plural(rep.ErrorCount))
	if rep.LinesInvalid > 0 {
		fmt.Fprintf(&b, " on %d of %d lines", rep.LinesInvalid, rep.LinesTotal-rep.LinesBlank)
	}
	// Lead with the first error on a line (what the user fixes first);
	// a file-level error only when there is nothing else.
	first := -1
	for i, is := range rep.Issues {
		if is.Severity == SeverityError && (first < 0 || rep.Issues[first].Line == 0 && is.Line > 0) {
			first = i
		}
	}
	if first >= 0 {
		is := rep.Issues[first]
		b.WriteString("; first: ")
		if is.Line > 0 {
			fmt.Fprintf(&b, "line %d", is.Line)
			if is.Path != "" {
				fmt.Fprintf(&b, " (%s)", is.Path)
			}
			b.WriteString(": ")
		}
		fmt.Fprintf(&b, "%s [%s]", is.Message, is.Code)
	}
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
