package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestHeaderErrors(t *testing.T) {
	good, _ := buildFile([]byte("x"))
	withHeader := func(version, flags uint16) []byte {
		b := bytes.Clone(good)
		binary.LittleEndian.PutUint16(b[8:], version)
		binary.LittleEndian.PutUint16(b[10:], flags)
		binary.LittleEndian.PutUint32(b[12:], crc32.Checksum(b[:12], castagnoli))
		return b
	}
	tests := []struct {
		name   string
		data   []byte
		reason string
	}{
		{"wrong magic", append([]byte("SQLite f"), good[8:]...), "not a cookiestore journal"},
		{"bad header crc", append(bytes.Clone(good[:13]), append([]byte{good[13] ^ 1}, good[14:]...)...), "header checksum"},
		{"version 0", withHeader(0, 0), "format version 0 is not supported (this build reads versions 1 to 2)"},
		{"future version", withHeader(3, 0), "format version 3 is not supported (this build reads versions 1 to 2)"},
		{"largest version", withHeader(0xffff, 0), "format version 65535 is not supported"},
		{"unknown flags", withHeader(1, 4), "unknown header flags"},
		{"unknown flags, version 2", withHeader(2, 1), "unknown header flags"},
		{"one byte", good[:1], "file is 1 bytes, shorter than the 16-byte header"},
		{"partial header", good[:15], "shorter than the 16-byte header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFileT(t, tt.data)
			_, err := Open(path, Options{}, nil)
			if !errors.Is(err, ErrBadHeader) || !strings.Contains(err.Error(), tt.reason) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Open: %v; want ErrBadHeader naming the file and %q", err, tt.reason)
			}
			if b, _ := os.ReadFile(path); !bytes.Equal(b, tt.data) {
				t.Fatal("Open changed a file with a bad header")
			}
			if _, err := Verify(path, Options{}); !errors.Is(err, ErrBadHeader) {
				t.Fatalf("Verify: %v", err)
			}
			if _, err := Repair(path, Options{}); !errors.Is(err, ErrBadHeader) {
				t.Fatalf("Repair: %v", err)
			}
			if _, err := NewReader(bytes.NewReader(tt.data)); !errors.Is(err, ErrBadHeader) {
				t.Fatalf("NewReader: %v", err)
			}
		})
	}
}

func TestEmptyFileIsInitialised(t *testing.T) {
	path := writeFileT(t, nil)
	j, _ := openT(t, path, Options{})
	if !j.Recovery().Created {
		t.Fatalf("Recovery %+v, want Created", j.Recovery())
	}
	appendT(t, j, [][]byte{[]byte("after")})
	j.Close()
	got, _ := readAllT(t, path)
	samePayloads(t, got, [][]byte{[]byte("after")})
}

// TestTornTail cuts a journal at every offset: Open must keep exactly the
// whole frames before the cut and drop the rest.
func TestTornTail(t *testing.T) {
	payloads := testPayloads("ev", 6)
	file, offs := buildFile(payloads...)
	dir := t.TempDir()
	for cut := HeaderSize; cut <= len(file); cut++ {
		path := filepath.Join(dir, fmt.Sprintf("cut%d.dat", cut))
		os.WriteFile(path, file[:cut], 0o600)
		whole := 0
		for whole+1 < len(offs) && offs[whole+1] <= int64(cut) {
			whole++
		}
		j, got := openT(t, path, Options{})
		samePayloads(t, got, payloads[:whole])
		rec := j.Recovery()
		if rec.Frames != int64(whole) || rec.Bytes != offs[whole] || rec.DroppedBytes != int64(cut)-offs[whole] {
			t.Fatalf("cut at %d: Recovery %+v, want %d frames, %d bytes", cut, rec, whole, offs[whole])
		}
		if (rec.DroppedBytes > 0) != (rec.Reason != "") {
			t.Fatalf("cut at %d: Recovery %+v: reason and dropped bytes disagree", cut, rec)
		}
		j.Close()
		if got := fileSize(t, path); got != offs[whole] {
			t.Fatalf("cut at %d: file is %d bytes after Open, want %d", cut, got, offs[whole])
		}
		if _, rec := readAllT(t, path); rec.DroppedBytes != 0 {
			t.Fatalf("cut at %d: second Open dropped %d more bytes", cut, rec.DroppedBytes)
		}
	}
}

// TestCorruptMiddle flips every byte of every frame but the last: Open must
// refuse with the offset of the damaged frame. Damage in the last frame is
// indistinguishable from a torn write and is cut off.
func TestCorruptMiddle(t *testing.T) {
	payloads := testPayloads("ev", 4)
	file, offs := buildFile(payloads...)
	path := filepath.Join(t.TempDir(), "j.dat")
	last := len(payloads) - 1
	for k := range payloads {
		for i := offs[k]; i < offs[k+1]; i++ {
			b := bytes.Clone(file)
			b[i] ^= 0xff
			os.WriteFile(path, b, 0o600)
			j, got, err := openCollect(path, Options{})
			if k == last {
				if err != nil {
					t.Fatalf("byte %d of the last frame flipped: %v", i, err)
				}
				samePayloads(t, got, payloads[:last])
				j.Close()
				continue
			}
			var ce *CorruptError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("byte %d flipped: Open returned %v, want a *CorruptError", i, err)
			}
			if ce.Path != path || ce.Offset != offs[k] || ce.Next != offs[k+1] || ce.Reason == "" {
				t.Fatalf("byte %d flipped: %+v, want offset %d, next %d", i, ce, offs[k], offs[k+1])
			}
			for _, want := range []string{path, fmt.Sprintf("offset %d", offs[k]), ce.Reason, fmt.Sprintf("follows at offset %d", offs[k+1]), "needs repair (journal.Repair)"} {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("message %q does not contain %q", err, want)
				}
			}
			// The package knows nothing of the command that wraps it.
			if strings.Contains(err.Error(), "cookiestore repair") {
				t.Fatalf("message %q names a command of a binary", err)
			}
			if b2, _ := os.ReadFile(path); !bytes.Equal(b2, b) {
				t.Fatal("Open changed a corrupt file")
			}
		}
	}
}

func TestBadLengths(t *testing.T) {
	good := appendFrame(nil, []byte("good"))
	frameWithLength := func(n uint32) []byte {
		f := binary.LittleEndian.AppendUint32(nil, n)
		f = binary.LittleEndian.AppendUint32(f, crc32.Checksum(f, castagnoli))
		return f
	}
	tests := []struct {
		name   string
		bad    []byte
		reason string
	}{
		{"zero length", frameWithLength(0), "zero frame length"},
		{"over max", frameWithLength(MaxFrameSize + 1), "exceeds the maximum"},
		{"all ones", frameWithLength(0xffffffff), "exceeds the maximum"},
		{"past end", frameWithLength(1000), "runs past the end of the file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			head := append(appendHeader(nil, Version), good...)
			// Followed by a valid frame: corruption.
			path := filepath.Join(dir, "middle.dat")
			os.WriteFile(path, append(append(bytes.Clone(head), tt.bad...), good...), 0o600)
			_, err := Open(path, Options{}, nil)
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Offset != int64(len(head)) || !strings.Contains(ce.Reason, tt.reason) {
				t.Fatalf("Open: %v, want corruption at %d: %s", err, len(head), tt.reason)
			}
			// At the end: a torn tail.
			path = filepath.Join(dir, "tail.dat")
			os.WriteFile(path, append(bytes.Clone(head), tt.bad...), 0o600)
			j, got := openT(t, path, Options{})
			defer j.Close()
			samePayloads(t, got, [][]byte{[]byte("good")})
			if rec := j.Recovery(); rec.DroppedBytes != int64(len(tt.bad)) || !strings.Contains(rec.Reason, tt.reason) {
				t.Fatalf("Recovery %+v, want %d bytes dropped: %s", rec, len(tt.bad), tt.reason)
			}
		})
	}
}

// TestOpenAllocationBound opens files whose length fields claim far more
// than the file holds: memory use must follow the file, not the claim.
func TestOpenAllocationBound(t *testing.T) {
	for _, n := range []uint32{MaxFrameSize, MaxFrameSize - 1, 1 << 20} {
		path := filepath.Join(t.TempDir(), "j.dat")
		b := appendHeader(nil, Version)
		b = binary.LittleEndian.AppendUint32(b, n)
		b = append(b, make([]byte, 100)...)
		os.WriteFile(path, b, 0o600)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		j, err := Open(path, Options{}, nil)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		j.Close()
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<10 {
			t.Errorf("length %d in a %d-byte file: Open allocated %d bytes", n, len(b), grew)
		}

		runtime.ReadMemStats(&before)
		r, err := NewReader(bytes.NewReader(b[:HeaderSize+104]))
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = r.Next()
		runtime.ReadMemStats(&after)
		var fe *FrameError
		if !errors.As(err, &fe) || fe.Offset != HeaderSize {
			t.Fatalf("Reader.Next: %v", err)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 512<<10 {
			t.Errorf("length %d: Reader allocated %d bytes", n, grew)
		}
	}
}

func TestReader(t *testing.T) {
	payloads := testPayloads("ev", 5)
	file, offs := buildFile(payloads...)
	for cut := HeaderSize; cut <= len(file); cut++ {
		r, err := NewReader(bytes.NewReader(file[:cut]))
		if err != nil {
			t.Fatal(err)
		}
		var got [][]byte
		for {
			off, p, err := r.Next()
			if err == io.EOF {
				if int64(cut) != offs[len(got)] {
					t.Fatalf("cut at %d: clean EOF inside a frame", cut)
				}
				break
			}
			var fe *FrameError
			if errors.As(err, &fe) {
				if fe.Offset != offs[len(got)] || int64(cut) == offs[len(got)] {
					t.Fatalf("cut at %d: %v after %d frames", cut, err, len(got))
				}
				if _, _, again := r.Next(); again != err {
					t.Fatalf("Next after an error returned %v", again)
				}
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if off != offs[len(got)] {
				t.Fatalf("offset %d, want %d", off, offs[len(got)])
			}
			got = append(got, bytes.Clone(p))
		}
		samePayloads(t, got, payloads[:len(got)])
	}
}

func TestReaderLargeFrames(t *testing.T) {
	big := make([]byte, 3*readerChunk+17)
	for i := range big {
		big[i] = byte(i * 31)
	}
	file, _ := buildFile(big, []byte("s"), big)
	r, err := NewReader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range [][]byte{big, []byte("s"), big} {
		_, p, err := r.Next()
		if err != nil || !bytes.Equal(p, want) {
			t.Fatalf("Next: %d bytes, %v", len(p), err)
		}
	}
	if _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next at end: %v", err)
	}
}
