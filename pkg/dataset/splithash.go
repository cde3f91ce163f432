package dataset

// splitOf assigns a conversation without an explicit split: validation iff
// FNV-1a-64(UTF-8 bytes of the conversation id) mod 100 < percent. It
// depends only on the id, so re-uploading or reordering a file keeps every
// conversation in its split.
func splitOf(id []byte, percent int) Split {
	if fnv1a(id)%100 < uint64(percent) {
		return SplitValidation
	}
	return SplitTrain
}
