package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
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
		{"future version", withHeader(2, 0), "format version 2 is not supported"},
		{"unknown flags", withHeader(1, 4), "unknown header flags"},
		{"one byte", good[:1], "file is 1 bytes, shorter than the 16-byte header"},
		{"partial header", good[:15], "shorter than the 16-byte header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j.dat")
			os.WriteFile(path, tt.data, 0o600)
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
	path := filepath.Join(t.TempDir(), "j.dat")
	os.WriteFile(path, nil, 0o600)
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
			for _, want := range []string{path, fmt.Sprintf("offset %d", offs[k]), ce.Reason, "run `cookiestore repair " + path + "`"} {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("message %q does not contain %q", err, want)
				}
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
			head := append(appendHeader(nil), good...)
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
		b := appendHeader(nil)
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

func TestVerify(t *testing.T) {
	payloads := testPayloads("ev", 4)
	file, offs := buildFile(payloads...)
	corrupt := bytes.Clone(file)
	corrupt[offs[1]+9] ^= 1
	tests := []struct {
		name string
		data []byte
		want VerifyReport
	}{
		{"clean", file, VerifyReport{Size: int64(len(file)), Frames: 4, Bytes: int64(len(file)), BadOffset: -1, NextValid: -1}},
		{"torn", file[:len(file)-3], VerifyReport{Size: int64(len(file) - 3), Frames: 3, Bytes: offs[3], BadOffset: offs[3], NextValid: -1}},
		{"corrupt", corrupt, VerifyReport{Size: int64(len(file)), Frames: 1, Bytes: offs[1], BadOffset: offs[1], NextValid: offs[2]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j.dat")
			os.WriteFile(path, tt.data, 0o600)
			got, err := Verify(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Path = path
			if (got.Reason == "") != tt.want.OK() {
				t.Fatalf("reason %q for OK=%v", got.Reason, tt.want.OK())
			}
			got.Reason = ""
			if got != tt.want {
				t.Fatalf("Verify = %+v, want %+v", got, tt.want)
			}
			if got.TornTail() != (tt.name == "torn") {
				t.Fatalf("TornTail() = %v", got.TornTail())
			}
			if b, _ := os.ReadFile(path); !bytes.Equal(b, tt.data) {
				t.Fatal("Verify changed the file")
			}
		})
	}
}

func TestRepair(t *testing.T) {
	payloads := testPayloads("ev", 6)
	file, offs := buildFile(payloads...)
	twoHoles := bytes.Clone(file)
	twoHoles[offs[1]+10] ^= 1
	twoHoles[offs[3]+1] ^= 1
	garbage := append(append(bytes.Clone(file[:offs[2]]), bytes.Repeat([]byte{0xee}, 100)...), file[offs[2]:]...)
	tests := []struct {
		name    string
		data    []byte
		want    [][]byte
		dropped []DroppedRange // reasons not compared
	}{
		{"clean", file, payloads, nil},
		{"torn tail", file[:len(file)-5], payloads[:5], []DroppedRange{{Offset: offs[5], Length: offs[6] - offs[5] - 5}}},
		{"two holes", twoHoles, [][]byte{payloads[0], payloads[2], payloads[4], payloads[5]},
			[]DroppedRange{{Offset: offs[1], Length: offs[2] - offs[1]}, {Offset: offs[3], Length: offs[4] - offs[3]}}},
		{"inserted garbage", garbage, payloads, []DroppedRange{{Offset: offs[2], Length: 100}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j.dat")
			os.WriteFile(path, tt.data, 0o600)
			rep, err := Repair(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var total int64
			for i := range rep.Dropped {
				if rep.Dropped[i].Reason == "" {
					t.Errorf("dropped range %d has no reason", i)
				}
				total += rep.Dropped[i].Length
				rep.Dropped[i].Reason = ""
			}
			if fmt.Sprint(rep.Dropped) != fmt.Sprint(tt.dropped) || rep.DroppedBytes != total {
				t.Fatalf("dropped %v (%d bytes), want %v", rep.Dropped, rep.DroppedBytes, tt.dropped)
			}
			if rep.Frames != int64(len(tt.want)) || rep.Bytes != fileSize(t, path) {
				t.Fatalf("report %+v; file is %d bytes", rep, fileSize(t, path))
			}
			if tt.dropped == nil {
				if rep.Backup != "" {
					t.Fatalf("clean file got a backup %s", rep.Backup)
				}
			} else {
				if rep.Backup != path+".bak" {
					t.Fatalf("backup %q", rep.Backup)
				}
				if b, _ := os.ReadFile(rep.Backup); !bytes.Equal(b, tt.data) {
					t.Fatal("the backup is not the original file")
				}
				if fi, _ := os.Stat(rep.Backup); fi.Mode() != 0o600 {
					t.Fatalf("backup mode %v", fi.Mode())
				}
			}
			got, rec := readAllT(t, path)
			samePayloads(t, got, tt.want)
			if rec.DroppedBytes != 0 {
				t.Fatalf("Open after Repair dropped %d bytes", rec.DroppedBytes)
			}
			if v, err := Verify(path, Options{}); err != nil || !v.OK() {
				t.Fatalf("Verify after Repair: %+v, %v", v, err)
			}
		})
	}
}

func TestRepairKeepsEveryBackup(t *testing.T) {
	payloads := testPayloads("ev", 3)
	file, offs := buildFile(payloads...)
	path := filepath.Join(t.TempDir(), "j.dat")
	for i, want := range []string{".bak", ".bak.1", ".bak.2"} {
		b := bytes.Clone(file)
		b[offs[0]+8] ^= byte(i + 1)
		os.WriteFile(path, b, 0o600)
		rep, err := Repair(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Backup != path+want {
			t.Fatalf("repair %d: backup %q, want %q", i, rep.Backup, path+want)
		}
		if got, _ := os.ReadFile(rep.Backup); !bytes.Equal(got, b) {
			t.Fatalf("backup %s does not hold the file before repair %d", rep.Backup, i)
		}
	}
}

// naiveResync is the obvious quadratic search that resync must agree with.
func naiveResync(b []byte, start int64) int64 {
	for p := start; p+FrameHeaderSize <= int64(len(b)); p++ {
		n := binary.LittleEndian.Uint32(b[p:])
		if checkLength(n, int64(len(b))-p-FrameHeaderSize) == "" && checkFrame(b[p:p+FrameHeaderSize+int64(n)]) == "" {
			return p
		}
	}
	return -1
}

func TestResync(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// Data in which many offsets hold plausible lengths that fit, so that
	// the checkpoints, the window's growth and sliding, and the combined
	// CRC are all exercised, with real frames planted here and there.
	const size = 1 << 20
	b := make([]byte, size)
	for p := 0; p+4 <= size; p += 1024 {
		binary.LittleEndian.PutUint32(b[p:], uint32(rng.IntN(150<<10))+1)
	}
	var planted []int64
	sizes := []int{1, 100, resyncDirect, resyncDirect + 1, 5000, 70000, 120000}
	slot := int64(size / len(sizes))
	for i, n := range sizes {
		p := int64(i)*slot + rng.Int64N(slot-int64(n)-FrameHeaderSize)
		copy(b[p:], appendFrame(nil, bytes.Repeat([]byte{byte(n)}, n)))
		planted = append(planted, p)
	}
	starts := []int64{0, 1, size - 8, size - 7}
	for _, p := range planted {
		starts = append(starts, p-1, p, p+1, max(p-100000, 0))
	}
	for range 5 {
		starts = append(starts, rng.Int64N(size))
	}
	r := bytes.NewReader(b)
	found := map[int64]int{}
	for _, s := range starts {
		got, err := resync(r, s, size)
		if err != nil {
			t.Fatal(err)
		}
		if want := naiveResync(b, s); got != want {
			t.Fatalf("resync from %d = %d, want %d", s, got, want)
		}
		found[got]++
	}
	for _, p := range planted {
		if found[p] == 0 {
			t.Errorf("the frame planted at %d was never found", p)
		}
	}
}

func TestResyncReadError(t *testing.T) {
	b, _ := buildFile(testPayloads("a", 100)...)
	r := &failingReaderAt{b: b, at: 1000}
	if _, err := resync(r, 17, int64(len(b))); err == nil || !strings.Contains(err.Error(), "offset") {
		t.Fatalf("resync over a read error: %v", err)
	}
}

type failingReaderAt struct {
	b  []byte
	at int64
}

func (r *failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > r.at {
		return 0, io.ErrNoProgress
	}
	return copy(p, r.b[off:]), nil
}

func TestGFShift(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 7, 8, 255, 4096, 100000, MaxFrameSize} {
		a, b := make([]byte, rng.IntN(100)), make([]byte, n)
		for i := range a {
			a[i] = byte(rng.Uint32())
		}
		for i := 0; i < len(b); i += 97 {
			b[i] = byte(rng.Uint32())
		}
		ca, cb := crc32.Checksum(a, castagnoli), crc32.Checksum(b, castagnoli)
		if got, want := gfShift(ca, int64(n))^cb, crc32.Update(ca, castagnoli, b); got != want {
			t.Fatalf("combine over %d bytes: %#x, want %#x", n, got, want)
		}
	}
}
