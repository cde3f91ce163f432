package bpe

import (
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/dlclark/regexp2/v2"
	"github.com/tiktoken-go/tokenizer"
)

// The reference library: github.com/tiktoken-go/tokenizer. Its generated
// regexp matcher differs from tiktoken on one construct (see whitespaceEnd),
// so whole-count comparisons run our Counter in compat mode, and the
// production pre-tokenizer is compared with regexp2's backtracking
// interpreter running the same pattern, which gets that construct right.

var ref struct {
	once  sync.Once
	codec tokenizer.Codec
	split *regexp2.Regexp
}

// cl100kPattern is wrapped in a non-capturing group so that regexp2 does not
// pick the generated matcher the library registered for the bare pattern.
const cl100kPattern = `(?:(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)`

func reference(t testing.TB) (tokenizer.Codec, *regexp2.Regexp) {
	t.Helper()
	ref.once.Do(func() {
		c, err := tokenizer.Get(tokenizer.Cl100kBase)
		if err != nil {
			panic(err)
		}
		ref.codec = c
		ref.split = regexp2.MustCompile(cl100kPattern, regexp2.None)
	})
	return ref.codec, ref.split
}

func newTestCounter(t testing.TB) *Counter {
	t.Helper()
	enc, err := Cl100kBase()
	if err != nil {
		t.Fatalf("Cl100kBase() error = %v", err)
	}
	return enc.NewCounter()
}

// refPieces returns the pieces regexp2's interpreter finds in s.
func refPieces(t testing.TB, s string) []string {
	_, re := reference(t)
	var out []string
	m, err := re.FindStringMatch(s)
	for ; m != nil && err == nil; m, err = re.FindNextMatch(m) {
		out = append(out, m.String())
	}
	if err != nil {
		t.Fatalf("regexp2 error on %q: %v", s, err)
	}
	return out
}

func ourPieces(s string, sp *splitter) []string {
	if _, err := Cl100kBase(); err != nil { // builds the class tables
		panic(err)
	}
	b := []byte(s)
	var out []string
	for i := 0; i < len(b); {
		j := sp.pieceEnd(b, i)
		out = append(out, string(b[i:j]))
		i = j
	}
	return out
}

// sampleTexts covers every branch of the pattern and the classes around it.
var sampleTexts = []string{
	"",
	"a",
	"Hello, world!",
	"hello  world",
	"I'm sure it's fine, we'll see; they'd've said. DON'T YOU'RE I'VE I'M I'LL HE'D 'S",
	"'ſ 'ſa 'sup 're' 'Ve 'Ll 'lL ''s '",
	"a\n \n b",
	"x\n\n  \n\ty",
	"\r\n\r\n  foo\r\n",
	"trailing spaces   ",
	"   leading",
	"\t\ttabs\tand\v\fvertical",
	"1234567 12 1 1,234.56 3.14159 0x1F 1e10 ٣٤٥٦ ０１２３ ²³ Ⅻ",
	"naïve café résumé Straße ſtraße Ελληνικά кириллица",
	"日本語のテキストです。中文文本，包含标点符号。한국어 텍스트",
	"emoji 🎉🎉 👩‍👩‍👧 🇫🇷 ✨ done",
	"combining e\u0301 a\u0308\u0308 x\u20dd",
	"nbsp\u00a0word ideographic\u3000space line\u2028sep para\u2029sep nel\u0085x",
	"func main() {\n\tfmt.Println(\"hi\")\n\treturn x+1 // comment\n}\n",
	"```python\ndef f(x):\n    return x ** 2\n```",
	"<|endoftext|> <|fim_prefix|> special tokens are text",
	"!!!??? ...--- ***\n\n\n### Heading\n- item\n* item",
	"https://example.com/path?query=1&b=2#frag user@example.com",
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	strings.Repeat("漢字", 200),
	strings.Repeat("QmFzZTY0IGRhdGEgaGVyZQ", 20),
	strings.Repeat(" ", 300) + "x",
	strings.Repeat("\n", 50) + strings.Repeat(" \n", 50),
	"\x00\x01\x1f\x7f control",
	"bad \xff\xfe utf8 \xc3 end \xe2\x82",
	"\ufffd replacement",
}

// runePool mixes runes of every class, weighted towards the tricky ones.
var runePool = []rune("\x7f\u0080\u009f\u00ad\ufeff\u200baZzé日本ſßΩж0٣２²Ⅻ '''''sStTrReEvVmMlLdD   \t\t\n\n\r\u00a0\u3000\u2028\u0085\v\f.,!?-_()[]{}<>/\\\"#$%&*+=@^`|~\u0301\u20dd🎉👩\u200d🇫\ufffd\x00")

func randomText(r *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		switch r.IntN(20) {
		case 0:
			b.WriteString([]string{"'s", "'re", "'ll", " the", "\r\n", " \n ", "123456", "don't", "  \n\n  "}[r.IntN(9)])
		case 1:
			b.WriteByte(byte(0x80 + r.IntN(0x80))) // stray continuation or lead byte
		default:
			b.WriteRune(runePool[r.IntN(len(runePool))])
		}
	}
	return b.String()
}
