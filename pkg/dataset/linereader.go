package dataset

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
)

// lineReader splits a stream into lines while hashing every byte. Unlike
// bufio.Scanner it does not fail on a long line: a line longer than max is
// skipped in chunks and reported by length, so memory stays at about
// max + readSize whatever the input.
type lineReader struct {
	r       io.Reader
	sha     hash.Hash
	buf     []byte
	start   int   // first unreturned byte
	scanned int   // buf[start:scanned] holds no '\n'
	end     int   // end of data in buf
	max     int   // longest line returned whole
	bytes   int64 // read so far
	eof     bool
	line    int // number of the last line returned
}

const (
	readSize    = 256 << 10
	initialSize = 2 * readSize
)

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{r: r, sha: sha256.New(), buf: make([]byte, initialSize), max: max}
}

// next returns the next line without its '\n'. For a line longer than max
// it returns a nil line and the line's length in tooLong. ok is false at
// the end of the input. A trailing newline does not start an empty last line.
func (lr *lineReader) next() (line []byte, tooLong int64, ok bool, err error) {
	for {
		if i := bytes.IndexByte(lr.buf[lr.scanned:lr.end], '\n'); i >= 0 {
			nl := lr.scanned + i
			line = lr.buf[lr.start:nl]
			lr.start, lr.scanned = nl+1, nl+1
			lr.line++
			if len(line) > lr.max {
				return nil, int64(len(line)), true, nil
			}
			return line, 0, true, nil
		}
		lr.scanned = lr.end
		if lr.eof {
			if lr.start == lr.end {
				return nil, 0, false, nil
			}
			line = lr.buf[lr.start:lr.end]
			lr.start = lr.end
			lr.line++
			if len(line) > lr.max {
				return nil, int64(len(line)), true, nil
			}
			return line, 0, true, nil
		}
		if lr.end-lr.start > lr.max {
			n, err := lr.skipLine()
			lr.line++
			return nil, n, true, err
		}
		if err := lr.fill(); err != nil {
			return nil, 0, false, err
		}
	}
}

// fill reads more input, first making room by moving the partial line to
// the front of buf, or growing buf up to max + readSize.
func (lr *lineReader) fill() error {
	if len(lr.buf)-lr.end < readSize {
		if lr.start > 0 {
			n := copy(lr.buf, lr.buf[lr.start:lr.end])
			lr.scanned -= lr.start
			lr.start, lr.end = 0, n
		}
		if len(lr.buf)-lr.end < readSize {
			grown := make([]byte, min(2*len(lr.buf), lr.max+2*readSize))
			copy(grown, lr.buf[:lr.end])
			lr.buf = grown
		}
	}
	n, err := lr.r.Read(lr.buf[lr.end:])
	if n > 0 {
		lr.sha.Write(lr.buf[lr.end : lr.end+n])
		lr.bytes += int64(n)
		lr.end += n
	}
	switch {
	case errors.Is(err, io.EOF):
		lr.eof = true
	case err != nil:
		return err
	}
	return nil
}

// skipLine discards the rest of an over-long line, through its newline,
// and returns its length.
func (lr *lineReader) skipLine() (int64, error) {
	n := int64(lr.end - lr.start)
	lr.start, lr.scanned, lr.end = 0, 0, 0
	for {
		if lr.eof {
			return n, nil
		}
		if err := lr.fill(); err != nil {
			return n, err
		}
		if i := bytes.IndexByte(lr.buf[:lr.end], '\n'); i >= 0 {
			lr.start, lr.scanned = i+1, i+1
			return n + int64(i), nil
		}
		n += int64(lr.end)
		lr.end = 0
	}
}

// sum returns the hex SHA-256 of everything read.
func (lr *lineReader) sum() string {
	const hexDigits = "0123456789abcdef"
	var out [2 * sha256.Size]byte
	for i, b := range lr.sha.Sum(nil) {
		out[2*i], out[2*i+1] = hexDigits[b>>4], hexDigits[b&15]
	}
	return string(out[:])
}
