package dataset

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// scanLine reports whether our scanner accepts line as one JSON value,
// the way checkJSON reads it (through rawRecord for objects).
func scanLine(line []byte) bool {
	var s scanner
	var rec rawRecord
	s.reset(line)
	kind, _ := rec.parse(&s)
	if s.err != nil {
		return false
	}
	if kind == kindObject {
		return true
	}
	s.skipSpace()
	return s.pos == len(line)
}

func TestScannerAcceptsWhatEncodingJSONAccepts(t *testing.T) {
	lines := []string{
		`{}`, ` { } `, `[]`, `"x"`, `0`, `-0`, `-0.5e+10`, `1E5`, `true`, `false`, `null`,
		`{"a":1,"b":[1,2,{"c":null}],"d":"\u00e9\ud83d\ude00\n"}`,
		`{"turns":[{"role":"user","content":"hi","weight":1}]}`,
		`{"turns":[1,"x",null,[],{}]}`,
		`{"conversation_id":"a","conversation_id":"b"}`,
		`{"a":1,}`, `{"a":1 "b":2}`, `{a:1}`, `{"a"}`, `{"a":}`, `[1,]`, `[1 2]`, `01`, `1.`, `.5`, `-`, `1e`,
		`+1`, `tru`, `nul`, `"abc`, `"a\x"`, `"\u12"`, `"\u12G4"`, "\"tab\there\"", `{"a":1}}`, `{"a":1} x`,
		`{"a":"\ud800"}`, `{"a":"\udc00\ud800"}`, `{"a":"\ud800\u0041"}`, `{"a":"\ud800\"}`,
		`{"a":NaN}`, `{"a":Infinity}`, `{"a":0x10}`, `{"a":[[[[[]]]]]}`, ``, ` `, `{"a":"b"`, `{"a":["b"`,
	}
	for _, line := range lines {
		got, want := scanLine([]byte(line)), json.Valid([]byte(line))
		if got != want {
			t.Errorf("scanner accepts %q = %v, want %v (encoding/json)", line, got, want)
		}
	}
}

func TestReadStringMatchesEncodingJSON(t *testing.T) {
	strs := []string{
		`"plain"`, `""`, `"\"\\\/\b\f\n\r\t"`, `"\u0041\u00e9\u4e2d"`, `"\ud83d\ude00 emoji"`,
		`"lone \ud800 high"`, `"lone \udc00 low"`, `"\ud800\ud800\udc00"`, `"\ud800\u0041"`,
		`"mixed é 中 \n end"`, `"\u0000nul"`, `"\uFFFD\uFEFF"`,
	}
	for _, in := range strs {
		var want string
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatalf("json.Unmarshal(%s): %v", in, err)
		}
		var s scanner
		s.reset([]byte(in))
		got := s.readString()
		if s.err != nil || string(got) != want {
			t.Errorf("readString(%s) = %q (err %v), want %q", in, got, s.err, want)
		}
	}
}

func TestUnescapedStringsDoNotMove(t *testing.T) {
	// Several escaped strings in one line must all stay intact: they share
	// the unescape buffer.
	line := `{"conversation_id":"\u0061\u0062","turns":[{"role":"\u0075ser","content":"x\ny"},{"role":"assistant","content":"\t` + strings.Repeat("z", 1000) + `"}]}`
	var s scanner
	var rec rawRecord
	s.reset([]byte(line))
	if _, ok := rec.parse(&s); !ok {
		t.Fatalf("parse failed: %v", s.err)
	}
	if got := string(rec.top[keyConversationID].text); got != "ab" {
		t.Errorf("conversation_id = %q, want %q", got, "ab")
	}
	if got := string(rec.turns[0].f[keyRole].text); got != "user" {
		t.Errorf("turns[0].role = %q, want %q", got, "user")
	}
	if got := string(rec.turns[0].f[keyContent].text); got != "x\ny" {
		t.Errorf("turns[0].content = %q, want %q", got, "x\ny")
	}
	if got := string(rec.turns[1].f[keyContent].text); got != "\t"+strings.Repeat("z", 1000) {
		t.Errorf("turns[1].content has %d bytes, want 1001", len(got))
	}
}

func TestScannerRejectsDeepNesting(t *testing.T) {
	line := `{"metadata":` + strings.Repeat("[", maxDepth+10) + strings.Repeat("]", maxDepth+10) + `}`
	if scanLine([]byte(line)) {
		t.Errorf("scanner accepts %d nested arrays, want a nesting error", maxDepth+10)
	}
}

// FuzzScanner compares the scanner with encoding/json on valid UTF-8.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{`{"a":"\ud83d\ude00"}`, `[1,-2.5e3,true,null]`, `{"turns":[{"role":"user","content":"\u00e9"}]}`, `"\\u"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if !utf8.ValidString(line) {
			t.Skip()
		}
		got, want := scanLine([]byte(line)), json.Valid([]byte(line))
		if got != want {
			t.Fatalf("scanner accepts %q = %v, want %v (encoding/json)", line, got, want)
		}
		if !want || len(line) == 0 || strings.TrimLeft(line, " \t\r\n")[0] != '"' {
			return
		}
		var str string
		if err := json.Unmarshal([]byte(line), &str); err != nil {
			t.Fatal(err)
		}
		var s scanner
		s.reset([]byte(line))
		s.skipSpace()
		if got := s.readString(); string(got) != str {
			t.Fatalf("readString(%q) = %q, want %q", line, got, str)
		}
	})
}
