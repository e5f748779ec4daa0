package record

import (
	"errors"
	"fmt"
	"math"
)

// MaxExtraSize bounds the msgpack encoding of an authextra map, in bytes.
// Authextra is application data carried with a login (a tenant, a display
// name); the bound keeps a hostile journal, or a careless application, from
// making the decoder build gigabytes of Go values out of one frame. Part of
// the wire format: writers refuse larger maps, readers refuse larger events.
const MaxExtraSize = 64 << 10

// maxExtraDepth bounds the nesting of authextra values: the map itself is
// depth 0.
const maxExtraDepth = 32

// checkExtra returns the size of the authextra value at the start of p: nil,
// or a map with string keys whose values are nil, booleans, integers,
// floats, strings, binary, arrays or maps with string keys, nested at most
// maxExtraDepth deep, all in at most MaxExtraSize bytes. These are the
// values that decodeExtra builds, so an event that passed checkExtra always
// decodes.
func checkExtra(p []byte) (int, error) {
	if len(p) > 0 && p[0] == 0xc0 {
		return 1, nil
	}
	n, err := walk(p, maxExtraDepth, func(c byte, depth int, key bool) error {
		switch {
		case depth == 0 && !isMapCode(c):
			return fmt.Errorf("authextra is not a map (0x%02x)", c)
		case key && !isStrCode(c):
			return fmt.Errorf("authextra map key is not a string (0x%02x)", c)
		case (c >= 0xc7 && c <= 0xc9) || (c >= 0xd4 && c <= 0xd8):
			return fmt.Errorf("authextra holds a msgpack extension type (0x%02x)", c)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if n > MaxExtraSize {
		return 0, fmt.Errorf("authextra takes %d bytes, more than %d", n, MaxExtraSize)
	}
	return n, nil
}

func isMapCode(c byte) bool { return (c >= 0x80 && c <= 0x8f) || c == 0xde || c == 0xdf }
func isStrCode(c byte) bool { return (c >= 0xa0 && c <= 0xbf) || (c >= 0xd9 && c <= 0xdb) }

// DecodeExtra returns the authextra map encoded in p, as a View's Extra
// holds it; nil for an empty map or none. It checks p as Parse does. It
// never sizes a map or a slice from a count that p claims beyond the 15
// entries a fixmap holds: containers grow with the elements actually read,
// each of which takes at least one byte of p, so its allocations are
// bounded by a constant times len(p), and p by MaxExtraSize. The common
// authextra, a small flat map, is decoded without the general walk.
func DecodeExtra(p []byte) (map[string]any, error) {
	if len(p) == 0 {
		return nil, nil
	}
	if len(p) <= MaxExtraSize && flatExtra(p) {
		return decodeFlat(p), nil
	}
	n, err := checkExtra(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if n != len(p) {
		return nil, fmt.Errorf("%w: %d bytes after the authextra map", ErrMalformed, len(p)-n)
	}
	r := reader{p: p}
	v, err := r.extraValue(0)
	if err != nil {
		return nil, fmt.Errorf("%w: authextra: %w", ErrMalformed, err)
	}
	m, _ := v.(map[string]any)
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// decodeFlat decodes an authextra that flatExtra accepted: a fixmap of at
// most 15 entries, which it sizes the map for, of flat values.
func decodeFlat(p []byte) map[string]any {
	n := int(p[0] & 0x0f)
	if n == 0 {
		return nil
	}
	m := make(map[string]any, n)
	r := reader{p: p[1:]}
	for range n {
		k, _ := r.str()
		v, _ := r.extraValue(1) // flatExtra has vouched for it
		m[string(k)] = v
	}
	return m
}

// extraValue decodes one authextra value; checkExtra has vouched for the
// bytes, so the recursion is at most maxExtraDepth deep.
func (r *reader) extraValue(depth int) (any, error) {
	c, err := r.peek()
	if err != nil {
		return nil, err
	}
	switch {
	case c == 0xc0:
		r.p = r.p[1:]
		return nil, nil
	case c == 0xc2 || c == 0xc3:
		r.p = r.p[1:]
		return c == 0xc3, nil
	case c == 0xcf: // uint 64: the only encoding whose values may not fit an int64
		r.p = r.p[1:]
		return r.be(8)
	case c <= 0x7f || c >= 0xe0 || (c >= 0xcc && c <= 0xd3):
		return r.int()
	case c == 0xca:
		r.p = r.p[1:]
		v, err := r.be(4)
		return float64(math.Float32frombits(uint32(v))), err
	case c == 0xcb:
		r.p = r.p[1:]
		v, err := r.be(8)
		return math.Float64frombits(v), err
	case isStrCode(c):
		s, err := r.str()
		return string(s), err
	case c >= 0xc4 && c <= 0xc6:
		b, err := r.bin()
		return append([]byte(nil), b...), err
	case (c >= 0x90 && c <= 0x9f) || c == 0xdc || c == 0xdd:
		n, err := r.arrayLen()
		if err != nil {
			return nil, err
		}
		var out []any // grows with what is read: never sized from n
		for range n {
			v, err := r.extraValue(depth + 1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		if out == nil {
			out = []any{}
		}
		return out, nil
	case isMapCode(c):
		n, err := r.mapLen()
		if err != nil {
			return nil, err
		}
		out := make(map[string]any) // grows with what is read: never sized from n
		for range n {
			k, err := r.str()
			if err != nil {
				return nil, err
			}
			v, err := r.extraValue(depth + 1)
			if err != nil {
				return nil, err
			}
			out[string(k)] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported msgpack type 0x%02x", c)
}

// mapLen reads a map header. Each entry takes two bytes at least.
func (r *reader) mapLen() (uint64, error) {
	c, err := r.byte()
	if err != nil {
		return 0, err
	}
	var n uint64
	switch {
	case c >= 0x80 && c <= 0x8f:
		n = uint64(c & 0x0f)
	case c == 0xde || c == 0xdf:
		if n, err = r.be(2 << (c - 0xde)); err != nil {
			return 0, err
		}
	default:
		return 0, errors.New("not a msgpack map")
	}
	if n > uint64(len(r.p))/2 {
		return 0, fmt.Errorf("map of %d entries in %d bytes", n, len(r.p))
	}
	return n, nil
}
