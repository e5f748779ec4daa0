package journal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"cookiestore/internal/testkit"
)

func tempFiles(t *testing.T, path string) []string {
	t.Helper()
	m, err := filepath.Glob(path + ".compact-*")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRewriteCommitWithConcurrentAppends compacts while writers append
// before, during and after the commit: nothing appended may be lost or
// doubled, and each writer's frames keep their order.
func TestRewriteCommitWithConcurrentAppends(t *testing.T) {
	for _, mode := range []SyncMode{SyncAlways, SyncInterval, SyncNone} {
		t.Run(mode.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j.dat")
			j, _ := openT(t, path, Options{Sync: mode})
			old := testPayloads("old", 100)
			appendT(t, j, old)

			rw := beginRewriteT(t, j)
			defer rw.Abort()
			const writers, each = 4, 60
			var appended atomic.Int64
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for _, p := range testPayloads(fmt.Sprintf("w%d", w), each) {
						if _, err := j.Append(p); err != nil {
							t.Error(err)
							return
						}
						appended.Add(1)
					}
				})
			}
			var compacted [][]byte
			for i := 0; i < len(old); i += 2 {
				compacted = append(compacted, old[i])
				if err := rw.Append(old[i]); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, "appends during the rewrite", func() bool { return appended.Load() >= writers*each/3 })
			oldSize, newSize, err := rw.Commit()
			if err != nil {
				t.Fatal(err)
			}
			if newSize >= oldSize || newSize > j.Size() {
				t.Fatalf("Commit: old %d, new %d bytes; Size %d", oldSize, newSize, j.Size())
			}
			wg.Wait()
			if tmp := tempFiles(t, path); len(tmp) != 0 {
				t.Fatalf("temporary files left: %v", tmp)
			}
			if err := j.Sync(); err != nil {
				t.Fatal(err)
			}
			size := j.Size()
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			// Only once closed: open, a sync=always journal has
			// unwritten space after its frames.
			if fileSize(t, path) != size {
				t.Fatalf("file is %d bytes, Size said %d", fileSize(t, path), size)
			}

			got, _ := readAllT(t, path)
			samePayloads(t, got[:len(compacted)], compacted)
			next := map[string]int{}
			for _, p := range got[len(compacted):] {
				w := string(p[:2])
				if want := testPayloads(w, each); next[w] >= each || !bytes.Equal(p, want[next[w]]) {
					t.Fatalf("unexpected frame %q after the compacted part", p)
				}
				next[w]++
			}
			if len(got) != len(compacted)+writers*each {
				t.Fatalf("%d frames, want %d", len(got), len(compacted)+writers*each)
			}
		})
	}
}

// TestRewriteFromBufferedFrames begins a rewrite while SyncNone still holds
// frames in memory: those are part of the snapshot and must not be copied
// again, while the ones after must be.
func TestRewriteFromBufferedFrames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.dat")
	j, _ := openT(t, path, Options{Sync: SyncNone})
	appendT(t, j, testPayloads("before", 5))
	rw := beginRewriteT(t, j)
	rw.Append([]byte("snapshot"))
	after := testPayloads("after", 3)
	appendT(t, j, after)
	_, newSize, err := rw.Commit()
	if err != nil {
		t.Fatal(err)
	}
	more := testPayloads("more", 2)
	// Offsets now count in the new file.
	if off, err := j.Append(more[0]); err != nil || off != newSize {
		t.Fatalf("Append after Commit: offset %d, %v; want %d", off, err, newSize)
	}
	appendT(t, j, more[1:])
	j.Close()
	got, _ := readAllT(t, path)
	want := append(append([][]byte{[]byte("snapshot")}, after...), more...)
	samePayloads(t, got, want)
}

func TestRewriteAbort(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.dat")
	j, _ := openT(t, path, Options{})
	appendT(t, j, testPayloads("a", 3))
	rw := beginRewriteT(t, j)
	if tmp := tempFiles(t, path); len(tmp) != 1 {
		t.Fatalf("temporary files %v, want one", tmp)
	}
	if fi, _ := os.Stat(tempFiles(t, path)[0]); fi.Mode() != 0o600 {
		t.Fatalf("temporary file mode %v", fi.Mode())
	}
	if _, err := j.BeginRewrite(); err == nil || !strings.Contains(err.Error(), "already in progress") {
		t.Fatalf("second BeginRewrite: %v", err)
	}
	rw.Append([]byte("x"))
	if err := rw.Abort(); err != nil {
		t.Fatal(err)
	}
	if tmp := tempFiles(t, path); len(tmp) != 0 {
		t.Fatalf("Abort left %v", tmp)
	}
	if err := rw.Append([]byte("y")); !errors.Is(err, errRewriteDone) {
		t.Fatalf("Append after Abort: %v", err)
	}
	if _, _, err := rw.Commit(); !errors.Is(err, errRewriteDone) {
		t.Fatalf("Commit after Abort: %v", err)
	}
	appendT(t, j, testPayloads("b", 2))

	// A new rewrite may start; Abort after Commit does nothing.
	rw = beginRewriteT(t, j)
	rw.Append([]byte("only"))
	if _, _, err := rw.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := rw.Abort(); err != nil {
		t.Fatal(err)
	}
	j.Close()
	got, _ := readAllT(t, path)
	samePayloads(t, got, [][]byte{[]byte("only")})
}

func TestCloseAbortsRewrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.dat")
	j, _ := openT(t, path, Options{})
	appendT(t, j, testPayloads("a", 3))
	rw := beginRewriteT(t, j)
	rw.Append([]byte("x"))
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if tmp := tempFiles(t, path); len(tmp) != 0 {
		t.Fatalf("Close left %v", tmp)
	}
	if _, _, err := rw.Commit(); err == nil {
		t.Fatal("Commit after Close succeeded")
	}
	got, _ := readAllT(t, path)
	samePayloads(t, got, testPayloads("a", 3))
}

func TestLeftoverTempFilesRemoved(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "j.dat")
	j, _ := openT(t, path, Options{})
	j.Close()
	for _, name := range []string{"j.dat.compact-0123456789abcdef", "j.dat.compact-", "j.dat.compact-x.y", "other.dat.compact-01", "j.dat.compactX", "j.dat.bak"} {
		os.WriteFile(filepath.Join(dir, name), []byte("junk"), 0o600)
	}
	j, _ = openT(t, path, Options{})
	j.Close()
	var left []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	want := "[j.dat j.dat.bak j.dat.compactX j.dat.lock other.dat.compact-01]"
	if fmt.Sprint(left) != want {
		t.Fatalf("folder holds %v, want %s", left, want)
	}
}

func TestCommitRenameFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.dat")
	fsys := newFaultFS("")
	j, _ := openT(t, path, Options{FS: fsys})
	appendT(t, j, testPayloads("a", 3))
	rw := beginRewriteT(t, j)
	rw.Append([]byte("compacted"))
	appendT(t, j, testPayloads("b", 2))
	fsys.Set(func(f *testkit.Faults) { f.RenameErr = os.ErrPermission })
	if _, _, err := rw.Commit(); !errors.Is(err, os.ErrPermission) {
		t.Fatalf("Commit: %v", err)
	}
	if tmp := tempFiles(t, path); len(tmp) != 0 {
		t.Fatalf("failed Commit left %v", tmp)
	}
	// The journal goes on with the old file.
	if j.Err() != nil {
		t.Fatalf("a failed rename made the journal read-only: %v", j.Err())
	}
	appendT(t, j, testPayloads("c", 2))
	j.Close()
	got, _ := readAllT(t, path)
	want := append(append(testPayloads("a", 3), testPayloads("b", 2)...), testPayloads("c", 2)...)
	samePayloads(t, got, want)
}

func TestCommitDirSyncFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.dat")
	fsys := newFaultFS("")
	j, _ := openT(t, path, Options{FS: fsys})
	appendT(t, j, testPayloads("a", 3))
	rw, _ := j.BeginRewrite()
	rw.Append([]byte("compacted"))
	fsys.Set(func(f *testkit.Faults) { f.SyncDirErr = os.ErrInvalid })
	if _, _, err := rw.Commit(); !errors.Is(err, os.ErrInvalid) {
		t.Fatalf("Commit: %v", err)
	}
	if _, err := j.Append([]byte("x")); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Append after an unsynced rename: %v", err)
	}
	j.Close()
	got, _ := readAllT(t, path)
	samePayloads(t, got, [][]byte{[]byte("compacted")})
}
