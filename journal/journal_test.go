package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cookiestore/internal/testkit"
)

func TestHeaderLayout(t *testing.T) {
	for version, want := range map[int]string{1: "CKSJRNL\x00\x01\x00\x00\x00", 2: "CKSJRNL\x00\x02\x00\x00\x00"} {
		h := appendHeader(nil, version)
		if !bytes.Equal(h[:12], []byte(want)) {
			t.Fatalf("version %d header starts % x, want % x", version, h[:12], want)
		}
		if got, sum := binary.LittleEndian.Uint32(h[12:]), crc32.Checksum([]byte(want), crc32.MakeTable(crc32.Castagnoli)); got != sum {
			t.Fatalf("version %d header crc %#x, want %#x", version, got, sum)
		}
		if v, reason := parseHeader(h); v != version || reason != "" {
			t.Fatalf("parseHeader of a version %d header = %d, %q", version, v, reason)
		}
	}
	f := appendFrame(nil, []byte("abc"))
	if got := binary.LittleEndian.Uint32(f); got != 3 {
		t.Fatalf("frame length %d, want 3", got)
	}
	sum := crc32.Checksum([]byte("\x03\x00\x00\x00abc"), crc32.MakeTable(crc32.Castagnoli))
	if got := binary.LittleEndian.Uint32(f[4:]); got != sum {
		t.Fatalf("frame crc %#x, want %#x (crc of length bytes and payload)", got, sum)
	}
}

func TestRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB, more than one read chunk
	tests := []struct {
		name     string
		payloads [][]byte
	}{
		{"empty", nil},
		{"one", [][]byte{[]byte("x")}},
		{"many", testPayloads("ev", 500)},
		{"big frames", [][]byte{big, []byte("small"), big}},
	}
	for _, tt := range tests {
		for _, mode := range []SyncMode{SyncAlways, SyncInterval, SyncNone} {
			t.Run(tt.name+"/"+mode.String(), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "j.dat")
				j, got := openT(t, path, Options{Sync: mode})
				if len(got) != 0 || !j.Recovery().Created {
					t.Fatalf("new journal: %d payloads, recovery %+v", len(got), j.Recovery())
				}
				var offs []int64
				want := int64(HeaderSize)
				for _, p := range tt.payloads {
					off, err := j.Append(p)
					if err != nil {
						t.Fatal(err)
					}
					if off != want {
						t.Fatalf("Append offset %d, want %d", off, want)
					}
					offs = append(offs, off)
					want += FrameHeaderSize + int64(len(p))
				}
				if j.Size() != want {
					t.Fatalf("Size %d, want %d", j.Size(), want)
				}
				if err := j.Close(); err != nil {
					t.Fatal(err)
				}
				if fileSize(t, path) != want {
					t.Fatalf("file is %d bytes, want %d", fileSize(t, path), want)
				}

				var gotOffs []int64
				var gotPayloads [][]byte
				j, err := Open(path, Options{}, func(_ int, off int64, p []byte) error {
					gotOffs = append(gotOffs, off)
					gotPayloads = append(gotPayloads, bytes.Clone(p))
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				defer j.Close()
				samePayloads(t, gotPayloads, tt.payloads)
				if fmt.Sprint(gotOffs) != fmt.Sprint(offs) {
					t.Fatalf("offsets %v, want %v", gotOffs, offs)
				}
				rec := j.Recovery()
				if rec != (Recovery{Frames: int64(len(tt.payloads)), Bytes: want, Version: Version}) {
					t.Fatalf("Recovery %+v", rec)
				}
				samePayloads(t, readFile(t, path), tt.payloads)
			})
		}
	}
}

func TestAppendBatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.dat")
	j, _ := openT(t, path, Options{})
	appendT(t, j, [][]byte{[]byte("first")})
	batch := testPayloads("b", 10)
	off, err := j.AppendBatch(batch)
	if err != nil {
		t.Fatal(err)
	}
	if off != HeaderSize+FrameHeaderSize+5 {
		t.Fatalf("batch offset %d", off)
	}
	// All or nothing: one bad payload rejects the whole batch.
	if _, err := j.AppendBatch([][]byte{[]byte("ok"), nil}); !errors.Is(err, ErrPayloadSize) {
		t.Fatalf("batch with an empty payload: %v", err)
	}
	if _, err := j.AppendBatch(nil); err != nil {
		t.Fatal(err)
	}
	if st := j.Stats(); st.Appends != 2 || st.Frames != 11 || st.Syncs != 2 {
		t.Fatalf("Stats %+v, want 2 appends, 11 frames, 2 syncs", st)
	}
	j.Close()
	got, _ := readAllT(t, path)
	samePayloads(t, got, append([][]byte{[]byte("first")}, batch...))
}

func TestPayloadSize(t *testing.T) {
	j, _ := openT(t, filepath.Join(t.TempDir(), "j.dat"), Options{})
	defer j.Close()
	for _, n := range []int{0, MaxFrameSize + 1} {
		if _, err := j.Append(make([]byte, n)); !errors.Is(err, ErrPayloadSize) {
			t.Errorf("Append of %d bytes: %v, want ErrPayloadSize", n, err)
		}
	}
	if j.Err() != nil {
		t.Fatalf("a rejected payload made the journal read-only: %v", j.Err())
	}
	if _, err := j.Append(make([]byte, MaxFrameSize)); err != nil {
		t.Fatalf("Append of MaxFrameSize bytes: %v", err)
	}
}

func TestParseSyncMode(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want SyncMode
		err  bool
	}{
		{"always", SyncAlways, false},
		{"interval", SyncInterval, false},
		{"none", SyncNone, false},
		{"", 0, true},
		{"Always", 0, true},
		{"fsync", 0, true},
	} {
		got, err := ParseSyncMode(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseSyncMode(%q) = %v, %v", tt.in, got, err)
		}
		if err == nil && got.String() != tt.in {
			t.Errorf("%v.String() = %q", got, got.String())
		}
	}
	if s := SyncMode(9).String(); s != "SyncMode(9)" {
		t.Errorf("String of unknown mode: %q", s)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "j"), Options{Sync: 9}, nil); err == nil {
		t.Error("Open accepted an unknown sync mode")
	}
}

func TestSyncAlwaysSyncsEachAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.dat")
	fsys := newFaultFS("")
	var hooked []error
	j, _ := openT(t, path, Options{FS: fsys, OnSync: func(d time.Duration, err error) { hooked = append(hooked, err) }})
	appendT(t, j, testPayloads("a", 5))
	if n := fsys.Datasyncs.Load(); n != 5 {
		t.Fatalf("%d fdatasyncs for 5 appends by one writer, want 5", n)
	}
	if st := j.Stats(); st.Syncs != 5 || st.Writes != 5 || st.SyncErrors != 0 || st.SyncTime <= 0 {
		t.Fatalf("Stats %+v", st)
	}
	if len(hooked) != 5 || hooked[0] != nil {
		t.Fatalf("OnSync called %d times: %v", len(hooked), hooked)
	}
	j.Close()
}

func TestSyncInterval(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.dat")
	fsys := newFaultFS("")
	j, _ := openT(t, path, Options{FS: fsys, Sync: SyncInterval, SyncInterval: 20 * time.Millisecond})
	fsys.Datasyncs.Store(0)
	appendT(t, j, testPayloads("a", 3))
	// Written at once, synced later.
	if got := fileSize(t, path); got != j.Size() {
		t.Fatalf("file is %d bytes after Append, want %d: Append must return after the write", got, j.Size())
	}
	waitFor(t, "the interval fdatasync", func() bool { return j.Stats().Syncs >= 1 })
	// Nothing new: no more syncs.
	n := j.Stats().Syncs
	time.Sleep(60 * time.Millisecond)
	if j.Stats().Syncs != n {
		t.Fatalf("idle journal kept syncing: %d -> %d", n, j.Stats().Syncs)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := readAllT(t, path)
	samePayloads(t, got, testPayloads("a", 3))
}

func TestSyncNone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.dat")
	fsys := newFaultFS("")
	j, _ := openT(t, path, Options{FS: fsys, Sync: SyncNone, SyncInterval: time.Hour})
	fsys.Datasyncs.Store(0)
	small := testPayloads("a", 3)
	appendT(t, j, small)
	if got := fileSize(t, path); got != HeaderSize {
		t.Fatalf("file is %d bytes: SyncNone should gather small frames in memory", got)
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	if fsys.Datasyncs.Load() != 1 || fileSize(t, path) != j.Size() {
		t.Fatalf("after Sync: %d fdatasyncs, file %d bytes, Size %d", fsys.Datasyncs.Load(), fileSize(t, path), j.Size())
	}
	samePayloads(t, readFile(t, path), small)

	// A full chunk is written without waiting for Sync, but not synced.
	bulk := testPayloads("bulk", 3000)
	appendT(t, j, bulk)
	if got := fileSize(t, path); got < noneChunk {
		t.Fatalf("file is %d bytes after %d bytes of appends", got, j.Size())
	}
	if fsys.Datasyncs.Load() != 1 {
		t.Fatalf("SyncNone synced on its own")
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if fsys.Datasyncs.Load() != 2 {
		t.Fatalf("Close did not sync")
	}
	got, _ := readAllT(t, path)
	samePayloads(t, got, append(small, bulk...))
}

func TestSyncNoneWritesWithinInterval(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.dat")
	j, _ := openT(t, path, Options{Sync: SyncNone, SyncInterval: 10 * time.Millisecond})
	defer j.Close()
	appendT(t, j, testPayloads("a", 2))
	waitFor(t, "the background write", func() bool { return fileSize(t, path) == j.Size() })
	if s := j.Stats(); s.Syncs != 0 {
		t.Fatalf("SyncNone fdatasync'd in the background: %+v", s)
	}
}

func TestGroupCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.dat")
	fsys := newFaultFS("")
	// A slow disk makes the batching certain rather than likely.
	fsys.Set(func(f *testkit.Faults) { f.DatasyncDelay = 2 * time.Millisecond })
	j, _ := openT(t, path, Options{FS: fsys})
	fsys.Datasyncs.Store(0)
	const writers, each = 64, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for _, p := range testPayloads(fmt.Sprintf("w%02d", w), each) {
				if _, err := j.Append(p); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	st := j.Stats()
	syncs := fsys.Datasyncs.Load()
	t.Logf("%d appends, %d writes, %d fdatasyncs", st.Appends, st.Writes, syncs)
	if st.Appends != writers*each || st.Syncs != syncs {
		t.Fatalf("Stats %+v, FS saw %d fdatasyncs", st, syncs)
	}
	if syncs*8 > writers*each {
		t.Fatalf("%d fdatasyncs for %d appends: group commit is not batching", syncs, writers*each)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := readAllT(t, path)
	// Each writer's frames are all there, in its order.
	next := map[string]int{}
	for _, p := range got {
		w := string(p[:3])
		if want := testPayloads(w, each)[next[w]]; !bytes.Equal(p, want) {
			t.Fatalf("got %q, want %q", p, want)
		}
		next[w]++
	}
	if len(got) != writers*each {
		t.Fatalf("%d frames after reopen, want %d", len(got), writers*each)
	}
}

func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.dat")
	j, _ := openT(t, path, Options{})
	_, err := Open(path, Options{}, nil)
	want := "journal " + path + ": in use by another process"
	if !errors.Is(err, ErrLocked) || err.Error() != want {
		t.Fatalf("second Open: %v; want %q matching ErrLocked", err, want)
	}
	if _, err := Repair(path, Options{}); !errors.Is(err, ErrLocked) || err.Error() != want {
		t.Fatalf("Repair of an open journal: %v; want %q matching ErrLocked", err, want)
	}
	// Verify needs no lock.
	if r, err := Verify(path, Options{}); err != nil || !r.OK() {
		t.Fatalf("Verify of an open journal: %+v, %v", r, err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j, _ = openT(t, path, Options{})
	j.Close()
}

func TestPermissions(t *testing.T) {
	top := t.TempDir()
	path := filepath.Join(top, "a", "b", "j.dat")
	j, _ := openT(t, path, Options{})
	defer j.Close()
	for _, tt := range []struct {
		path string
		want os.FileMode
	}{
		{filepath.Join(top, "a"), os.ModeDir | 0o700},
		{filepath.Join(top, "a", "b"), os.ModeDir | 0o700},
		{path, 0o600},
		{path + ".lock", 0o600},
	} {
		fi, err := os.Stat(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != tt.want {
			t.Errorf("%s has mode %v, want %v", tt.path, fi.Mode(), tt.want)
		}
	}
}

func TestClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.dat")
	j, _ := openT(t, path, Options{Sync: SyncNone})
	appendT(t, j, testPayloads("a", 2))
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"Close":        j.Close,
		"Sync":         j.Sync,
		"Append":       func() error { _, err := j.Append([]byte("x")); return err },
		"BeginRewrite": func() error { _, err := j.BeginRewrite(); return err },
	} {
		if err := call(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	got, _ := readAllT(t, path)
	samePayloads(t, got, testPayloads("a", 2))
}

func TestVisitError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.dat")
	b, offs := buildFile(testPayloads("a", 3)...)
	os.WriteFile(path, b, 0o600)
	stop := errors.New("bad event")
	_, err := Open(path, Options{}, func(_ int, off int64, p []byte) error {
		if off == offs[1] {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || !strings.Contains(err.Error(), fmt.Sprintf("offset %d", offs[1])) {
		t.Fatalf("Open: %v", err)
	}
	// The lock was released.
	j, _ := openT(t, path, Options{})
	j.Close()
}

// TestGroupCommitGathersTheReleasedWriters checks that a group carries
// nearly every writer, not half of them: after a flush releases its
// appenders, the next leader gives them a moment to queue again.
func TestGroupCommitGathersTheReleasedWriters(t *testing.T) {
	j, err := Open(filepath.Join(t.TempDir(), "j"), Options{FS: testkit.NewFaultFS[File](osFS{}, testkit.Faults{DatasyncDelay: 2 * time.Millisecond})}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	const writers, rounds = 16, 30
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				if _, err := j.Append([]byte("cookie event")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	st := j.Stats()
	perSync := float64(st.Appends) / float64(st.Syncs)
	t.Logf("%.1f appends per fdatasync", perSync)
	if perSync < 0.6*writers {
		t.Fatalf("%.1f appends per fdatasync with %d writers; groups are not gathering", perSync, writers)
	}
}
