package journal

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

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
