package dataset

import (
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner is a small JSON reader for one line. encoding/json's Unmarshal
// costs more than the whole rest of validation; the schemas here are tiny,
// so record.go drives this scanner directly and only strings are ever
// materialised (zero-copy unless they contain escapes).
//
// The grammar is RFC 8259's, as strict as encoding/json: no comments, no
// trailing commas, no control characters in strings, no leading zeros.
// The caller has already checked that the line is valid UTF-8.
type scanner struct {
	data []byte
	pos  int
	err  error // first syntax error; once set, parsing stops
	// unescaped holds strings that had escapes. Its capacity is at least
	// len(data) before a line is parsed, so appends never move earlier
	// strings (an unescaped string is never longer than its source).
	unescaped []byte
}

// valueKind is a JSON value's type.
type valueKind uint8

const (
	kindNone valueKind = iota // absent
	kindString
	kindNumber
	kindBool
	kindNull
	kindObject
	kindArray
)

func (k valueKind) String() string {
	return [...]string{"nothing", "a string", "a number", "a boolean", "null", "an object", "an array"}[k]
}

// maxDepth bounds nesting, as encoding/json does, so that skipping a
// hostile value cannot exhaust the stack.
const maxDepth = 10000

// syntaxError is an INVALID_JSON finding with its byte offset in the line.
type syntaxError struct {
	offset int
	msg    string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("column %d: %s", e.offset+1, e.msg) }

func (s *scanner) reset(data []byte) {
	s.data, s.pos, s.err = data, 0, nil
	if cap(s.unescaped) < len(data) {
		s.unescaped = make([]byte, 0, len(data))
	}
	s.unescaped = s.unescaped[:0]
}

func (s *scanner) fail(format string, args ...any) {
	if s.err == nil {
		s.err = &syntaxError{offset: s.pos, msg: fmt.Sprintf(format, args...)}
	}
	s.pos = len(s.data) // stop every loop
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\r', '\n':
			s.pos++
		default:
			return
		}
	}
}

// peekKind returns the kind of the value at pos (after spaces) without
// consuming it, or kindNone at the end or on an invalid first byte.
func (s *scanner) peekKind() valueKind {
	s.skipSpace()
	if s.pos >= len(s.data) {
		return kindNone
	}
	switch c := s.data[s.pos]; {
	case c == '"':
		return kindString
	case c == '{':
		return kindObject
	case c == '[':
		return kindArray
	case c == 't' || c == 'f':
		return kindBool
	case c == 'n':
		return kindNull
	case c == '-' || c >= '0' && c <= '9':
		return kindNumber
	}
	return kindNone
}

// consume expects byte c (after spaces).
func (s *scanner) consume(c byte, what string) bool {
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == c {
		s.pos++
		return true
	}
	s.unexpected(what)
	return false
}

func (s *scanner) unexpected(what string) {
	if s.pos >= len(s.data) {
		s.fail("unexpected end of line, expected %s", what)
		return
	}
	r, _ := utf8.DecodeRune(s.data[s.pos:])
	s.fail("unexpected %q, expected %s", r, what)
}

// stringSpecial marks bytes that end the fast path of a string scan.
var stringSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// readString reads a string at pos (which holds '"') and returns its
// decoded bytes, aliasing data when there is no escape.
func (s *scanner) readString() []byte {
	s.pos++ // opening quote
	start := s.pos
	d := s.data
	i := s.pos
	for i < len(d) && !stringSpecial[d[i]] {
		i++
	}
	if i < len(d) && d[i] == '"' {
		s.pos = i + 1
		return d[start:i]
	}
	s.pos = i
	return s.readEscaped(start)
}

// readEscaped continues readString from the first escape or control byte.
func (s *scanner) readEscaped(start int) []byte {
	out := append(s.unescaped, s.data[start:s.pos]...)
	d := s.data
	for {
		i := s.pos
		for i < len(d) && !stringSpecial[d[i]] {
			i++
		}
		out = append(out, d[s.pos:i]...)
		s.pos = i
		if i >= len(d) {
			s.fail("unterminated string")
			return nil
		}
		switch c := d[i]; {
		case c == '"':
			s.pos++
			str := out[len(s.unescaped):]
			s.unescaped = out
			return str
		case c < 0x20:
			s.fail("control character %U in string (escape it)", rune(c))
			return nil
		}
		// backslash
		if i+1 >= len(d) {
			s.pos = i + 1
			s.fail("unterminated escape")
			return nil
		}
		s.pos = i + 2
		switch e := d[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := s.hex4(i + 2)
			if !ok {
				return nil
			}
			s.pos = i + 6
			if utf16.IsSurrogate(r) {
				// A high surrogate followed by an escaped low one is one
				// rune; anything else is U+FFFD, as in encoding/json.
				r2, ok2 := rune(-1), false
				if s.pos+1 < len(d) && d[s.pos] == '\\' && d[s.pos+1] == 'u' {
					r2, ok2 = s.hex4(s.pos + 2)
					if !ok2 {
						return nil
					}
				}
				if dec := utf16.DecodeRune(r, r2); ok2 && dec != utf8.RuneError {
					r = dec
					s.pos += 6
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			s.pos = i + 1
			s.fail("invalid escape '\\%c'", e)
			return nil
		}
	}
}

func (s *scanner) hex4(at int) (rune, bool) {
	if at+4 > len(s.data) {
		s.pos = min(at, len(s.data))
		s.fail("truncated \\u escape")
		return 0, false
	}
	var r rune
	for _, c := range s.data[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			s.pos = at
			s.fail("invalid \\u escape")
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// readNumber reads a number at pos and returns its text.
func (s *scanner) readNumber() []byte {
	d := s.data
	start := s.pos
	i := s.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case digits() == 0:
		s.pos = i
		s.unexpected("a digit")
		return nil
	}
	if i < len(d) && d[i] == '.' {
		i++
		if digits() == 0 {
			s.pos = i
			s.unexpected("a digit after '.'")
			return nil
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if digits() == 0 {
			s.pos = i
			s.unexpected("a digit in the exponent")
			return nil
		}
	}
	s.pos = i
	return d[start:i]
}

// readLiteral reads true, false or null.
func (s *scanner) readLiteral() {
	for _, lit := range [...]string{"true", "false", "null"} {
		if len(s.data)-s.pos >= len(lit) && string(s.data[s.pos:s.pos+len(lit)]) == lit {
			s.pos += len(lit)
			return
		}
	}
	s.unexpected("a JSON value")
}

// skipValue validates and skips any value.
func (s *scanner) skipValue(depth int) {
	if depth > maxDepth {
		s.fail("nesting deeper than %d", maxDepth)
		return
	}
	switch s.peekKind() {
	case kindString:
		s.readString()
	case kindNumber:
		s.readNumber()
	case kindBool, kindNull:
		s.readLiteral()
	case kindObject:
		s.eachMember(func([]byte) { s.skipValue(depth + 1) })
	case kindArray:
		s.eachElement(func(int) { s.skipValue(depth + 1) })
	default:
		s.unexpected("a JSON value")
	}
}

// eachMember reads an object at pos, calling member for each key with pos
// at the member's value, which member must consume.
func (s *scanner) eachMember(member func(key []byte)) {
	s.pos++ // '{'
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		return
	}
	for s.err == nil {
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			s.unexpected("a string key")
			return
		}
		key := s.readString()
		if s.err != nil || !s.consume(':', "':' after the key") {
			return
		}
		member(key)
		if s.err != nil || !s.more('}') {
			return
		}
	}
}

// eachElement reads an array at pos, calling elem with each index and pos
// at the element, which elem must consume.
func (s *scanner) eachElement(elem func(i int)) {
	s.pos++ // '['
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		return
	}
	for i := 0; s.err == nil; i++ {
		s.skipSpace()
		elem(i)
		if s.err != nil || !s.more(']') {
			return
		}
	}
}

// more reads what follows an object member or array element: ',' (true:
// another follows) or the container's close (false: it ended); anything
// else is an error (false).
func (s *scanner) more(close byte) bool {
	s.skipSpace()
	if s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ',':
			s.pos++
			return true
		case close:
			s.pos++
			return false
		}
	}
	s.unexpected("',' or '" + string(close) + "'")
	return false
}
