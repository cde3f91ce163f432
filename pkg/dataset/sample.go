package dataset

// TruncationMarker ends a sample content that was cut.
const TruncationMarker = "… [truncated]"

// truncated returns a copy of c with every content longer than maxChars
// runes cut to maxChars runes plus TruncationMarker.
func truncated(c Conversation, maxChars int) Conversation {
	turns := make([]Turn, len(c.Turns))
	for i, t := range c.Turns {
		turns[i] = Turn{Role: t.Role, Content: truncateRunes(t.Content, maxChars)}
	}
	c.Turns = turns
	return c
}

func truncateRunes(s string, maxChars int) string {
	if len(s) <= maxChars { // bytes >= runes
		return s
	}
	n := 0
	for i := range s {
		if n == maxChars {
			return s[:i] + TruncationMarker
		}
		n++
	}
	return s
}
