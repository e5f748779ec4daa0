package record

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// Number of array elements each kind carries, kind included. Decoders accept
// longer arrays and skip what they do not know, so a later version may append
// fields without breaking old readers.
const (
	createFields = 4
	updateFields = 7
	deleteFields = 2
)

// maxExtraDepth bounds the nesting of authextra values so that a hostile
// payload cannot recurse the decoder into a stack overflow.
const maxExtraDepth = 32

// sliceWriter lets a msgpack.Encoder append to a caller's slice. It
// implements WriteByte so that the encoder does not wrap it (and allocate).
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }
func (w *sliceWriter) WriteByte(c byte) error      { w.b = append(w.b, c); return nil }

type encoder struct {
	w   sliceWriter
	enc *msgpack.Encoder
}

type decoder struct {
	p   []byte // the payload being decoded, to inspect headers ahead of the reader
	r   bytes.Reader
	dec *msgpack.Decoder
}

// Pools keep the append and replay paths free of per-event allocations.
var (
	encoders = sync.Pool{New: func() any {
		e := &encoder{}
		e.enc = msgpack.NewEncoder(&e.w)
		return e
	}}
	decoders = sync.Pool{New: func() any {
		d := &decoder{}
		d.dec = msgpack.NewDecoder(&d.r)
		return d
	}}
)

// AppendEvent appends the msgpack encoding of e to dst and returns the
// extended slice. Encoding a Create or a Delete does not allocate once dst has
// room.
func AppendEvent(dst []byte, e *Event) ([]byte, error) {
	en := encoders.Get().(*encoder)
	en.w.b = dst
	err := en.encode(e)
	out := en.w.b
	en.w.b = nil
	encoders.Put(en)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// encode writes e through the pooled encoder. Appending to a slice cannot
// fail, so only the last call's error (and the authextra map's) can matter.
func (en *encoder) encode(e *Event) error {
	enc := en.enc
	switch e.Kind {
	case KindCreate:
		_ = enc.EncodeArrayLen(createFields)
		_ = enc.EncodeUint(uint64(KindCreate))
		_ = enc.EncodeString(e.ID)
		_ = enc.EncodeInt(e.Created.UnixNano())
		return enc.EncodeInt(int64(e.MaxAge))
	case KindUpdate:
		_ = enc.EncodeArrayLen(updateFields)
		_ = enc.EncodeUint(uint64(KindUpdate))
		_ = enc.EncodeString(e.ID)
		_ = enc.EncodeString(e.Auth.AuthID)
		_ = enc.EncodeString(e.Auth.AuthRole)
		_ = enc.EncodeString(e.Auth.AuthMethod)
		_ = enc.EncodeString(e.Auth.AuthRealm)
		if len(e.Auth.AuthExtra) == 0 {
			return enc.EncodeNil()
		}
		// Sorted keys make the encoding of an event deterministic; nested
		// maps are sorted too.
		enc.SetSortMapKeys(true)
		err := enc.EncodeMapSorted(e.Auth.AuthExtra)
		enc.SetSortMapKeys(false)
		if err != nil {
			return fmt.Errorf("encode authextra of cookie event: %w", err)
		}
		return nil
	case KindDelete:
		_ = enc.EncodeArrayLen(deleteFields)
		_ = enc.EncodeUint(uint64(KindDelete))
		return enc.EncodeString(e.ID)
	}
	return fmt.Errorf("encode event: unknown kind %d", e.Kind)
}

// PeekKind returns the kind of an encoded payload without decoding the rest.
func PeekKind(p []byte) (Kind, error) {
	// An array header is one byte for up to 15 elements; longer arrays use
	// 0xdc/0xdd, which no encoder of ours writes but a decoder must accept.
	i := 0
	switch {
	case len(p) == 0:
		return 0, fmt.Errorf("%w: empty payload", ErrMalformed)
	case msgpcode.IsFixedArray(p[0]):
		i = 1
	case p[0] == msgpcode.Array16:
		i = 3
	case p[0] == msgpcode.Array32:
		i = 5
	default:
		return 0, fmt.Errorf("%w: payload is not a msgpack array (first byte 0x%02x)", ErrMalformed, p[0])
	}
	if len(p) <= i {
		return 0, fmt.Errorf("%w: payload ends before its kind", ErrMalformed)
	}
	if !msgpcode.IsFixedNum(p[i]) || p[i] > 0x7f {
		return 0, fmt.Errorf("%w: kind is not a small positive integer (0x%02x)", ErrMalformed, p[i])
	}
	k := Kind(p[i])
	if k < KindCreate || k > KindBatch {
		return 0, fmt.Errorf("%w: unknown event kind %d", ErrMalformed, k)
	}
	return k, nil
}

// DecodeEvent decodes one single-event payload into e. It never panics, and
// it bounds every allocation by the size of p. Batch payloads are refused;
// package replay unpacks them.
func DecodeEvent(p []byte, e *Event) error {
	de := decoders.Get().(*decoder)
	de.p = p
	de.r.Reset(p)
	de.dec.ResetReader(&de.r)
	err := de.decode(e)
	de.p = nil
	de.r.Reset(nil)
	decoders.Put(de)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return nil
}

func (de *decoder) decode(e *Event) error {
	d := de.dec
	n, err := d.DecodeArrayLen()
	if err != nil {
		return err
	}
	if n < 2 {
		return fmt.Errorf("event array has %d elements", n)
	}
	kind, err := d.DecodeUint8()
	if err != nil {
		return fmt.Errorf("kind: %w", err)
	}
	*e = Event{Kind: Kind(kind)}
	want := 0
	switch e.Kind {
	case KindCreate:
		want = createFields
	case KindUpdate:
		want = updateFields
	case KindDelete:
		want = deleteFields
	case KindBatch:
		return fmt.Errorf("a batch payload is not a single event")
	default:
		return fmt.Errorf("unknown event kind %d", kind)
	}
	if n < want {
		return fmt.Errorf("%s event has %d elements, want %d", e.Kind, n, want)
	}
	if e.ID, err = de.str(); err != nil {
		return fmt.Errorf("id: %w", err)
	}
	switch e.Kind {
	case KindCreate:
		created, err := d.DecodeInt64()
		if err != nil {
			return fmt.Errorf("created: %w", err)
		}
		maxAge, err := d.DecodeInt64()
		if err != nil {
			return fmt.Errorf("max_age: %w", err)
		}
		e.Created = time.Unix(0, created)
		e.MaxAge = time.Duration(maxAge)
	case KindUpdate:
		for _, f := range []*string{&e.Auth.AuthID, &e.Auth.AuthRole, &e.Auth.AuthMethod, &e.Auth.AuthRealm} {
			if *f, err = de.str(); err != nil {
				return fmt.Errorf("auth: %w", err)
			}
		}
		extra, err := de.value(0)
		if err != nil {
			return fmt.Errorf("authextra: %w", err)
		}
		if extra != nil {
			m, ok := extra.(map[string]any)
			if !ok {
				return fmt.Errorf("authextra is a %T, not a map", extra)
			}
			if len(m) > 0 {
				e.Auth.AuthExtra = m
			}
		}
	}
	for i := want; i < n; i++ {
		size, err := SkipValue(de.p[len(de.p)-de.r.Len():])
		if err != nil {
			return fmt.Errorf("trailing element %d: %w", i, err)
		}
		if _, err := de.r.Seek(int64(size), io.SeekCurrent); err != nil {
			return err
		}
	}
	if de.r.Len() != 0 {
		return fmt.Errorf("%d bytes after the event", de.r.Len())
	}
	return nil
}

// str decodes a string whose claimed length is checked against the bytes
// that remain, so that a forged length cannot make the decoder allocate.
func (de *decoder) str() (string, error) {
	c, err := de.dec.PeekCode()
	if err != nil {
		return "", err
	}
	if err := de.checkLen(c); err != nil {
		return "", err
	}
	return de.dec.DecodeString()
}

// checkLen refuses a string, binary, array or map header whose claimed
// length is larger than the bytes left: every element takes at least one
// byte, so such a header can only be a lie, and believing it would allocate.
func (de *decoder) checkLen(c byte) error {
	size := 0
	switch c {
	case msgpcode.Str8, msgpcode.Bin8:
		size = 1
	case msgpcode.Str16, msgpcode.Bin16, msgpcode.Array16, msgpcode.Map16:
		size = 2
	case msgpcode.Str32, msgpcode.Bin32, msgpcode.Array32, msgpcode.Map32:
		size = 4
	default:
		return nil // fixed-size headers hold at most 31 elements
	}
	raw := de.p[len(de.p)-de.r.Len():]
	if len(raw) < 1+size {
		return io.ErrUnexpectedEOF
	}
	var n uint64
	for _, x := range raw[1 : 1+size] {
		n = n<<8 | uint64(x)
	}
	if left := uint64(len(raw) - 1 - size); n > left {
		return fmt.Errorf("length %d exceeds the %d bytes left", n, left)
	}
	return nil
}

// value decodes one authextra value: nil, bool, number, string, binary, array
// or string-keyed map, nested at most maxExtraDepth deep. It exists because
// the library's generic decoder trusts claimed lengths when it sizes maps.
func (de *decoder) value(depth int) (any, error) {
	if depth > maxExtraDepth {
		return nil, fmt.Errorf("nested deeper than %d", maxExtraDepth)
	}
	d := de.dec
	c, err := d.PeekCode()
	if err != nil {
		return nil, err
	}
	if err := de.checkLen(c); err != nil {
		return nil, err
	}
	switch {
	case c == msgpcode.Nil:
		return nil, d.DecodeNil()
	case c == msgpcode.True || c == msgpcode.False:
		return d.DecodeBool()
	case msgpcode.IsFixedNum(c) || (c >= msgpcode.Uint8 && c <= msgpcode.Int64):
		if c == msgpcode.Uint64 {
			return d.DecodeUint64()
		}
		return d.DecodeInt64()
	case c == msgpcode.Float || c == msgpcode.Double:
		return d.DecodeFloat64()
	case msgpcode.IsString(c):
		return d.DecodeString()
	case msgpcode.IsBin(c):
		return d.DecodeBytes()
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := d.DecodeArrayLen()
		if err != nil {
			return nil, err
		}
		out := make([]any, 0, n)
		for range n {
			v, err := de.value(depth + 1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := d.DecodeMapLen()
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, n)
		for range n {
			k, err := de.str()
			if err != nil {
				return nil, fmt.Errorf("map key: %w", err)
			}
			v, err := de.value(depth + 1)
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported msgpack type 0x%02x", c)
}
