package training

import "github.com/brightrun/brightrun/pkg/dataset"

// DatasetProfile is what validation and the estimate need to know about a
// dataset. Token counts are the validator's cl100k_base counts (exact or
// estimated), over both splits.
type DatasetProfile struct {
	Status                  string `json:"status"`
	TrainingReady           bool   `json:"training_ready"`
	Conversations           int    `json:"conversations"`
	TrainConversations      int    `json:"train_conversations"`
	ValidationConversations int    `json:"validation_conversations"`
	TotalTokens             int64  `json:"total_tokens"`
	TokensExact             bool   `json:"tokens_exact"`
	Turns                   int64  `json:"total_turns"` // 0 if unknown: no chat-template overhead is added
	SizeBytes               int64  `json:"size_bytes"`
	TokensP95               int    `json:"tokens_p95"` // per conversation
}

// ProfileOf builds the profile of a dataset from its validation statistics.
func ProfileOf(d dataset.Dataset) DatasetProfile {
	p := DatasetProfile{Status: string(d.Status), TrainingReady: d.TrainingReady, SizeBytes: d.FileSize}
	if s := d.Statistics; s != nil {
		p.Conversations = s.Conversations
		p.TrainConversations = s.TrainConversations
		p.ValidationConversations = s.ValidationConversations
		p.TotalTokens = s.TotalTokens
		p.TokensExact = s.TokensExact
		p.Turns = s.TotalTurns
		p.TokensP95 = s.TokensPerConversation.P95
	} else if d.TotalTokens != nil {
		p.TotalTokens = *d.TotalTokens
	}
	return p
}

// splitShare is the training split's share of the conversations (token
// counts are not kept per split, so tokens and turns are divided in this
// proportion).
func (p DatasetProfile) splitShare() float64 {
	n := p.TrainConversations + p.ValidationConversations
	if n <= 0 {
		return 1
	}
	return float64(p.TrainConversations) / float64(n)
}

// ModelTokens returns the tokens the model sees in one pass over the
// training and the validation split: cl100k_base tokens × the model's
// TokenRatio + TemplateTokensPerTurn per turn, divided between the splits in
// proportion to their conversations.
func ModelTokens(m BaseModel, p DatasetProfile) (train, validation int64) {
	ratio := m.TokenRatio
	if ratio <= 0 {
		ratio = 1
	}
	all := float64(p.TotalTokens)*ratio + float64(p.Turns)*TemplateTokensPerTurn
	share := p.splitShare()
	train = int64(all*share + 0.5)
	validation = int64(all*(1-share) + 0.5)
	return train, validation
}
