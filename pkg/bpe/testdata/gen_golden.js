// Regenerates tiktoken_cl100k_golden.jsonl with OpenAI's own tiktoken (the
// npm "tiktoken" package is the WASM build of the Rust crate):
//
//   npm install --prefix /tmp/tt tiktoken@1.0.22
//   NODE_PATH=/tmp/tt/node_modules node pkg/bpe/testdata/gen_golden.js > pkg/bpe/testdata/tiktoken_cl100k_golden.jsonl
//
// Not a project dependency: the Go tests only read the output file.
const { get_encoding } = require("tiktoken");
const enc = get_encoding("cl100k_base");

// Deterministic PRNG (mulberry32).
let seed = 20240601;
function rnd() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rnd() * a.length)];

const fixed = [
  "", "a", "Hello, world!", "hello  world",
  "I'm sure it's fine, we'll see; they'd've said. DON'T YOU'RE I'VE I'M I'LL HE'D 'S",
  "'ſ 'ſa 'sup 're' 'Ve 'Ll 'lL ''s '",
  "a\n \n b", "x\n\n  \n\ty", "\r\n\r\n  foo\r\n", "a\n\n \n\n  \n   b", "  \n \t\n\u3000\n x",
  "trailing spaces   ", "   leading", "\t\ttabs\tand\v\fvertical",
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
  "\x00\x01\x1f\x7f control \x7f\x7f a\x7fb",
  "a".repeat(140), "漢字".repeat(200), "QmFzZTY0IGRhdGEgaGVyZQ".repeat(20),
  " ".repeat(300) + "x", "\n".repeat(50) + " \n".repeat(50),
  "\ufffd replacement \ufeffbom \u200bzw",
];

const pool = Array.from(
  "\x7f\u0080\u009f\u00ad\ufeff\u200baZzé日本ſßΩж0٣２²Ⅻ '''''sStTrReEvVmMlLdD   \t\t\n\n\r" +
  "\u00a0\u3000\u2028\u0085\v\f.,!?-_()[]{}<>/\\\"#$%&*+=@^`|~\u0301\u20dd🎉👩\u200d🇫\ufffd\x00"
);
const chunks = ["'s", "'re", "'ll", " the", "\r\n", " \n ", "123456", "don't", "  \n\n  "];
function randomText(n) {
  let s = "";
  for (let i = 0; i < n; i++) {
    s += rnd() < 0.05 ? pick(chunks) : pick(pool);
  }
  return s;
}

const words = ("the of and to in is you that it he was for on are as with his they I at be this have from " +
  "or one had by word but not what all were we when your can said there use an each which she do how their " +
  "if will up other about out many then them these so some her would make like him into time has look two " +
  "more write go see number no way could people my than first water been call who oil its now find long down " +
  "day did get come made may part tokenization hyperparameter fine-tuning LoRA adapters gradient checkpointing " +
  "Kubernetes PostgreSQL asynchronous idempotent serverless").split(" ");
function prose(n) {
  let s = "";
  for (let i = 0; i < n; i++) {
    const r = rnd();
    if (r < 0.05) s += "\n\n";
    else if (r < 0.15) s += ", ";
    else if (r < 0.2) s += ". ";
    else if (r < 0.23) s += " " + Math.floor(rnd() * 100000);
    else if (r < 0.25) s += " `" + pick(words) + "_" + pick(words) + "()`";
    s += (s.endsWith(" ") || s === "" ? "" : " ") + pick(words);
  }
  return s;
}

const texts = [...fixed];
for (let i = 0; i < 400; i++) texts.push(randomText(1 + Math.floor(rnd() * 80)));
for (let i = 0; i < 40; i++) texts.push(prose(20 + Math.floor(rnd() * 300)));
for (const text of texts) {
  const ids = Array.from(enc.encode_ordinary(text));
  process.stdout.write(JSON.stringify({ text, count: ids.length, ids }) + "\n");
}
enc.free();
