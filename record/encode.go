package record

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// AppendEvent appends the version 2 encoding of e to dst and returns the
// extended slice. Encoding an event without authextra does not allocate once
// dst has room. An authextra map that takes more than MaxExtraSize bytes,
// or holds a value that msgpack cannot encode as nil, a boolean, a number,
// a string, binary, an array or a string-keyed map, is an error, as is a
// batch (see AppendBatch).
func AppendEvent(dst []byte, e *Event) ([]byte, error) {
	out, ok, err := appendHead(dst, e.Kind, e.Digest, e.Created.UnixNano(), int64(e.MaxAge), e.Reason, e.Successor)
	if !ok || err != nil {
		return out, err
	}
	a := &e.Auth
	for _, s := range []string{a.AuthID, a.AuthRole, a.AuthMethod, a.AuthRealm} {
		out = appendStr(out, s)
	}
	if len(a.AuthExtra) == 0 {
		return append(out, 0xc0), nil
	}
	out, err = appendExtra(out, a.AuthExtra)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// AppendView appends the version 2 encoding of the event that v shows, as
// AppendEvent would encode the same event, and returns the extended slice.
// v.Extra is copied as it is: it must be an authextra map that Parse or
// AppendExtra produced. It does not allocate once dst has room.
func AppendView(dst []byte, v *View) ([]byte, error) {
	out, ok, err := appendHead(dst, v.Kind, v.Digest, v.Created, v.MaxAge, v.Reason, v.Successor)
	if !ok || err != nil {
		return out, err
	}
	for _, s := range [][]byte{v.AuthID, v.AuthRole, v.AuthMethod, v.AuthRealm} {
		out = appendStr(out, s)
	}
	if len(v.Extra) == 0 {
		return append(out, 0xc0), nil
	}
	return append(out, v.Extra...), nil
}

// AppendExtra appends the msgpack encoding of an authextra map, as an event
// carries it, to dst and returns the extended slice; an empty map appends
// nothing, as an event stores it as none. It fails, leaving dst as it was,
// where AppendEvent would. What it appends is what a View's Extra holds for
// the same map.
func AppendExtra(dst []byte, m map[string]any) ([]byte, error) {
	if len(m) == 0 {
		return dst, nil
	}
	return appendExtra(dst, m)
}

// appendHead appends the fields of an event that come before its auth
// tuple, and reports whether an auth tuple follows: for an Update or a
// Cookie event.
func appendHead(dst []byte, kind Kind, d Digest, created, maxAge int64, why DeleteReason, successor Digest) ([]byte, bool, error) {
	out := dst
	switch kind {
	case KindCreate:
		out = append(out, 0x90|createFields, byte(KindCreate))
		out = appendDigest(out, d)
		return appendInt64(appendInt64(out, created), maxAge), false, nil
	case KindUpdate:
		out = append(out, 0x90|updateFields, byte(KindUpdate))
		return appendDigest(out, d), true, nil
	case KindDelete:
		if why > 0x7f {
			return dst, false, fmt.Errorf("encode delete: reason %d is not a positive fixint", why)
		}
		out = append(out, 0x90|deleteFields, byte(KindDelete))
		out = appendDigest(out, d)
		out = append(out, byte(why))
		if successor.IsZero() {
			return append(out, 0xc0), false, nil
		}
		return appendDigest(out, successor), false, nil
	case KindCookie:
		out = append(out, 0x90|cookieFields, byte(KindCookie))
		out = appendDigest(out, d)
		return appendInt64(appendInt64(out, created), maxAge), true, nil
	}
	return dst, false, fmt.Errorf("encode event: kind %d is not a single event", kind)
}

// appendDigest appends d as msgpack bin8 of 16 bytes.
func appendDigest(b []byte, d Digest) []byte {
	return append(append(b, 0xc4, DigestSize), d[:]...)
}

// appendInt64 appends v as msgpack int64: always 9 bytes, so that a
// timestamp's size does not depend on its value.
func appendInt64(b []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(v))
}

// appendStr appends s as the shortest msgpack string.
func appendStr[S string | []byte](b []byte, s S) []byte {
	switch n := len(s); {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= 0xff:
		b = append(b, 0xd9, byte(n))
	case n <= 0xffff:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

// appendUint appends the shortest msgpack encoding of an unsigned integer.
func appendUint(b []byte, v uint64) []byte {
	switch {
	case v < 0x80:
		return append(b, byte(v))
	case v <= 0xff:
		return append(b, 0xcc, byte(v))
	case v <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(v))
	case v <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xcf), v)
}

// sliceWriter lets a msgpack.Encoder append to a caller's slice. It
// implements WriteByte so that the encoder does not wrap it (and allocate).
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }
func (w *sliceWriter) WriteByte(c byte) error      { w.b = append(w.b, c); return nil }

type extraEncoder struct {
	w   sliceWriter
	enc *msgpack.Encoder
}

// extraEncoders keep logins from allocating an encoder each.
var extraEncoders = sync.Pool{New: func() any {
	e := &extraEncoder{}
	e.enc = msgpack.NewEncoder(&e.w)
	// Sorted keys make the encoding of an event deterministic; nested maps
	// are sorted too. Integers take their shortest form, as most
	// authextra numbers are small.
	e.enc.SetSortMapKeys(true)
	e.enc.UseCompactInts(true)
	return e
}}

// appendExtra appends the msgpack encoding of an authextra map, and checks
// that a reader will take it back.
func appendExtra(b []byte, m map[string]any) ([]byte, error) {
	if out, ok := appendFlatExtra(b, m); ok {
		if n := len(out) - len(b); n > MaxExtraSize {
			return b, fmt.Errorf("encode authextra: authextra takes %d bytes, more than %d", n, MaxExtraSize)
		}
		return out, nil
	}
	en := extraEncoders.Get().(*extraEncoder)
	en.w.b = b
	err := en.enc.EncodeMapSorted(m)
	out := en.w.b
	en.w.b = nil
	extraEncoders.Put(en)
	if err != nil {
		return b, fmt.Errorf("encode authextra: %w", err)
	}
	if _, err := checkExtra(out[len(b):]); err != nil {
		return b, fmt.Errorf("encode authextra: %w", err)
	}
	return out, nil
}

// maxFlatExtra is the most keys that appendFlatExtra sorts on the stack.
const maxFlatExtra = 16

// appendFlatExtra encodes the common authextra, a small map whose values
// are strings, integers, floats, booleans or nils, without the msgpack
// library's reflection and without allocating, and reports whether it
// could. Its bytes are the library's, as the encoder of extraEncoders is
// set up (sorted keys, compact integers), so that an event encodes the
// same whichever path it takes; TestFlatExtraIsTheLibrarys holds it to
// that. Any other map is left to the library.
func appendFlatExtra(b []byte, m map[string]any) ([]byte, bool) {
	type entry struct {
		k string
		v any
	}
	if len(m) > maxFlatExtra {
		return b, false
	}
	var buf [maxFlatExtra]entry
	es := buf[:0]
	for k, v := range m {
		switch v.(type) {
		case nil, string, int, int64, uint, uint64, bool, float64:
		default:
			return b, false
		}
		es = append(es, entry{k, v})
	}
	slices.SortFunc(es, func(x, y entry) int { return strings.Compare(x.k, y.k) })
	if len(es) < 16 {
		b = append(b, 0x80|byte(len(es)))
	} else {
		b = binary.BigEndian.AppendUint16(append(b, 0xde), uint16(len(es)))
	}
	for _, e := range es {
		b = appendStr(b, e.k)
		switch v := e.v.(type) {
		case nil:
			b = append(b, 0xc0)
		case string:
			b = appendStr(b, v)
		case int:
			b = appendInt(b, int64(v))
		case int64:
			b = appendInt(b, v)
		case uint:
			b = appendUint(b, uint64(v))
		case uint64:
			b = appendUint(b, v)
		case bool:
			b = append(b, 0xc2|bool2byte(v))
		case float64:
			b = binary.BigEndian.AppendUint64(append(b, 0xcb), math.Float64bits(v))
		}
	}
	return b, true
}

func bool2byte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// appendInt appends the shortest msgpack encoding of an integer, as the
// library's compact integers do: unsigned forms for the non-negative ones.
func appendInt(b []byte, v int64) []byte {
	switch {
	case v >= 0:
		return appendUint(b, uint64(v))
	case v >= -32:
		return append(b, byte(v))
	case v >= math.MinInt8:
		return append(b, 0xd0, byte(v))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(v))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(v))
}
