package record

import (
	"errors"
	"fmt"
	"io"
)

// reader reads msgpack values straight from a payload. It is the only
// msgpack reader of the module: the library's decoder sizes maps and arrays
// from the counts a payload claims, and skips values recursively, so a
// crafted payload could make it allocate gigabytes or exhaust the stack
// (fatal in Go, not a panic). reader checks every length against the bytes
// that remain before it believes it, never recurses, and never allocates.
type reader struct{ p []byte }

var errShort = io.ErrUnexpectedEOF

// take returns the next n bytes.
func (r *reader) take(n uint64) ([]byte, error) {
	if uint64(len(r.p)) < n {
		return nil, errShort
	}
	b := r.p[:n]
	r.p = r.p[n:]
	return b, nil
}

func (r *reader) byte() (byte, error) {
	if len(r.p) == 0 {
		return 0, errShort
	}
	c := r.p[0]
	r.p = r.p[1:]
	return c, nil
}

// peek returns the next byte without reading it.
func (r *reader) peek() (byte, error) {
	if len(r.p) == 0 {
		return 0, errShort
	}
	return r.p[0], nil
}

// be reads an n-byte big-endian unsigned integer, n being 1, 2, 4 or 8.
func (r *reader) be(n uint64) (uint64, error) {
	b, err := r.take(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v, nil
}

// arrayLen reads an array header. Each element takes a byte at least, so a
// count larger than the bytes left can only be a lie, and is refused.
func (r *reader) arrayLen() (uint64, error) {
	c, err := r.byte()
	if err != nil {
		return 0, err
	}
	var n uint64
	switch {
	case c >= 0x90 && c <= 0x9f:
		n = uint64(c & 0x0f)
	case c == 0xdc || c == 0xdd:
		if n, err = r.be(2 << (c - 0xdc)); err != nil {
			return 0, err
		}
	default:
		return 0, fmt.Errorf("not a msgpack array (0x%02x)", c)
	}
	if n > uint64(len(r.p)) {
		return 0, fmt.Errorf("array of %d elements in %d bytes", n, len(r.p))
	}
	return n, nil
}

// uint reads a non-negative integer in any of msgpack's integer encodings.
func (r *reader) uint() (uint64, error) {
	c, err := r.byte()
	if err != nil {
		return 0, err
	}
	switch {
	case c <= 0x7f:
		return uint64(c), nil
	case c >= 0xcc && c <= 0xcf: // uint 8, 16, 32, 64
		return r.be(1 << (c - 0xcc))
	case c >= 0xd0 && c <= 0xd3: // int 8, 16, 32, 64
		n := uint64(1) << (c - 0xd0)
		v, err := r.be(n)
		if err != nil {
			return 0, err
		}
		if v>>(8*n-1) != 0 {
			return 0, errors.New("negative integer")
		}
		return v, nil
	}
	return 0, fmt.Errorf("not a msgpack integer (0x%02x)", c)
}

// int reads an integer that fits an int64, in any of msgpack's encodings.
func (r *reader) int() (int64, error) {
	c, err := r.byte()
	if err != nil {
		return 0, err
	}
	switch {
	case c <= 0x7f:
		return int64(c), nil
	case c >= 0xe0:
		return int64(int8(c)), nil
	case c >= 0xcc && c <= 0xcf:
		v, err := r.be(1 << (c - 0xcc))
		if err == nil && v > 1<<63-1 {
			err = errors.New("integer overflows int64")
		}
		return int64(v), err
	case c >= 0xd0 && c <= 0xd3:
		n := uint64(1) << (c - 0xd0)
		v, err := r.be(n)
		shift := 64 - 8*n
		return int64(v<<shift) >> shift, err // sign-extend
	}
	return 0, fmt.Errorf("not a msgpack integer (0x%02x)", c)
}

// str reads a string and returns its bytes, which point into the payload.
func (r *reader) str() ([]byte, error) {
	c, err := r.byte()
	if err != nil {
		return nil, err
	}
	var n uint64
	switch {
	case c >= 0xa0 && c <= 0xbf:
		n = uint64(c & 0x1f)
	case c >= 0xd9 && c <= 0xdb: // str 8, 16, 32
		if n, err = r.be(1 << (c - 0xd9)); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("not a msgpack string (0x%02x)", c)
	}
	return r.take(n)
}

// bin reads a binary value and returns its bytes, which point into the
// payload.
func (r *reader) bin() ([]byte, error) {
	c, err := r.byte()
	if err != nil {
		return nil, err
	}
	if c < 0xc4 || c > 0xc6 {
		return nil, fmt.Errorf("not msgpack binary (0x%02x)", c)
	}
	n, err := r.be(1 << (c - 0xc4))
	if err != nil {
		return nil, err
	}
	return r.take(n)
}

// nilValue reads a nil if one comes next, and reports whether it did.
func (r *reader) nilValue() bool {
	if len(r.p) > 0 && r.p[0] == 0xc0 {
		r.p = r.p[1:]
		return true
	}
	return false
}

// skip passes over one value of any type; see SkipValue.
func (r *reader) skip() error {
	n, err := walk(r.p, maxSkipDepth, nil)
	if err != nil {
		return err
	}
	r.p = r.p[n:]
	return nil
}

// maxSkipDepth is how deeply nested a value that a reader passes over may
// be. Authextra values nest at most maxExtraDepth deep; a field that a later
// version appends has no reason to nest deeper than this.
const maxSkipDepth = 64

// walk returns the size of the msgpack value at the start of p, checking
// that every length it claims fits in the bytes left and that it nests at
// most maxDepth deep. If visit is not nil it is called for every value with
// its first byte, its depth and whether it is a map key, and may refuse it.
//
// walk keeps its own small stack of the values still owed at each open
// level instead of recursing, and every value takes a byte at least, so it
// runs in time bounded by the payload and in constant memory, whatever the
// payload claims.
func walk(p []byte, maxDepth int, visit func(c byte, depth int, key bool) error) (int, error) {
	type level struct {
		owed  uint64 // values still owed at this level
		isMap bool   // keys and values alternate, keys first
	}
	var stack [maxSkipDepth + 1]level
	if maxDepth > maxSkipDepth {
		maxDepth = maxSkipDepth
	}
	r := reader{p: p}
	depth := 0
	stack[0] = level{owed: 1}
	for {
		for stack[depth].owed == 0 {
			if depth == 0 {
				return len(p) - len(r.p), nil
			}
			depth--
		}
		lv := &stack[depth]
		key := lv.isMap && lv.owed%2 == 0
		lv.owed--
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if visit != nil {
			if err := visit(c, depth, key); err != nil {
				return 0, err
			}
		}
		var size, elems uint64 // bytes of data, and values, that follow
		isMap := false
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3: // fixint, nil, bool
		case c >= 0x80 && c <= 0x8f:
			elems, isMap = 2*uint64(c&0x0f), true
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
			elems, isMap = 2*elems, true
		default: // 0xc1, which msgpack never uses
			return 0, fmt.Errorf("invalid msgpack byte 0x%02x", c)
		}
		if _, err := r.take(size); err != nil {
			return 0, err
		}
		if elems == 0 {
			continue
		}
		// Each owed value takes a byte at least: more than the bytes left
		// can only be a lie.
		if elems > uint64(len(r.p)) {
			return 0, errShort
		}
		if depth == maxDepth {
			return 0, fmt.Errorf("value nested deeper than %d", maxDepth)
		}
		depth++
		stack[depth] = level{owed: elems, isMap: isMap}
	}
}
