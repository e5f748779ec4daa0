package record

import (
	"bytes"
	"runtime/debug"
	"testing"
)

// TestSkipDeepNesting feeds the value skipper values nested a million deep,
// with the stack limited to a few megabytes: a recursive skip would
// overflow it, which is fatal. Nesting is refused past maxSkipDepth.
func TestSkipDeepNesting(t *testing.T) {
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
	}
	for _, tt := range tests {
		n, err := SkipValue(tt.p)
		if (err == nil) != tt.ok || (tt.ok && n != len(tt.p)) {
			t.Fatalf("%s: SkipValue = %d, %v for %d bytes", tt.name, n, err, len(tt.p))
		}
	}
}
