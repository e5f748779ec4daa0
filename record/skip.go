package record

import (
	"fmt"
	"io"
)

// The msgpack library's Skip recurses into nested values, so a frame of
// nested arrays could exhaust the stack (fatal in Go, not a panic), and it
// trusts claimed lengths. Decoders of this module pass over unknown values
// with SkipValue instead.

// maxSkipDepth is how deeply nested a value that skip passes over may be.
// Authextra values nest at most 32 deep; a field that a later version
// appends has no reason to nest deeper than this.
const maxSkipDepth = 64

// SkipValue returns the size of the msgpack value at the start of p, of any
// type, checking that every length it claims fits in the bytes left. It
// keeps its own small stack of the values still owed at each open level
// instead of recursing, and every value takes a byte at least, so it runs in
// time bounded by the payload and in constant memory, whatever the payload
// claims.
func SkipValue(p []byte) (int, error) {
	r := skipReader{p: p}
	var stack [maxSkipDepth]uint64 // values owed by the enclosing levels
	depth := 0
	owed := uint64(1) // values owed at the current level
	for {
		for owed == 0 {
			if depth == 0 {
				return len(p) - len(r.p), nil
			}
			depth--
			owed = stack[depth]
		}
		owed--
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		var size, elems uint64 // bytes of data, and values, that follow
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3: // fixint, nil, bool
		case c >= 0x80 && c <= 0x8f:
			elems = 2 * uint64(c&0x0f)
		case c >= 0x90 && c <= 0x9f:
			elems = uint64(c & 0x0f)
		case c >= 0xa0 && c <= 0xbf:
			size = uint64(c & 0x1f)
		case c >= 0xc4 && c <= 0xc6: // bin 8, 16, 32
			if size, err = r.be(1 << (c - 0xc4)); err != nil {
				return 0, err
			}
		case c >= 0xc7 && c <= 0xc9: // ext 8, 16, 32: length, then type
			if size, err = r.be(1 << (c - 0xc7)); err != nil {
				return 0, err
			}
			size++
		case c == 0xca:
			size = 4
		case c == 0xcb:
			size = 8
		case c >= 0xcc && c <= 0xcf:
			size = 1 << (c - 0xcc)
		case c >= 0xd0 && c <= 0xd3:
			size = 1 << (c - 0xd0)
		case c >= 0xd4 && c <= 0xd8: // fixext 1, 2, 4, 8, 16, plus type
			size = 1<<(c-0xd4) + 1
		case c >= 0xd9 && c <= 0xdb: // str 8, 16, 32
			if size, err = r.be(1 << (c - 0xd9)); err != nil {
				return 0, err
			}
		case c == 0xdc || c == 0xdd:
			if elems, err = r.be(2 << (c - 0xdc)); err != nil {
				return 0, err
			}
		case c == 0xde || c == 0xdf:
			if elems, err = r.be(2 << (c - 0xde)); err != nil {
				return 0, err
			}
			elems *= 2
		default: // 0xc1, which msgpack never uses
			return 0, fmt.Errorf("invalid msgpack byte 0x%02x", c)
		}
		if uint64(len(r.p)) < size {
			return 0, io.ErrUnexpectedEOF
		}
		r.p = r.p[size:]
		if elems == 0 {
			continue
		}
		// Each owed value takes a byte at least: more than the bytes left
		// can only be a lie.
		if elems > uint64(len(r.p)) {
			return 0, io.ErrUnexpectedEOF
		}
		if depth == maxSkipDepth {
			return 0, fmt.Errorf("value nested deeper than %d", maxSkipDepth)
		}
		stack[depth] = owed
		depth++
		owed = elems
	}
}

// skipReader reads big-endian lengths for SkipValue.
type skipReader struct{ p []byte }

func (r *skipReader) byte() (byte, error) {
	if len(r.p) == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	c := r.p[0]
	r.p = r.p[1:]
	return c, nil
}

// be reads an n-byte big-endian unsigned integer, n being 1, 2, 4 or 8.
func (r *skipReader) be(n uint64) (uint64, error) {
	if uint64(len(r.p)) < n {
		return 0, io.ErrUnexpectedEOF
	}
	var v uint64
	for _, x := range r.p[:n] {
		v = v<<8 | uint64(x)
	}
	r.p = r.p[n:]
	return v, nil
}
