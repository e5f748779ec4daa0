package journal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"cookiestore/internal/testkit"
)

// snapshot copies the file at path as it is now, as a crash would leave it.
func snapshot(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "crashed.dat")
	if err := os.WriteFile(cp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return cp
}

// TestUnwrittenSpace follows a SyncAlways journal's space written ahead:
// there while it is open, invisible to every reader, kept by Open after a
// crash, filled by later appends, and cut off by Close.
func TestUnwrittenSpace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.dat")
	j, _ := openT(t, path, Options{})
	first := testPayloads("first", 5)
	appendT(t, j, first)
	end, alloc := j.Size(), fileSize(t, path)
	if alloc <= end || alloc > end+UnwrittenChunk {
		t.Fatalf("open journal: file size %d, want the %d bytes of frames and up to %d written ahead", alloc, end, UnwrittenChunk)
	}
	b, _ := os.ReadFile(path)
	if !allZero(b[end:]) {
		t.Fatal("the space written ahead holds something other than zeros")
	}

	crashed := snapshot(t, path)
	samePayloads(t, readFile(t, crashed), first)
	rep, err := Verify(crashed, Options{})
	if err != nil || !rep.OK() || rep.Bytes != end || rep.Size != alloc || rep.Frames != 5 {
		t.Fatalf("Verify of the crashed file: %+v, %v", rep, err)
	}
	if rr, err := Repair(crashed, Options{}); err != nil || rr.Backup != "" || rr.DroppedBytes != 0 || rr.Bytes != end {
		t.Fatalf("Repair of the crashed file: %+v, %v; want nothing to do", rr, err)
	}

	// Open after the crash keeps the space, and the next frames go into it.
	cj, got := openT(t, crashed, Options{})
	samePayloads(t, got, first)
	if rec := cj.Recovery(); rec.Bytes != end || rec.Unwritten != alloc-end || rec.DroppedBytes != 0 {
		t.Fatalf("Recovery %+v, want %d bytes of frames and %d unwritten, nothing dropped", rec, end, alloc-end)
	}
	second := testPayloads("second", 3)
	appendT(t, cj, second)
	if got := fileSize(t, crashed); got != alloc {
		t.Fatalf("appending into the unwritten space grew the file to %d", got)
	}
	if err := cj.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := fileSize(t, crashed), end+int64(len(appendFrame(nil, bytes.Join(second, nil))))+int64(2*FrameHeaderSize); got != want {
		t.Fatalf("closed journal: file size %d, want %d (frames only)", got, want)
	}
	got, _ = readAllT(t, crashed)
	samePayloads(t, got, append(first, second...))

	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if got := fileSize(t, path); got != end {
		t.Fatalf("closed journal: file size %d, want %d", got, end)
	}
}

// TestUnwrittenSpaceGrows appends more than a chunk of space at a time, so
// that the space is written ahead several times.
func TestUnwrittenSpaceGrows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.dat")
	j, _ := openT(t, path, Options{})
	payload := bytes.Repeat([]byte("p"), 64<<10)
	var want [][]byte
	for i := range 3 * UnwrittenChunk / len(payload) {
		p := append([]byte(fmt.Sprint(i)), payload...)
		if _, err := j.AppendBatch([][]byte{p}); err != nil {
			t.Fatal(err)
		}
		want = append(want, p)
	}
	if size, end := fileSize(t, path), j.Size(); size <= end || size > end+UnwrittenChunk {
		t.Fatalf("file size %d for %d bytes of frames: the space ahead should be at most one chunk", size, end)
	}
	samePayloads(t, readFile(t, snapshot(t, path)), want)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := readAllT(t, path)
	samePayloads(t, got, want)
}

// TestOtherModesWriteNothingAhead: only SyncAlways has fdatasyncs to speed up.
func TestOtherModesWriteNothingAhead(t *testing.T) {
	for _, mode := range []SyncMode{SyncInterval, SyncNone} {
		path := filepath.Join(t.TempDir(), "j.dat")
		j, _ := openT(t, path, Options{Sync: mode})
		appendT(t, j, testPayloads("x", 3))
		if err := j.Sync(); err != nil {
			t.Fatal(err)
		}
		if size := fileSize(t, path); size != j.Size() {
			t.Fatalf("%v: file size %d, frames end at %d", mode, size, j.Size())
		}
		j.Close()
	}
}

// TestZerosThenDamage: zeros end the journal only if nothing but zeros
// follows them.
func TestZerosThenDamage(t *testing.T) {
	payloads := testPayloads("ev", 3)
	file, offs := buildFile(payloads...)
	zeros := make([]byte, 100)
	tests := []struct {
		name        string
		data        []byte
		wantErr     error // from Open
		wantFrames  int
		wantDropped int64
		wantUnwrit  int64
	}{
		{name: "zeros", data: cat(file, zeros), wantFrames: 3, wantUnwrit: 100},
		{name: "fewer zeros than a frame header", data: cat(file, zeros[:3]), wantFrames: 3, wantUnwrit: 3},
		{name: "zeros then a stray byte", data: cat(file, zeros, []byte{7}), wantFrames: 3, wantDropped: 101},
		{name: "zeros then a valid frame", data: cat(file[:offs[2]], zeros, file[offs[2]:]), wantErr: ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFileT(t, tt.data)
			j, got, err := openCollect(path, Options{})
			if tt.wantErr != nil {
				var ce *CorruptError
				if !errors.Is(err, tt.wantErr) || !errors.As(err, &ce) || ce.Offset != offs[2] {
					t.Fatalf("Open: %v, want %v at offset %d", err, tt.wantErr, offs[2])
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			samePayloads(t, got, payloads[:tt.wantFrames])
			rec := j.Recovery()
			if rec.DroppedBytes != tt.wantDropped || rec.Unwritten != tt.wantUnwrit || rec.Bytes != int64(len(file)) {
				t.Fatalf("Recovery %+v, want %d dropped and %d unwritten after %d bytes", rec, tt.wantDropped, tt.wantUnwrit, len(file))
			}
		})
	}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestReaderZeros: the stream reader stops at zeros that run to the end,
// and reports anything after them.
func TestReaderZeros(t *testing.T) {
	payloads := testPayloads("ev", 2)
	file, offs := buildFile(payloads...)
	for _, tail := range [][]byte{make([]byte, 5), make([]byte, 3<<16)} {
		path := writeFileT(t, cat(file, tail))
		samePayloads(t, readFile(t, path), payloads)
	}
	fd := bytes.NewReader(cat(file, make([]byte, 70<<10), []byte{1}))
	r, err := NewReader(fd)
	if err != nil {
		t.Fatal(err)
	}
	r.Next()
	r.Next()
	var fe *FrameError
	if _, _, err := r.Next(); !errors.As(err, &fe) || fe.Offset != offs[2] {
		t.Fatalf("zeros then a byte: %v, want a FrameError at %d", err, offs[2])
	}
}

// openFaultyWith opens a sync=always journal at a fresh path through a
// faultFS aimed at it, and appends n payloads of prefix.
func openFaultyWith(t *testing.T, prefix string, n int) (string, *testkit.FaultFS[File], *Journal, [][]byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "j.dat")
	fsys := newFaultFS("j.dat")
	j, _ := openT(t, path, Options{FS: fsys})
	payloads := testPayloads(prefix, n)
	appendT(t, j, payloads)
	return path, fsys, j, payloads
}

// TestCloseCannotCutUnwritten: failing to cut the space off is harmless,
// so Close still succeeds and the file still opens.
func TestCloseCannotCutUnwritten(t *testing.T) {
	path, fsys, j, want := openFaultyWith(t, "x", 3)
	fsys.Set(func(f *testkit.Faults) { f.TruncateErr = syscall.EIO })
	if err := j.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if fileSize(t, path) == j.Size() {
		t.Fatal("the injected truncate failure did not apply")
	}
	got, rec := readAllT(t, path)
	samePayloads(t, got, want)
	if rec.Unwritten == 0 || rec.DroppedBytes != 0 {
		t.Fatalf("Recovery %+v", rec)
	}
}

// TestWriteAheadFailure: a full disk met while writing the space ahead is a
// failed write like any other.
func TestWriteAheadFailure(t *testing.T) {
	path, fsys, j, good := openFaultyWith(t, "good", 2)
	// Fill the chunk, so that the next append writes ahead again, and
	// fail only that write of zeros.
	filler := bytes.Repeat([]byte("f"), UnwrittenChunk-int(j.Size())+HeaderSize)
	if _, err := j.Append(filler); err != nil {
		t.Fatal(err)
	}
	good = append(good, filler)
	fsys.Set(func(f *testkit.Faults) {
		f.Write = func(_ int64, n int) (int, error) {
			if n == UnwrittenPage {
				return n / 3, syscall.ENOSPC
			}
			return n, nil
		}
	})
	if _, err := j.Append([]byte("no room ahead")); !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Append: %v, want ENOSPC and read-only", err)
	}
	fsys.Set(func(f *testkit.Faults) { f.Write = nil })
	if err := j.Close(); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Close: %v", err)
	}
	got, rec := readAllT(t, path)
	samePayloads(t, got, good)
	if rec.DroppedBytes != 0 {
		t.Fatalf("Recovery %+v: the failed frame should have been cut back", rec)
	}
}

// TestGroupCommitSyncFailure fails an fdatasync while many appenders wait
// in groups: each must return, every acknowledged frame must be in the file,
// and every appender after the failure must get the error.
func TestGroupCommitSyncFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.dat")
	fsys := newFaultFS("j.dat")
	fsys.Set(func(f *testkit.Faults) { f.DatasyncDelay = time.Millisecond })
	j, _ := openT(t, path, Options{FS: fsys})
	var (
		mu    sync.Mutex
		acked [][]byte
		wg    sync.WaitGroup
	)
	const writers = 32
	for w := range writers {
		wg.Go(func() {
			failed := false
			for _, p := range testPayloads(fmt.Sprintf("w%02d", w), 40) {
				_, err := j.Append(p)
				switch {
				case err == nil && failed:
					t.Errorf("writer %d: an Append succeeded after one failed", w)
				case err == nil:
					mu.Lock()
					acked = append(acked, p)
					mu.Unlock()
				case !errors.Is(err, ErrReadOnly) || !errors.Is(err, syscall.EIO):
					t.Errorf("writer %d: %v", w, err)
				default:
					failed = true
				}
			}
		})
	}
	waitFor(t, "a few groups", func() bool { return j.Stats().Syncs >= 5 })
	fsys.Set(func(f *testkit.Faults) { f.DatasyncErr = syscall.EIO })
	wg.Wait()
	j.Close()

	got, _ := readAllT(t, path)
	have := map[string]bool{}
	for _, p := range got {
		have[string(p)] = true
	}
	for _, p := range acked {
		if !have[string(p)] {
			t.Fatalf("acknowledged frame %q is missing", p)
		}
	}
	t.Logf("%d acknowledged, %d in the file", len(acked), len(got))
}

// TestGroupCommitNoLostWakeup runs rounds of appenders that each append
// once and leave, so that the last appenders of a round have nobody after
// them to flush their frames. A lead handed to a group often finds another
// appender already flushing it; a waiter that then lost track of its group
// would wait for a flush that never comes.
func TestGroupCommitNoLostWakeup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.dat")
	j, _ := openT(t, path, Options{})
	defer j.Close()
	for round := range 300 {
		var wg sync.WaitGroup
		for w := range 12 {
			wg.Go(func() {
				if w%3 == 0 {
					time.Sleep(time.Duration(w*20) * time.Microsecond)
				}
				if _, err := j.Append([]byte(fmt.Sprintf("r%d-w%d", round, w))); err != nil {
					t.Error(err)
				}
			})
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("round %d: appenders still waiting after 20 s: a group lost its wake-up", round)
		}
	}
}

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r io.ReaderAt
	n int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

// TestZeroFromReadsLittle: deciding that a short run of zeros is not the
// unwritten space reads about the run, not the rest of the file, so that a
// damaged file with many such runs costs Repair a linear amount of reading.
func TestZeroFromReadsLittle(t *testing.T) {
	data := make([]byte, 8<<20)
	data[100] = 1
	for _, tt := range []struct {
		off      int64
		want     bool
		maxBytes int64
	}{
		{off: 0, want: false, maxBytes: 2 * 128},
		{off: 101, want: true, maxBytes: int64(len(data))},
	} {
		cr := &countingReaderAt{r: bytes.NewReader(data)}
		got, err := zeroFrom(cr, tt.off, int64(len(data)))
		if err != nil || got != tt.want || cr.n > tt.maxBytes {
			t.Fatalf("zeroFrom(%d) = %v, %v after reading %d bytes; want %v within %d", tt.off, got, err, cr.n, tt.want, tt.maxBytes)
		}
	}
}
