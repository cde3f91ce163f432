package dataset

// Format names a supported line schema.
type Format string

const (
	FormatLoRAv4     Format = "brightrun_lora_v4"
	FormatLoRAv3     Format = "brightrun_lora_v3"
	FormatOpenAIChat Format = "openai_chat"
	FormatShareGPT   Format = "sharegpt"
)

// Formats lists the supported formats.
func Formats() []Format {
	return []Format{FormatLoRAv4, FormatLoRAv3, FormatOpenAIChat, FormatShareGPT}
}

func (f Format) valid() bool {
	switch f {
	case FormatLoRAv4, FormatLoRAv3, FormatOpenAIChat, FormatShareGPT:
		return true
	}
	return false
}

// Role is a normalised speaker.
type Role string

const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

// Split is the part of the dataset a conversation trains or validates on.
type Split string

const (
	SplitTrain      Split = "train"
	SplitValidation Split = "validation"
)

// schema says which keys a format uses. Key names index rawRecord fields
// (topKey, turnKey) so that one parse serves every format.
type schema struct {
	turns        topKey  // the array of turns
	role, text   turnKey // the turn's speaker and content keys
	hasID        bool    // conversation_id is required (else derived from the line)
	hasSplitMeta bool    // split and metadata are allowed
	hasWeight    bool
	roles        map[string]Role
}

var schemas = map[Format]*schema{
	FormatLoRAv4: {
		turns: keyTurns, role: keyRole, text: keyContent, hasID: true, hasSplitMeta: true,
		roles: map[string]Role{"system": RoleSystem, "user": RoleUser, "assistant": RoleAssistant},
	},
	FormatLoRAv3: {
		turns: keyTurns, role: keySpeaker, text: keyText, hasID: true,
		roles: map[string]Role{"system": RoleSystem, "human": RoleUser, "assistant": RoleAssistant},
	},
	FormatOpenAIChat: {
		turns: keyMessages, role: keyRole, text: keyContent, hasWeight: true,
		roles: map[string]Role{"system": RoleSystem, "user": RoleUser, "assistant": RoleAssistant},
	},
	FormatShareGPT: {
		turns: keyConversations, role: keyFrom, text: keyValue,
		roles: map[string]Role{"system": RoleSystem, "human": RoleUser, "user": RoleUser, "gpt": RoleAssistant, "assistant": RoleAssistant},
	},
}

// roleNames lists a schema's accepted role values for messages.
func (s *schema) roleNames() string {
	switch s {
	case schemas[FormatLoRAv3]:
		return `"system", "human" or "assistant"`
	case schemas[FormatShareGPT]:
		return `"system", "human", "user", "gpt" or "assistant"`
	}
	return `"system", "user" or "assistant"`
}

// signature guesses a line's format from its keys. certain is false for a
// "turns" array whose first element names neither v4 nor v3 keys: such a
// line fits either.
func signature(rec *rawRecord) (f Format, certain bool) {
	switch {
	case rec.top[keyTurns].present:
		if first, ok := rec.firstTurn(keyTurns); ok {
			if first.f[keySpeaker].present || first.f[keyText].present {
				return FormatLoRAv3, true
			}
			if first.f[keyRole].present || first.f[keyContent].present {
				return FormatLoRAv4, true
			}
		}
		return FormatLoRAv4, false
	case rec.top[keyMessages].present:
		return FormatOpenAIChat, true
	case rec.top[keyConversations].present:
		return FormatShareGPT, true
	}
	return "", false
}

// compatible reports whether a line with signature sig may be validated as
// format f.
func compatible(sig Format, certain bool, f Format) bool {
	if sig == f {
		return true
	}
	return !certain && sig == FormatLoRAv4 && f == FormatLoRAv3
}
