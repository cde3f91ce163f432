package datasetgen

import "strings"

// commonWords is ordered roughly by frequency; pickWord draws from it with
// a Zipf-like bias so that "the" is common and "idempotency" is rare, as in
// real chat text.
var commonWords = strings.Fields(`
the of and to a in is it you that he was for on are with as I his they be at one have this from
or had by not word but what some we can out other were all there when up use your how said an each
she which do their time if will way about many then them write would like so these her long make
thing see him two has look more day could go come did number sound no most people my over know
water than call first who may down side been now find any new work part take get place made live
where after back little only round man year came show every good me give our under name very
through just form sentence great think say help low line differ turn cause much mean before move
right boy old too same tell does set three want air well also play small end put home read hand
port large spell add even land here must big high such follow act why ask men change went light
kind off need house picture try us again animal point mother world near build self earth father
head stand own page should country found answer school grow study still learn plant cover food sun
four between state keep eye never last let thought city tree cross farm hard start might story saw
far sea draw left late run don't while press close night real life few north open seem together
next white children begin got walk example ease paper group always music those both mark often
letter until mile river car feet care second book carry took science eat room friend began idea
fish mountain stop once base hear horse cut sure watch color face wood main enough plain girl
usual young ready above ever red list though feel talk bird soon body dog family direct pose leave
song measure door product black short numeral class wind question happen complete ship area half
rock order fire south problem piece told knew pass since top whole king space heard best hour
better true during hundred five remember step early hold west ground interest reach fast verb sing
listen six table travel less morning ten simple several vowel toward war lay against pattern slow
center love person money serve appear road map rain rule govern pull cold notice voice unit power
town fine certain fly fall lead cry dark machine note wait plan figure star box noun field rest
correct able pound done beauty drive stood contain front teach week final gave green oh quick
develop ocean warm free minute strong special mind behind clear tail produce fact street inch
multiply nothing course stay wheel full force blue object decide surface deep moon island foot
system busy test record boat common gold possible plane stead dry wonder laugh thousand ago ran
check game shape equate hot miss brought heat snow tire bring yes distant fill east paint language
among model data training dataset function error value result request response server client
database query index cache memory thread process file directory network latency throughput token
tokens batch epoch gradient learning rate loss validation accuracy parameter parameters layer
weights adapter adapters rank alpha dropout optimizer scheduler warmup checkpoint checkpoints
inference prompt prompts completion assistant user system message messages conversation context
window embedding embeddings vector vectors matrix tensor GPU GPUs CPU cluster node nodes container
deployment pipeline configuration environment variable variables string integer boolean array
object method class interface package module library framework API endpoint JSON YAML schema
field fields key keys timeout retry retries queue worker workers event events bucket upload
download permission permissions policy role roles account billing invoice customer customers
support ticket issue issues bug bugs fix feature release version versions migration backup
restore latency percentile average median distribution sample samples metric metrics dashboard
`)

// rareWords are long or technical words that are usually several tokens.
var rareWords = strings.Fields(`
idempotency hyperparameter hyperparameters quantization tokenization serialization
deserialization asynchronous synchronously observability containerization orchestration
Kubernetes PostgreSQL DynamoDB CloudFormation TypeScript JavaScript WebAssembly protobuf
misconfiguration backpropagation regularization normalization interpretability
reproducibility parallelization vectorization memoization concurrency throttling
photosynthesis mitochondria thermodynamics electromagnetism Mediterranean Renaissance
entrepreneurship accountability sustainability infrastructure cryptographic pseudorandom
`)

// unicodeWords give names, loanwords and symbols outside ASCII.
var unicodeWords = strings.Fields(`
café naïve résumé José Zoë Müller Straße Ångström façade jalapeño São Paulo Kraków Dvořák
Łódź Ελληνικά Москва Привет Добрый день こんにちは ありがとう 東京 北京 你好 谢谢 안녕하세요
🙂 👍 🚀 ✅ ⚠️ 🎉 — – “quoted” ‘single’ … € £ ¥ ° ± × ÷ ≈ ≠ ≤ ≥ → ← ✓ ½ ²
`)

var cjkSentences = []string{
	"这是一个用于测试的中文句子，包含标点符号。",
	"機械学習のモデルを微調整するには、データの品質が重要です。",
	"모델을 미세 조정하려면 고품질 데이터가 필요합니다.",
	"请把下面的段落翻译成英文，并保留格式。",
	"東京は日本の首都であり、多くの人が住んでいます。",
}

var systemPrompts = []string{
	"You are a helpful assistant.",
	"You are a concise technical assistant. Answer with short, precise explanations and include code when useful.",
	"You are a customer support agent for an online store. Be polite, ask clarifying questions, and never invent order details.",
	"You are a tutor who explains math step by step. Use simple language and check the student's understanding.",
	"You are an expert Go and Python engineer. Prefer idiomatic code, explain trade-offs, and mention edge cases.",
	"You translate between English, French, German, Japanese and Chinese, preserving tone and formatting.",
	"Tu es un assistant qui répond en français, de façon claire et bienveillante.",
}

var openers = []string{
	"Can you explain", "How do I", "What is the best way to", "Why does", "Could you help me with",
	"I'm trying to", "Is it possible to", "What's the difference between", "Please summarize",
	"Write a short", "I keep getting an error when I", "Give me three ideas for",
}

var codeBlocks = []string{
	"```go\nfunc sum(xs []int) int {\n\ttotal := 0\n\tfor _, x := range xs {\n\t\ttotal += x\n\t}\n\treturn total\n}\n```",
	"```python\ndef train(model, data, epochs=3, lr=2e-4):\n    for epoch in range(epochs):\n        loss = model.step(data, lr=lr)\n        print(f\"epoch {epoch}: loss={loss:.4f}\")\n    return model\n```",
	"```json\n{\n  \"learning_rate\": 0.0002,\n  \"lora_rank\": 16,\n  \"lora_alpha\": 32,\n  \"epochs\": 3\n}\n```",
	"```bash\ncurl -X POST https://api.example.com/v1/jobs \\\n  -H \"Authorization: Bearer $TOKEN\" \\\n  -d '{\"dataset_id\": \"ds_123\"}'\n```",
	"```sql\nSELECT user_id, COUNT(*) AS jobs\nFROM training_jobs\nWHERE status = 'completed'\nGROUP BY user_id\nORDER BY jobs DESC\nLIMIT 10;\n```",
	"```typescript\nexport async function fetchJob(id: string): Promise<Job> {\n  const res = await fetch(`/api/jobs/${id}`);\n  if (!res.ok) throw new Error(`HTTP ${res.status}`);\n  return res.json();\n}\n```",
}
