package datasetgen

// defectKind is a defect injected into one line; each maps to one
// validator code (see the comments).
type defectKind int

const (
	defectNone           defectKind = iota
	defectTruncated                 // INVALID_JSON
	defectMissingID                 // MISSING_FIELD
	defectUnknownRole               // UNKNOWN_ROLE
	defectEmptyContent              // EMPTY_CONTENT
	defectRepeatedRole              // CONSECUTIVE_SAME_ROLE
	defectNoFinalAnswer             // LAST_TURN_NOT_ASSISTANT (a warning), or MISSING_ASSISTANT_TURN
	defectAssistantFirst            // FIRST_TURN_NOT_USER
	defectInvalidUTF8               // INVALID_UTF8
	defectUnknownKey                // UNKNOWN_KEY (a warning)
	defectWrongType                 // INVALID_TYPE
	numDefects
)

// encode appends the current conversation in the configured format, with
// defect applied.
func (g *Generator) encode(dst []byte, id string, defect defectKind) []byte {
	turns := g.turns
	bad := g.rng.IntN(len(turns)) // the turn a per-turn defect hits
	switch defect {
	case defectRepeatedRole:
		for i, t := range turns {
			if t.role == "user" {
				turns = append(turns[:i+1:i+1], turns[i:]...)
				break
			}
		}
	case defectNoFinalAnswer:
		turns = turns[:len(turns)-1]
	case defectAssistantFirst:
		for i, t := range turns {
			if t.role == "user" {
				turns = append(turns[:i:i], turns[i+1:]...)
				break
			}
		}
	}
	bad = min(bad, len(turns)-1)

	f := g.opts.Format
	dst = append(dst, '{')
	arrayKey, roleKey, contentKey := "turns", "role", "content"
	switch f {
	case FormatV3:
		roleKey, contentKey = "speaker", "text"
	case FormatOpenAI:
		arrayKey = "messages"
	case FormatShareGPT:
		arrayKey, roleKey, contentKey = "conversations", "from", "value"
	}
	if defect == defectMissingID && (f == FormatOpenAI || f == FormatShareGPT) {
		arrayKey = "dialogue"
	}
	if (f == FormatV4 || f == FormatV3) && defect != defectMissingID {
		dst = append(dst, `"conversation_id":`...)
		dst = appendString(dst, []byte(id))
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, arrayKey...)
	dst = append(dst, `":[`...)
	for i, t := range turns {
		if i > 0 {
			dst = append(dst, ',')
		}
		role := roleName(f, t.role)
		if defect == defectUnknownRole && i == bad {
			role = "bot"
		}
		dst = append(dst, `{"`...)
		dst = append(dst, roleKey...)
		dst = append(dst, `":"`...)
		dst = append(dst, role...)
		dst = append(dst, `","`...)
		dst = append(dst, contentKey...)
		dst = append(dst, `":`...)
		content := g.buf[t.start:t.end]
		switch {
		case defectWrongType == defect && i == bad:
			dst = append(dst, "42"...)
		case defectEmptyContent == defect && i == bad:
			dst = append(dst, `""`...)
		case defectInvalidUTF8 == defect && i == bad:
			dst = appendString(dst, append(content[:len(content):len(content)], 0xFF, 'x'))
		default:
			dst = appendString(dst, content)
		}
		if f == FormatOpenAI && t.role == "assistant" && g.rng.IntN(10) == 0 {
			dst = append(dst, `,"weight":1`...)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, ']')
	if f == FormatV4 {
		switch g.rng.IntN(20) {
		case 0:
			dst = append(dst, `,"split":"validation"`...)
		case 1:
			dst = append(dst, `,"split":"train"`...)
		case 2, 3:
			dst = append(dst, `,"metadata":{"source":"support-chat","quality":0.93,"tags":["billing","refund"]}`...)
		}
	}
	if defect == defectUnknownKey {
		dst = append(dst, `,"source":"web"`...)
	}
	return append(dst, '}')
}

func roleName(format, role string) string {
	switch {
	case format == FormatV3 && role == "user":
		return "human"
	case format == FormatShareGPT && role == "user":
		return "human"
	case format == FormatShareGPT && role == "assistant":
		return "gpt"
	}
	return role
}
