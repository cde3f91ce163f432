package dataset

import (
	"context"
	"testing"

	"github.com/brightrun/brightrun/pkg/dataset/datasetgen"
)

func TestGeneratedDataValidates(t *testing.T) {
	for _, f := range Formats() {
		r, err := datasetgen.NewReader(datasetgen.Options{Seed: 5, Format: string(f)}, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Validate(context.Background(), r, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Valid || rep.WarningCount != 0 || rep.Format != f || rep.LinesValid != r.Generator().Lines() {
			t.Errorf("%s: valid=%v format=%s %d/%d lines valid, counts %v; want a clean %s file",
				f, rep.Valid, rep.Format, rep.LinesValid, r.Generator().Lines(), rep.CountsByCode, f)
		}
	}
}

func TestGeneratedDefectsAreFound(t *testing.T) {
	r, err := datasetgen.NewReader(datasetgen.Options{Seed: 6, ErrorRate: 0.2}, 2<<20)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Validate(context.Background(), r, Options{})
	if err != nil {
		t.Fatal(err)
	}
	lines := r.Generator().Lines()
	// About 20% of lines carry a defect; two of the kinds are only warnings.
	if rep.LinesInvalid < lines/10 || rep.LinesInvalid > lines/4 {
		t.Errorf("%d of %d lines invalid, want roughly 15%%", rep.LinesInvalid, lines)
	}
	for _, c := range []Code{CodeInvalidJSON, CodeMissingField, CodeUnknownRole, CodeEmptyContent, CodeConsecutiveSameRole,
		CodeLastTurnNotAssistant, CodeFirstTurnNotUser, CodeInvalidUTF8, CodeUnknownKey, CodeInvalidType, CodeDuplicateID} {
		if rep.CountsByCode[c] == 0 {
			t.Errorf("no %s among %v", c, rep.CountsByCode)
		}
	}
}
