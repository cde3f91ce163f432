package dataset

import (
	"slices"
)

// issueLog counts every issue and keeps the first max errors and the first
// max warnings, so a file with millions of bad lines still yields a small
// report.
type issueLog struct {
	max              int
	kept             []Issue
	fileLevel        []Issue
	keptErrors       int
	keptWarnings     int
	truncated        bool
	counts           map[Code]int
	errors, warnings int
}

func newIssueLog(max int) issueLog {
	return issueLog{max: max, counts: make(map[Code]int)}
}

func (l *issueLog) add(line int, path string, code Code, message string) {
	info := codes[code]
	is := Issue{Line: line, Path: path, Code: code, Message: message, Suggestion: info.suggestion, Severity: info.severity}
	l.counts[code]++
	if info.severity == SeverityError {
		l.errors++
	} else {
		l.warnings++
	}
	switch {
	case line == 0:
		l.fileLevel = append(l.fileLevel, is) // always kept
	case info.severity == SeverityError && l.keptErrors < l.max:
		l.keptErrors++
		l.kept = append(l.kept, is)
	case info.severity == SeverityWarning && l.keptWarnings < l.max:
		l.keptWarnings++
		l.kept = append(l.kept, is)
	default:
		l.truncated = true
	}
}

// wouldKeep reports whether an issue of this severity would be kept, so
// that callers can skip formatting a message nobody will read.
func (l *issueLog) wouldKeep(sev Severity) bool {
	if sev == SeverityError {
		return l.keptErrors < l.max
	}
	return l.keptWarnings < l.max
}

func (l *issueLog) issues() []Issue {
	return slices.Concat(l.fileLevel, l.kept)
}
