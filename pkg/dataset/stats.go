package dataset

// statsAcc accumulates Stats over valid conversations.
type statsAcc struct {
	conversations, train, validation int
	turns, trainPairs, valPairs      int64
	tokens                           int64
	hist                             histogram
}

func (a *statsAcc) add(turns []normTurn, split Split, tokens int) {
	a.conversations++
	a.turns += int64(len(turns))
	a.tokens += int64(tokens)
	a.hist.add(uint32(min(tokens, 1<<32-1)))
	pairs := int64(pairsIn(turns))
	if split == SplitValidation {
		a.validation++
		a.valPairs += pairs
	} else {
		a.train++
		a.trainPairs += pairs
	}
}

// pairsIn counts assistant turns whose previous non-system turn is a user
// turn.
func pairsIn(turns []normTurn) int {
	n := 0
	var prev Role
	for _, t := range turns {
		if t.role == RoleSystem {
			continue
		}
		if t.role == RoleAssistant && prev == RoleUser {
			n++
		}
		prev = t.role
	}
	return n
}

// Token methods reported in Stats.TokenMethod.
const (
	TokenMethodExact    = "cl100k_base"
	TokenMethodEstimate = "estimate_utf8_bytes_div_4"
)

func (a *statsAcc) stats(exact bool) Stats {
	s := Stats{
		Conversations:           a.conversations,
		TrainConversations:      a.train,
		ValidationConversations: a.validation,
		TotalTurns:              a.turns,
		TotalTrainingPairs:      a.trainPairs,
		TotalValidationPairs:    a.valPairs,
		TotalTokens:             a.tokens,
		TokensExact:             exact,
		TokenMethod:             TokenMethodEstimate,
		TokensPerConversation: Distribution{
			P50:  int(a.hist.quantile(0.50)),
			P95:  int(a.hist.quantile(0.95)),
			Max:  int(a.hist.max),
			Mean: a.hist.mean(),
		},
	}
	if exact {
		s.TokenMethod = TokenMethodExact
	}
	if a.conversations > 0 {
		s.AvgTurnsPerConversation = float64(a.turns) / float64(a.conversations)
	}
	if a.turns > 0 {
		s.AvgTokensPerTurn = float64(a.tokens) / float64(a.turns)
	}
	return s
}
