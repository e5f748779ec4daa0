package replay

import (
	"errors"
	"fmt"
	"io"

	"cookiestore/record"
)

// reader reads the few msgpack values of a batch envelope straight from the
// payload. It exists, rather than the msgpack library's decoder, because the
// library skips values recursively, and a payload of nested arrays could
// drive it to exhaust the stack, which in Go is fatal, not a recoverable
// panic; and because it trusts claimed lengths when it skips.
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
	b, err := r.take(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
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

func (r *reader) arrayLen() (uint64, error) {
	c, err := r.byte()
	switch {
	case err != nil:
		return 0, err
	case c >= 0x90 && c <= 0x9f:
		return uint64(c & 0x0f), nil
	case c == 0xdc:
		return r.be(2)
	case c == 0xdd:
		return r.be(4)
	}
	return 0, fmt.Errorf("not a msgpack array (0x%02x)", c)
}

// uint reads a non-negative integer in any of msgpack's integer encodings.
func (r *reader) uint() (uint64, error) {
	c, err := r.byte()
	if err != nil {
		return 0, err
	}
	var v uint64
	switch {
	case c <= 0x7f:
		return uint64(c), nil
	case c >= 0xcc && c <= 0xcf: // uint 8, 16, 32, 64
		return r.be(1 << (c - 0xcc))
	case c >= 0xd0 && c <= 0xd3: // int 8, 16, 32, 64
		n := uint64(1) << (c - 0xd0)
		if v, err = r.be(n); err != nil {
			return 0, err
		}
		if v>>(8*n-1) != 0 {
			return 0, errors.New("negative integer")
		}
		return v, nil
	}
	return 0, fmt.Errorf("not a msgpack integer (0x%02x)", c)
}

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

// skip passes over one value of any type; see record.SkipValue.
func (r *reader) skip() error {
	n, err := record.SkipValue(r.p)
	if err != nil {
		return err
	}
	r.p = r.p[n:]
	return nil
}
