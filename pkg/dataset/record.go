package dataset

// rawRecord is one line parsed against the union of every format's keys,
// before any format is chosen: a single pass serves detection and
// validation. Strings alias the line or the scanner's unescape buffer.
type rawRecord struct {
	top     [numTopKeys]rawField
	turns   []rawTurn // the elements of every turns-like array, in order
	arrays  [numTopKeys]turnRange
	unknown []unknownKey // keys no format knows
	dups    []dupKey     // known keys seen twice in one object
}

// rawField is a known key's value. Only strings and numbers keep their text.
type rawField struct {
	present bool
	kind    valueKind
	text    []byte
}

// rawTurn is one element of a turns-like array.
type rawTurn struct {
	kind valueKind // kindObject unless the element is something else
	f    [numTurnKeys]rawField
}

type turnRange struct{ lo, hi int }

// unknownKey records where an unrecognised key was; turn is -1 at top level.
type unknownKey struct {
	array topKey
	turn  int
	name  string
}

type dupKey struct {
	array topKey
	turn  int // -1 at top level
	name  string
}

// topKey names the top-level keys any format uses.
type topKey uint8

const (
	keyConversationID topKey = iota
	keyTurns
	keyMessages
	keyConversations
	keySplit
	keyMetadata
	numTopKeys
)

var topKeyNames = [numTopKeys]string{"conversation_id", "turns", "messages", "conversations", "split", "metadata"}

// turnKey names the keys any format uses inside a turn.
type turnKey uint8

const (
	keyRole turnKey = iota
	keyContent
	keySpeaker
	keyText
	keyFrom
	keyValue
	keyWeight
	numTurnKeys
)

var turnKeyNames = [numTurnKeys]string{"role", "content", "speaker", "text", "from", "value", "weight"}

func lookupTopKey(k []byte) (topKey, bool) {
	switch string(k) { // no allocation: the compiler compares in place
	case "conversation_id":
		return keyConversationID, true
	case "turns":
		return keyTurns, true
	case "messages":
		return keyMessages, true
	case "conversations":
		return keyConversations, true
	case "split":
		return keySplit, true
	case "metadata":
		return keyMetadata, true
	}
	return 0, false
}

func lookupTurnKey(k []byte) (turnKey, bool) {
	switch string(k) {
	case "role":
		return keyRole, true
	case "content":
		return keyContent, true
	case "speaker":
		return keySpeaker, true
	case "text":
		return keyText, true
	case "from":
		return keyFrom, true
	case "value":
		return keyValue, true
	case "weight":
		return keyWeight, true
	}
	return 0, false
}

func (rec *rawRecord) reset() {
	rec.top = [numTopKeys]rawField{}
	rec.arrays = [numTopKeys]turnRange{}
	rec.turns = rec.turns[:0]
	rec.unknown = rec.unknown[:0]
	rec.dups = rec.dups[:0]
}

// firstTurn returns the first element of array k, if any.
func (rec *rawRecord) firstTurn(k topKey) (*rawTurn, bool) {
	r := rec.arrays[k]
	if r.hi <= r.lo || rec.turns[r.lo].kind != kindObject {
		return nil, false
	}
	return &rec.turns[r.lo], true
}

// parse reads one line into rec. It returns false if the line is not a
// JSON object (s.err is then set, or the top-level value has another kind,
// returned in kind).
func (rec *rawRecord) parse(s *scanner) (kind valueKind, ok bool) {
	rec.reset()
	kind = s.peekKind()
	if kind != kindObject {
		if kind == kindNone {
			s.unexpected("a JSON object")
			return kind, false
		}
		s.skipValue(0)
		return kind, false
	}
	s.eachMember(func(key []byte) {
		k, known := lookupTopKey(key)
		if !known {
			rec.unknown = append(rec.unknown, unknownKey{turn: -1, name: string(key)})
			s.skipValue(1)
			return
		}
		f := &rec.top[k]
		if f.present {
			rec.dups = append(rec.dups, dupKey{turn: -1, name: topKeyNames[k]})
		}
		f.present, f.text = true, nil
		f.kind = s.peekKind()
		switch {
		case f.kind == kindString:
			f.text = s.readString()
		case f.kind == kindArray && (k == keyTurns || k == keyMessages || k == keyConversations):
			rec.arrays[k].lo = len(rec.turns)
			s.eachElement(func(int) { rec.parseTurn(s, k) })
			rec.arrays[k].hi = len(rec.turns)
		default:
			s.skipValue(1)
		}
	})
	if s.err != nil {
		return kindObject, false
	}
	s.skipSpace()
	if s.pos < len(s.data) {
		s.unexpected("the end of the line after the object")
		return kindObject, false
	}
	return kindObject, true
}

func (rec *rawRecord) parseTurn(s *scanner, array topKey) {
	rec.turns = append(rec.turns, rawTurn{kind: s.peekKind()})
	ti := len(rec.turns) - 1
	if rec.turns[ti].kind != kindObject {
		s.skipValue(2)
		return
	}
	turnIndex := ti - rec.arrays[array].lo
	s.eachMember(func(key []byte) {
		k, known := lookupTurnKey(key)
		if !known {
			rec.unknown = append(rec.unknown, unknownKey{array: array, turn: turnIndex, name: string(key)})
			s.skipValue(3)
			return
		}
		f := &rec.turns[ti].f[k]
		if f.present {
			rec.dups = append(rec.dups, dupKey{array: array, turn: turnIndex, name: turnKeyNames[k]})
		}
		f.present, f.text = true, nil
		f.kind = s.peekKind()
		switch f.kind {
		case kindString:
			f.text = s.readString()
		case kindNumber:
			f.text = s.readNumber()
		default:
			s.skipValue(3)
		}
	})
}
