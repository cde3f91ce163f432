package dataset

import (
	"strings"
	"testing"
)

func TestSanitizeFileName(t *testing.T) {
	for in, want := range map[string]string{
		"support.jsonl":              "support.jsonl",
		"my data (v2).jsonl":         "my_data__v2_.jsonl",
		"../../etc/passwd":           "passwd",
		`C:\Users\ada\chats.jsonl`:   "chats.jsonl",
		".hidden.jsonl":              "hidden.jsonl",
		"données.jsonl":              "donn_es.jsonl",
		"":                           "dataset.jsonl",
		"///":                        "dataset.jsonl",
		"???":                        "dataset.jsonl",
		strings.Repeat("a", 300):     strings.Repeat("a", 200),
		"file name with spaces.json": "file_name_with_spaces.json",
	} {
		if got := SanitizeFileName(in); got != want {
			t.Errorf("SanitizeFileName(%q): got %q, want %q", in, got, want)
		}
	}
}

func TestObjectKeyRoundTrip(t *testing.T) {
	key := ObjectKey("u1", "d1", "a b.jsonl")
	if key != "datasets/u1/d1/a_b.jsonl" {
		t.Fatalf("ObjectKey: got %q", key)
	}
	if u, d, ok := ParseObjectKey(key); !ok || u != "u1" || d != "d1" {
		t.Fatalf("ParseObjectKey(%q): got %q %q %v", key, u, d, ok)
	}
	for _, bad := range []string{"models/u1/d1/f", "datasets/u1/f", "datasets//d1/f", "datasets/u1/d1/", "datasets/u1/d1/x/y"} {
		if _, _, ok := ParseObjectKey(bad); ok {
			t.Errorf("ParseObjectKey(%q) accepted", bad)
		}
	}
}

func TestParseListQuery(t *testing.T) {
	q, err := ParseListQuery(map[string]string{"status": "ready", "format": "sharegpt", "training_ready": "true", "search": " Chat ", "sort_by": "name"}, 2, 10)
	if err != nil || *q.Status != StatusReady || *q.Format != FormatShareGPT || !*q.TrainingReady || q.Search != "Chat" || q.SortBy != "name" || q.Desc || q.Page != 2 {
		t.Fatalf("got %+v, %v", q, err)
	}
	if q, _ := ParseListQuery(nil, 1, 20); q.SortBy != "created_at" || !q.Desc {
		t.Errorf("default sort: got %s desc=%v, want created_at newest first", q.SortBy, q.Desc)
	}
	_, err = ParseListQuery(map[string]string{"status": "done", "format": "csv", "training_ready": "maybe", "sort_by": "size", "sort_direction": "up"}, 1, 20)
	if err == nil || strings.Count(err.Error(), ":") < 5 {
		t.Fatalf("want five field errors, got %v", err)
	}
}

func TestSummaryLeadsWithTheFirstLineError(t *testing.T) {
	rep := &Report{ErrorCount: 3, LinesTotal: 9, LinesBlank: 1, LinesInvalid: 2, Issues: []Issue{
		{Line: 0, Code: CodeTooFewConversations, Message: "too few", Severity: SeverityError},
		{Line: 2, Code: CodeUnknownKey, Message: "unknown key", Severity: SeverityWarning},
		{Line: 4, Path: "turns[1].role", Code: CodeUnknownRole, Message: "unknown role", Severity: SeverityError},
	}}
	want := "3 errors on 2 of 8 lines; first: line 4 (turns[1].role): unknown role [UNKNOWN_ROLE]"
	if got := summary(rep); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	rep.Issues = rep.Issues[:1]
	if got := summary(rep); !strings.HasSuffix(got, "first: too few [TOO_FEW_CONVERSATIONS]") {
		t.Fatalf("file-level only: got %q", got)
	}
}
