package dataset

import (
	"bytes"
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// checkLine validates one physical line (without its '\n').
func (v *validator) checkLine(n int, line []byte, tooLong int64) lineOutcome {
	v.line, v.lineErrors = n, 0
	if tooLong > 0 {
		v.issuef("", CodeLineTooLong, "the line is %d bytes; the limit is %d", tooLong, v.opts.MaxLineBytes)
		return lineInvalid
	}
	if bytes.HasPrefix(line, utf8BOM) {
		v.issue("", CodeUTF8BOM, "the line starts with a UTF-8 byte order mark (EF BB BF)")
		line = line[len(utf8BOM):]
		if isBlank(line) {
			return lineInvalid
		}
	} else if isBlank(line) {
		return lineBlank
	}
	if !utf8.Valid(line) {
		v.issuef("", CodeInvalidUTF8, "invalid UTF-8 at column %d", firstInvalidUTF8(line)+1)
		return lineInvalid
	}
	v.checkJSON(line)
	if v.lineErrors > 0 {
		return lineInvalid
	}
	return lineValid
}

// isBlank reports whether a line holds only spaces, tabs and carriage
// returns (so "\r" from CRLF line endings is blank).
func isBlank(line []byte) bool {
	for _, c := range line {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(b)
}

// checkJSON parses a UTF-8 line and validates it against its format.
func (v *validator) checkJSON(line []byte) {
	v.scan.reset(line)
	kind, ok := v.rec.parse(&v.scan)
	if v.scan.err != nil {
		v.issue("", CodeInvalidJSON, "invalid JSON at "+v.scan.err.Error())
		return
	}
	if !ok {
		v.issuef("", CodeNotAnObject, "the line is %s, not a JSON object", kind)
		return
	}
	sig, certain := signature(&v.rec)
	f := v.format
	switch {
	case f == "" && sig == "":
		v.issue("", CodeUnknownFormat, `the object has none of the keys "turns", "messages" or "conversations"`)
		return
	case f == "" && certain:
		v.format, f = sig, sig
	case f == "":
		f = sig
		if v.tentative == "" {
			v.tentative = sig
		}
	case sig != "" && !compatible(sig, certain, f):
		v.issuef("", CodeFormatMismatch, "the line looks like %s but the file is %s", sig, f)
		return
	}
	v.checkRecord(schemas[f])
}

// checkRecord applies a format's schema to the parsed line, then the
// conversation rules.
func (v *validator) checkRecord(sc *schema) {
	rec := &v.rec
	arrayName := topKeyNames[sc.turns]
	for _, d := range rec.dups {
		v.issuef(keyPath(d.array, d.turn, d.name), CodeDuplicateKey, "the key %q appears more than once", d.name)
	}
	v.checkKeys(sc)

	id := v.checkID(sc)
	split := v.checkSplit(sc)

	arr := rec.top[sc.turns]
	switch {
	case !arr.present:
		v.issuef(arrayName, CodeMissingField, "the required key %q is missing", arrayName)
	case arr.kind != kindArray:
		v.issuef(arrayName, CodeInvalidType, "%q must be an array of turns, not %s", arrayName, arr.kind)
	}
	r := rec.arrays[sc.turns]
	raw := rec.turns[r.lo:r.hi]
	if arr.kind == kindArray && len(raw) == 0 {
		v.issuef(arrayName, CodeNoTurns, "%q is empty", arrayName)
	}
	v.turns = v.turns[:0]
	for i := range raw {
		v.turns = append(v.turns, v.checkTurn(sc, arrayName, i, &raw[i]))
	}
	if len(v.turns) > 0 {
		v.checkRoles(sc, arrayName)
	}
	tokens := v.countTokens(arrayName)
	if id != nil && v.ids.add(id) {
		v.issuef(topKeyNames[keyConversationID], CodeDuplicateID, "conversation_id %q was already used by an earlier line", truncateForMessage(id))
	}
	if v.lineErrors > 0 {
		return
	}
	if id == nil {
		id = []byte(lineID(v.line))
	}
	if split == "" {
		split = splitOf(id, v.opts.ValidationPercent)
	}
	v.accept(id, split, tokens)
}

// checkKeys warns about keys the format does not use.
func (v *validator) checkKeys(sc *schema) {
	rec := &v.rec
	for k := range numTopKeys {
		if !rec.top[k].present {
			continue
		}
		used := k == sc.turns ||
			k == keyConversationID && sc.hasID ||
			(k == keySplit || k == keyMetadata) && sc.hasSplitMeta
		if !used {
			v.issuef(topKeyNames[k], CodeUnknownKey, "the key %q is not part of this format and is ignored", topKeyNames[k])
		}
	}
	for _, u := range rec.unknown {
		switch {
		case u.turn < 0:
			v.issuef(u.name, CodeUnknownKey, "the key %q is not part of this format and is ignored", u.name)
		case u.array == sc.turns:
			v.issuef(keyPath(u.array, u.turn, u.name), CodeUnknownKey, "the key %q is not part of a turn in this format and is ignored", u.name)
		}
	}
	r := rec.arrays[sc.turns]
	for i, t := range rec.turns[r.lo:r.hi] {
		for k := range numTurnKeys {
			if t.f[k].present && k != sc.role && k != sc.text && (k != keyWeight || !sc.hasWeight) {
				v.issuef(keyPath(sc.turns, i, turnKeyNames[k]), CodeUnknownKey,
					"the key %q is not part of a turn in this format and is ignored", turnKeyNames[k])
			}
		}
	}
}

// checkID returns the conversation id, or nil if the format has none or it
// is invalid.
func (v *validator) checkID(sc *schema) []byte {
	if !sc.hasID {
		return nil
	}
	const name = "conversation_id"
	f := v.rec.top[keyConversationID]
	switch {
	case !f.present:
		v.issue(name, CodeMissingField, `the required key "conversation_id" is missing`)
	case f.kind != kindString:
		v.issuef(name, CodeInvalidType, "conversation_id must be a string, not %s", f.kind)
	case isBlankText(f.text):
		v.issue(name, CodeEmptyConversationID, "conversation_id is empty")
	default:
		return f.text
	}
	return nil
}

// checkSplit returns the explicit split, or "". It also checks metadata,
// the other optional key of the formats that have split.
func (v *validator) checkSplit(sc *schema) Split {
	if !sc.hasSplitMeta {
		return ""
	}
	if m := v.rec.top[keyMetadata]; m.present && m.kind != kindObject && m.kind != kindNull {
		v.issuef("metadata", CodeInvalidType, "metadata must be an object, not %s", m.kind)
	}
	f := v.rec.top[keySplit]
	switch {
	case !f.present || f.kind == kindNull:
	case f.kind != kindString:
		v.issuef("split", CodeInvalidType, "split must be a string, not %s", f.kind)
	case string(f.text) == string(SplitTrain):
		return SplitTrain
	case string(f.text) == string(SplitValidation):
		return SplitValidation
	default:
		v.issuef("split", CodeInvalidSplit, `split is %q; it must be "train" or "validation"`, truncateForMessage(f.text))
	}
	return ""
}

// checkTurn validates one element of the turns array.
func (v *validator) checkTurn(sc *schema, arrayName string, i int, t *rawTurn) normTurn {
	var out normTurn
	if t.kind != kindObject {
		v.issuef(fmt.Sprintf("%s[%d]", arrayName, i), CodeInvalidType, "a turn must be an object, not %s", t.kind)
		return out
	}
	roleName, textName := turnKeyNames[sc.role], turnKeyNames[sc.text]
	switch role := t.f[sc.role]; {
	case !role.present:
		v.issuef(keyPath(sc.turns, i, roleName), CodeMissingField, "the required key %q is missing", roleName)
	case role.kind != kindString:
		v.issuef(keyPath(sc.turns, i, roleName), CodeInvalidType, "%s must be a string, not %s", roleName, role.kind)
	default:
		r, ok := sc.roles[string(role.text)]
		if !ok {
			v.issuef(keyPath(sc.turns, i, roleName), CodeUnknownRole, "%s is %q; it must be %s", roleName, truncateForMessage(role.text), sc.roleNames())
		}
		out.role = r
	}
	switch text := t.f[sc.text]; {
	case !text.present:
		v.issuef(keyPath(sc.turns, i, textName), CodeMissingField, "the required key %q is missing", textName)
	case text.kind != kindString:
		v.issuef(keyPath(sc.turns, i, textName), CodeInvalidType, "%s must be a string, not %s", textName, text.kind)
	case isBlankText(text.text):
		v.issuef(keyPath(sc.turns, i, textName), CodeEmptyContent, "%s is empty or only whitespace", textName)
	default:
		out.content = text.text
	}
	if w := t.f[keyWeight]; sc.hasWeight && w.present && w.kind != kindNull {
		switch {
		case w.kind == kindNumber && isZero(w.text):
			v.issue(keyPath(sc.turns, i, "weight"), CodeWeightIgnored, "weight 0 is not supported: this turn will be trained on")
		case w.kind == kindNumber && isOne(w.text):
		default:
			v.issuef(keyPath(sc.turns, i, "weight"), CodeInvalidWeight, "weight is %s; it must be 0 or 1", truncateForMessage(w.text))
		}
	}
	return out
}

// keyPath formats "turns[3].role"; turn < 0 means a top-level key.
func keyPath(array topKey, turn int, key string) string {
	if turn < 0 {
		return key
	}
	return fmt.Sprintf("%s[%d].%s", topKeyNames[array], turn, key)
}

// isBlankText reports whether s is empty or only Unicode white space.
func isBlankText(s []byte) bool {
	for len(s) > 0 {
		c := s[0]
		if c < utf8.RuneSelf {
			if c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f' {
				return false
			}
			s = s[1:]
			continue
		}
		r, size := utf8.DecodeRune(s)
		if !unicode.IsSpace(r) {
			return false
		}
		s = s[size:]
	}
	return true
}

// isZero and isOne accept any JSON spelling of 0 or 1 (0, 0.0, 1e0, -0).
func isZero(num []byte) bool { return parseFloat(num) == 0 }
func isOne(num []byte) bool  { return parseFloat(num) == 1 }

// parseFloat parses a number the scanner already validated.
func parseFloat(num []byte) float64 {
	f, err := strconv.ParseFloat(string(num), 64)
	if err != nil {
		return -1 // out of range: neither 0 nor 1
	}
	return f
}

// truncateForMessage keeps user text in messages short.
func truncateForMessage(b []byte) string {
	const max = 64
	if len(b) <= max {
		return string(b)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return string(b[:cut]) + "…"
}
