package dataset

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

func readAllLines(t *testing.T, r io.Reader, max int) (lines []string, tooLong []int64) {
	t.Helper()
	lr := newLineReader(r, max)
	for {
		line, n, ok, err := lr.next()
		if err != nil {
			t.Fatalf("next() error = %v", err)
		}
		if !ok {
			return lines, tooLong
		}
		if n > 0 {
			lines = append(lines, "<too long>")
			tooLong = append(tooLong, n)
			continue
		}
		lines = append(lines, string(line))
	}
}

func TestLineReader(t *testing.T) {
	big := strings.Repeat("x", 3*readSize+17) // spans several reads
	tests := []struct {
		name        string
		input       string
		max         int
		want        []string
		wantTooLong []int64
	}{
		{"empty", "", 100, nil, nil},
		{"trailing newline", "a\nb\n", 100, []string{"a", "b"}, nil},
		{"no trailing newline", "a\nb", 100, []string{"a", "b"}, nil},
		{"blank lines", "\n\na\n\n", 100, []string{"", "", "a", ""}, nil},
		{"CRLF kept for the caller", "a\r\nb\r\n", 100, []string{"a\r", "b\r"}, nil},
		{"line at the limit", "abcd\nx", 4, []string{"abcd", "x"}, nil},
		{"line over the limit", "abcde\nx", 4, []string{"<too long>", "x"}, []int64{5}},
		{"huge line skipped without buffering", "a\n" + big + "\nb\n", 1000, []string{"a", "<too long>", "b"}, []int64{int64(len(big))}},
		{"huge last line without newline", "a\n" + big, 1000, []string{"a", "<too long>"}, []int64{int64(len(big))}},
		{"long line within the limit", "a\n" + big + "\nb", 4 * readSize, []string{"a", big, "b"}, nil},
	}
	for _, tt := range tests {
		for _, slow := range []bool{false, true} {
			var r io.Reader = strings.NewReader(tt.input)
			if slow {
				r = iotest.HalfReader(iotest.DataErrReader(r))
			}
			lines, tooLong := readAllLines(t, r, tt.max)
			if !slices.Equal(lines, tt.want) || !slices.Equal(tooLong, tt.wantTooLong) {
				t.Errorf("%s (slow=%v): got %d lines %.60q, too long %v; want %d lines %.60q, too long %v",
					tt.name, slow, len(lines), lines, tooLong, len(tt.want), tt.want, tt.wantTooLong)
			}
		}
	}
}

func TestLineReaderBufferStaysBounded(t *testing.T) {
	input := strings.Repeat(strings.Repeat("y", 10<<20)+"\n", 3)
	lr := newLineReader(strings.NewReader(input), 1<<20)
	for {
		_, _, ok, err := lr.next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
	}
	if limit := 1<<20 + 2*readSize; len(lr.buf) > limit {
		t.Errorf("buffer grew to %d bytes for 10 MiB lines, want <= %d", len(lr.buf), limit)
	}
}

func TestValidateHashesEveryByte(t *testing.T) {
	input := "\xEF\xBB\xBF" + okV4 + "\r\n\n" + strings.Repeat("z", 5000) + "\n" + okV4b
	rep, err := Validate(context.Background(), iotest.OneByteReader(strings.NewReader(input)), Options{MaxLineBytes: 1000, MinConversations: -1})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(input))
	if rep.SHA256 != hex.EncodeToString(sum[:]) || rep.Bytes != int64(len(input)) {
		t.Errorf("sha256, bytes = %s, %d, want %x, %d", rep.SHA256, rep.Bytes, sum, len(input))
	}
	if rep.LinesTotal != 4 || rep.LinesBlank != 1 || rep.LinesValid != 1 || rep.LinesInvalid != 2 {
		t.Errorf("lines total/blank/valid/invalid = %d/%d/%d/%d, want 4/1/1/2", rep.LinesTotal, rep.LinesBlank, rep.LinesValid, rep.LinesInvalid)
	}
}

func TestValidateReturnsReadErrors(t *testing.T) {
	boom := errors.New("connection reset")
	r := io.MultiReader(strings.NewReader(okV4+"\n"), iotest.ErrReader(boom))
	if _, err := Validate(context.Background(), r, Options{}); !errors.Is(err, boom) {
		t.Errorf("Validate() error = %v, want %v", err, boom)
	}
}

func TestValidateStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Validate(ctx, strings.NewReader(okV4), Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Validate() error = %v, want context.Canceled", err)
	}
}

func TestValidateReturnsCallbackErrors(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	opts := Options{OnConversation: func(Conversation) error { n++; return stop }}
	if _, err := Validate(context.Background(), strings.NewReader(okV4+"\n"+okV4b), opts); !errors.Is(err, stop) || n != 1 {
		t.Errorf("Validate() error = %v after %d calls, want %v after 1", err, n, stop)
	}
}

func TestValidateRejectsBadOptions(t *testing.T) {
	for _, o := range []Options{{Format: "csv"}, {ValidationPercent: 101}} {
		if _, err := Validate(context.Background(), bytes.NewReader(nil), o); err == nil {
			t.Errorf("Validate(%+v) error = nil, want an error", o)
		}
	}
}
