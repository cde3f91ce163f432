package dataset

import "fmt"

// checkRoles applies the conversation rules to v.turns. They only run when
// every turn has a valid role: with a missing role, "two user turns in a
// row" or "no assistant turn" would be guesses.
func (v *validator) checkRoles(sc *schema, arrayName string) {
	var users, assistants int
	for _, t := range v.turns {
		switch t.role {
		case "":
			return
		case RoleUser:
			users++
		case RoleAssistant:
			assistants++
		}
	}
	rolePath := func(i int) string { return fmt.Sprintf("%s[%d].%s", arrayName, i, turnKeyNames[sc.role]) }
	if users == 0 {
		v.issue(arrayName, CodeMissingUserTurn, "the conversation has no user turn")
	}
	if assistants == 0 {
		v.issue(arrayName, CodeMissingAssistantTurn, "the conversation has no assistant turn")
	}
	for i, t := range v.turns {
		if t.role != RoleSystem {
			if t.role != RoleUser {
				v.issuef(rolePath(i), CodeFirstTurnNotUser, "the first turn after the system turns is an %s turn; it must be a user turn", t.role)
			}
			break
		}
	}
	for i := 1; i < len(v.turns); i++ {
		if v.turns[i].role == v.turns[i-1].role {
			v.issuef(rolePath(i), CodeConsecutiveSameRole, "two %s turns in a row (%d and %d)", v.turns[i].role, i-1, i)
		}
	}
	if last := len(v.turns) - 1; assistants > 0 && v.turns[last].role != RoleAssistant {
		v.issuef(rolePath(last), CodeLastTurnNotAssistant, "the last turn is a %s turn, not an assistant turn", v.turns[last].role)
	}
}

// countTokens counts each turn's content and checks the conversation
// against the limit. Counting stops at the limit: the counts of a valid
// conversation are exact, those of a too-long one are a lower bound. In
// estimate mode the check uses the content's byte length, which is never
// below its token count (a token is at least one byte).
func (v *validator) countTokens(arrayName string) int {
	limit := v.opts.MaxTokens
	total, bytes := 0, 0
	for i := range v.turns {
		t := &v.turns[i]
		if t.content == nil || total > limit && v.counter != nil {
			continue
		}
		if v.counter != nil {
			t.tokens = v.counter.CountUpTo(t.content, limit-total)
		} else {
			t.tokens = (len(t.content) + 3) / 4
		}
		total += t.tokens
		bytes += len(t.content)
	}
	switch {
	case v.counter != nil && total > limit:
		v.issuef(arrayName, CodeConversationTooLong, "the conversation has more than %d tokens (the limit); counting stopped at %d", limit, total)
	case v.counter == nil && bytes > limit:
		v.issuef(arrayName, CodeTokenLimitUnverified,
			"the conversation has %d bytes of content (estimated %d tokens), so it may exceed the %d-token limit", bytes, total, limit)
	}
	return total
}

// accept adds a valid conversation to the statistics and the sample.
func (v *validator) accept(id []byte, split Split, tokens int) {
	v.stats.add(v.turns, split, tokens)
	if len(v.samples) < v.opts.SampleSize || v.opts.OnConversation != nil {
		c := v.normalized(id, split, tokens)
		if len(v.samples) < v.opts.SampleSize {
			v.samples = append(v.samples, truncated(c, v.opts.SampleMaxChars))
		}
		if v.opts.OnConversation != nil && v.cbErr == nil {
			v.cbErr = v.opts.OnConversation(c)
		}
	}
}

func (v *validator) normalized(id []byte, split Split, tokens int) Conversation {
	c := Conversation{Line: v.line, ConversationID: string(id), Split: split, Tokens: tokens, Turns: make([]Turn, len(v.turns))}
	for i, t := range v.turns {
		c.Turns[i] = Turn{Role: t.role, Content: string(t.content)}
	}
	return c
}
