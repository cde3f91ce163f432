package datasetgen

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
)

// Format names, as in package dataset.
const (
	FormatV4       = "brightrun_lora_v4"
	FormatV3       = "brightrun_lora_v3"
	FormatOpenAI   = "openai_chat"
	FormatShareGPT = "sharegpt"
)

// Options configure a Generator. The zero value writes valid
// brightrun_lora_v4 lines with seed 0.
type Options struct {
	Seed      uint64
	Format    string  // one of the Format constants; "" means FormatV4
	ErrorRate float64 // probability, per line, of one injected defect (0..1)
}

// Generator produces one JSONL conversation per call. Not safe for
// concurrent use.
type Generator struct {
	opts  Options
	rng   *rand.Rand
	text  textGen
	lines int
	ids   []string // recent ids, for duplicate-id injection
	turns []turn
	buf   []byte // turn contents
}

type turn struct {
	role       string // system, user or assistant
	start, end int    // content in Generator.buf
}

// New returns a Generator, or an error for an unknown format or rate.
func New(opts Options) (*Generator, error) {
	if opts.Format == "" {
		opts.Format = FormatV4
	}
	switch opts.Format {
	case FormatV4, FormatV3, FormatOpenAI, FormatShareGPT:
	default:
		return nil, fmt.Errorf("datasetgen: unknown format %q", opts.Format)
	}
	if opts.ErrorRate < 0 || opts.ErrorRate > 1 {
		return nil, fmt.Errorf("datasetgen: error rate %v is outside [0, 1]", opts.ErrorRate)
	}
	rng := rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9E3779B97F4A7C15))
	return &Generator{opts: opts, rng: rng, text: textGen{rng: rng}}, nil
}

// Lines returns how many lines AppendLine has produced.
func (g *Generator) Lines() int { return g.lines }

// AppendLine appends one conversation, newline-terminated, to dst.
func (g *Generator) AppendLine(dst []byte) []byte {
	g.lines++
	g.conversation()
	id := g.newID()
	defect := defectNone
	if g.opts.ErrorRate > 0 && g.rng.Float64() < g.opts.ErrorRate {
		defect = defectKind(1 + g.rng.IntN(int(numDefects)-1))
	}
	start := len(dst)
	dst = g.encode(dst, id, defect)
	if defect == defectTruncated {
		dst = dst[:start+(len(dst)-start)/2]
	}
	return append(dst, '\n')
}

// conversation fills g.turns: an optional system prompt, then 1 to 5
// user/assistant exchanges.
func (g *Generator) conversation() {
	g.turns, g.buf = g.turns[:0], g.buf[:0]
	if g.rng.IntN(2) == 0 {
		g.add("system", func(b []byte) []byte { return append(b, systemPrompts[g.rng.IntN(len(systemPrompts))]...) })
	}
	for i, n := 0, 1+g.text.zipf(5); i < n; i++ {
		g.add("user", g.text.userText)
		g.add("assistant", g.text.assistantText)
	}
}

func (g *Generator) add(role string, fill func([]byte) []byte) {
	start := len(g.buf)
	g.buf = fill(g.buf)
	g.turns = append(g.turns, turn{role: role, start: start, end: len(g.buf)})
}

func (g *Generator) newID() string {
	var id string
	if len(g.ids) > 0 && g.opts.ErrorRate > 0 && g.rng.Float64() < g.opts.ErrorRate/float64(numDefects) {
		id = g.ids[g.rng.IntN(len(g.ids))] // duplicate
	} else {
		hi, lo := g.rng.Uint64(), g.rng.Uint64()
		b := make([]byte, 0, 36)
		b = append(b, "conv-"...)
		b = strconv.AppendUint(b, hi>>16, 36)
		b = append(b, '-')
		b = strconv.AppendUint(b, lo, 36)
		id = string(b)
	}
	if len(g.ids) < 64 {
		g.ids = append(g.ids, id)
	} else {
		g.ids[g.rng.IntN(64)] = id
	}
	return id
}

// Reader streams Generator lines until at least size bytes were produced;
// it always ends on a whole line.
type Reader struct {
	g       *Generator
	size    int64
	written int64
	buf     []byte
	off     int
}

// NewReader returns a Reader of about size bytes of generated JSONL.
func NewReader(opts Options, size int64) (*Reader, error) {
	g, err := New(opts)
	if err != nil {
		return nil, err
	}
	return &Reader{g: g, size: size}, nil
}

// Generator returns the generator behind r, e.g. to read Lines().
func (r *Reader) Generator() *Generator { return r.g }

func (r *Reader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if r.off == len(r.buf) {
			if r.written >= r.size {
				if n == 0 {
					return 0, io.EOF
				}
				break
			}
			r.buf, r.off = r.buf[:0], 0
			for len(r.buf) < 64<<10 && r.written+int64(len(r.buf)) < r.size {
				r.buf = r.g.AppendLine(r.buf)
			}
			r.written += int64(len(r.buf))
		}
		c := copy(p[n:], r.buf[r.off:])
		r.off += c
		n += c
	}
	return n, nil
}

// appendString appends s as a JSON string. Non-ASCII is written raw, as
// most producers do; invalid UTF-8 (only from injected defects) is copied
// unchanged so the validator sees it.
func appendString(dst, s []byte) []byte {
	dst = append(dst, '"')
	for len(s) > 0 {
		i := 0
		for i < len(s) && !needsEscape[s[i]] {
			i++
		}
		dst = append(dst, s[:i]...)
		if i == len(s) {
			break
		}
		switch c := s[i]; c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, `\u00`...)
			dst = append(dst, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		}
		s = s[i+1:]
	}
	return append(dst, '"')
}

var needsEscape = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()
