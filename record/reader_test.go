package record

import (
	"bytes"
	"errors"
	"runtime"
	"runtime/debug"
	"testing"
)

// TestWalkDeepNesting feeds the value walker values nested a million deep,
// with the stack limited to a few megabytes: a recursive walk would
// overflow it, which is fatal. Nesting is refused past maxSkipDepth.
func TestWalkDeepNesting(t *testing.T) {
	defer debug.SetMaxStack(debug.SetMaxStack(4 << 20))
	nested := func(depth int, open byte, tail []byte) []byte {
		return append(bytes.Repeat([]byte{open}, depth), tail...)
	}
	tests := []struct {
		name string
		p    []byte
		ok   bool
	}{
		{"at the limit", nested(maxSkipDepth, 0x91, []byte{0xc0}), true},
		{"wide at the limit", nested(maxSkipDepth-1, 0x91, []byte{0x93, 0xc0, 0x90, 0xa1, 'x'}), true},
		{"past the limit", nested(maxSkipDepth+1, 0x91, []byte{0xc0}), false},
		{"a million deep", nested(1<<20, 0x91, []byte{0xc0}), false},
		{"a million deep, unterminated", nested(1<<20, 0x91, nil), false},
		{"maps a million deep", nested(1<<20, 0x81, bytes.Repeat([]byte{0xc0}, 1<<20+1)), false},
		{"array claiming more than the bytes left", []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0}, false},
		{"0xc1 is never valid", []byte{0xc1}, false},
	}
	for _, tt := range tests {
		n, err := walk(tt.p, maxSkipDepth, nil)
		if (err == nil) != tt.ok || (tt.ok && n != len(tt.p)) {
			t.Fatalf("%s: walk = %d, %v for %d bytes", tt.name, n, err, len(tt.p))
		}
	}
}

func TestReaderIntegers(t *testing.T) {
	for _, v := range []int64{0, 1, 127, -1, -32, -33, -128, 255, -129, 65535, -32769, 1 << 31, -1 << 31, 1<<63 - 1, -1 << 63} {
		for _, enc := range [][]byte{appendInt64(nil, v)} {
			r := reader{p: enc}
			if got, err := r.int(); err != nil || got != v || len(r.p) != 0 {
				t.Fatalf("int(% x) = %d, %v; want %d", enc, got, err, v)
			}
		}
	}
	for _, tt := range []struct {
		p    []byte
		want int64
	}{{[]byte{0xe0}, -32}, {[]byte{0xd0, 0x80}, -128}, {[]byte{0xd1, 0xff, 0x7f}, -129}, {[]byte{0xcc, 0xff}, 255}, {[]byte{0xcd, 0x01, 0x00}, 256}} {
		r := reader{p: tt.p}
		if got, err := r.int(); err != nil || got != tt.want {
			t.Fatalf("int(% x) = %d, %v; want %d", tt.p, got, err, tt.want)
		}
	}
	for _, v := range []uint64{0, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 0x100000000} {
		r := reader{p: appendUint(nil, v)}
		if got, err := r.uint(); err != nil || got != v || len(r.p) != 0 {
			t.Fatalf("%d: read back %d, %v, %d bytes left", v, got, err, len(r.p))
		}
	}
}

// hostileExtras are authextra values built to make a decoder allocate as
// much as it can per input byte.
func hostileExtras() map[string][]byte {
	key := func(i int) []byte { return []byte{0xa2, byte('a' + i%26), byte('a' + i/26%26)} }
	manyEmptyMaps := []byte{0x81, 0xa1, 'k', 0xdd, 0x00, 0x00, 0x7f, 0xf0}
	manyEmptyMaps = append(manyEmptyMaps, bytes.Repeat([]byte{0x80}, 0x7ff0)...)
	manyEmptyArrays := append([]byte{0x81, 0xa1, 'k', 0xdd, 0x00, 0x00, 0x7f, 0xf0}, bytes.Repeat([]byte{0x90}, 0x7ff0)...)
	manyInts := append([]byte{0x81, 0xa1, 'k', 0xdd, 0x00, 0x00, 0x3f, 0xf0}, bytes.Repeat([]byte{0xd0, 0x80}, 0x3ff0)...)
	manyKeys := []byte{0xde, 0x1f, 0x00}
	for i := range 0x1f00 {
		manyKeys = append(manyKeys, append(key(i), 0xc0)...)
	}
	oneEntryMaps := append([]byte{0x81, 0xa1, 'k', 0xdd, 0x00, 0x00, 0x1f, 0xf0}, bytes.Repeat([]byte{0x81, 0xa0, 0xc0}, 0x1ff0)...)
	deep := append(append([]byte{0x81, 0xa1, 'k'}, bytes.Repeat([]byte{0x91}, maxExtraDepth-1)...), 0x80)
	return map[string][]byte{
		"many empty maps": manyEmptyMaps, "many empty arrays": manyEmptyArrays, "many negative ints": manyInts,
		"many keys": manyKeys, "many one-entry maps": oneEntryMaps, "nested to the limit": deep,
	}
}

// extraAllocBound is the most DecodeExtra may allocate for n bytes of
// input. Containers are never sized from a claimed count, and each element
// takes a byte of input at least, so the allocation is linear in the input.
func extraAllocBound(n int) uint64 { return 160*uint64(n) + 16<<10 }

// TestDecodeExtraAllocatesInProportion checks the bound on inputs built to
// defeat it. An input that claims more elements than it holds is refused
// before anything is allocated.
func TestDecodeExtraAllocatesInProportion(t *testing.T) {
	for name, p := range hostileExtras() {
		if _, err := checkExtra(p); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m, err := DecodeExtra(p)
		runtime.ReadMemStats(&after)
		if err != nil || m == nil {
			t.Fatalf("%s: DecodeExtra = %v", name, err)
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > extraAllocBound(len(p)) {
			t.Errorf("%s: %d bytes of input allocated %d bytes, more than %d", name, len(p), got, extraAllocBound(len(p)))
		}
	}
	forged := []byte{0x81, 0xa1, 'k', 0xdd, 0x7f, 0xff, 0xff, 0xff, 0xc0}
	if _, err := DecodeExtra(forged); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a forged count: %v", err)
	}
}

func TestDecodeExtraValues(t *testing.T) {
	ev := Update(dA, fullAuth())
	p, err := AppendEvent(nil, &ev)
	if err != nil {
		t.Fatal(err)
	}
	var v View
	if err := Parse(p, V2, &v); err != nil {
		t.Fatal(err)
	}
	m, err := DecodeExtra(v.Extra)
	if err != nil {
		t.Fatal(err)
	}
	if m["big"] != uint64(1<<63) || m["neg"] != int64(-70000) || m["f"] != 1.5 || m["ok"] != true ||
		!bytes.Equal(m["b"].([]byte), []byte{1, 2}) || len(m["none"].([]any)) != 0 {
		t.Fatalf("decoded %#v", m)
	}
	// The bytes are copied: the map survives its payload.
	b := m["b"].([]byte)
	clear(p)
	if b[0] != 1 {
		t.Fatal("a binary value still points into the payload")
	}
	if m, err := DecodeExtra(nil); m != nil || err != nil {
		t.Fatalf("DecodeExtra(nil) = %v, %v", m, err)
	}
	if m, err := DecodeExtra([]byte{0x80}); m != nil || err != nil {
		t.Fatalf("DecodeExtra(empty map) = %v, %v", m, err)
	}
	if _, err := DecodeExtra([]byte{0x80, 0x00}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("DecodeExtra with a trailing byte: %v", err)
	}
	if _, err := DecodeExtra([]byte{0x81, 0xa1, 'k', 0xca, 0x3f, 0xc0, 0x00, 0x00}); err != nil {
		t.Fatalf("float32: %v", err)
	}
}
