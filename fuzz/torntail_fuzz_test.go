package fuzz

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"cookiestore/journal"
)

// FuzzTornTail writes a valid journal whose frames come from the fuzz
// input, cuts it at an arbitrary offset, optionally flips or zeroes a few
// bytes near the new end, and reopens it. The properties:
//
//   - an undamaged cut always opens, and recovers exactly the frames that lie
//     wholly before the cut: the longest prefix, nothing more, nothing less;
//   - a damaged file either opens and recovers a prefix of what was written,
//     or is refused with an error wrapping journal.ErrCorrupt.
//
// Nothing else may happen: no panic, no other error, no frame that was never
// written.
func FuzzTornTail(f *testing.F) {
	f.Add([]byte("hello\x00world\x00cookie"), uint16(30), uint8(0), uint8(0), uint8(0))
	f.Add([]byte("a\x00bb\x00ccc\x00dddd"), uint16(0xffff), uint8(1), uint8(3), uint8(0x40))
	f.Add([]byte("one frame only"), uint16(20), uint8(2), uint8(1), uint8(0))
	f.Add(bytes.Repeat([]byte("x\x00"), 50), uint16(200), uint8(1), uint8(30), uint8(0x01))
	f.Fuzz(func(t *testing.T, input []byte, cut uint16, damage, back, mask uint8) {
		// Frames are the input split at zero bytes; empty pieces are skipped
		// because a frame is never empty.
		var payloads [][]byte
		for _, p := range bytes.Split(input, []byte{0}) {
			if len(p) > 0 {
				payloads = append(payloads, p)
			}
		}
		path := filepath.Join(t.TempDir(), "cookies.dat")
		opts := journal.Options{Sync: journal.SyncNone, FS: noSyncFS()}
		j, err := journal.Open(path, opts, nil)
		if err != nil {
			t.Fatal(err)
		}
		ends := []int64{journal.HeaderSize} // ends[i] = file size holding the first i frames
		for _, p := range payloads {
			if _, err := j.Append(p); err != nil {
				t.Fatal(err)
			}
			ends = append(ends, ends[len(ends)-1]+journal.FrameHeaderSize+int64(len(p)))
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		file, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(file)) != ends[len(ends)-1] {
			t.Fatalf("journal is %d bytes, want %d", len(file), ends[len(ends)-1])
		}
		// Cut somewhere after the header: a crash can tear frames, not the
		// header that creation synced before the first append.
		size := journal.HeaderSize + int(cut)%(len(file)-journal.HeaderSize+1)
		file = file[:size]
		damaged := false
		if damage%3 != 0 && size > journal.HeaderSize {
			// Damage one byte within the last 256 bytes of the cut file, but
			// never in the header.
			at := size - 1 - int(back)
			if at >= journal.HeaderSize {
				old := file[at]
				if damage%3 == 1 {
					file[at] ^= mask | 1
				} else {
					file[at] = 0
				}
				damaged = file[at] != old
			}
		}
		if err := os.WriteFile(path, file, 0o600); err != nil {
			t.Fatal(err)
		}
		var got [][]byte
		j, err = journal.Open(path, opts, func(_ int, _ int64, p []byte) error {
			got = append(got, bytes.Clone(p))
			return nil
		})
		if err != nil {
			if damaged && errors.Is(err, journal.ErrCorrupt) {
				return
			}
			t.Fatalf("open after cut at %d (damaged=%v): %v", size, damaged, err)
		}
		defer j.Close()
		if len(got) > len(payloads) {
			t.Fatalf("recovered %d frames, only %d were written", len(got), len(payloads))
		}
		for i := range got {
			if !bytes.Equal(got[i], payloads[i]) {
				t.Fatalf("frame %d recovered as %q, written as %q", i, got[i], payloads[i])
			}
		}
		if !damaged {
			whole := 0
			for whole+1 < len(ends) && ends[whole+1] <= int64(size) {
				whole++
			}
			if len(got) != whole {
				t.Fatalf("cut at %d: recovered %d frames, want the %d that lie before the cut", size, len(got), whole)
			}
			if rec := j.Recovery(); rec.Bytes != ends[whole] || rec.DroppedBytes != int64(size)-ends[whole] {
				t.Fatalf("recovery %+v, want %d bytes kept and %d dropped", rec, ends[whole], int64(size)-ends[whole])
			}
		}
	})
}
