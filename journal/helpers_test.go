package journal

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// testPayloads returns n distinct payloads of varied sizes.
func testPayloads(prefix string, n int) [][]byte {
	ps := make([][]byte, n)
	for i := range ps {
		ps[i] = []byte(fmt.Sprintf("%s-%03d-%s", prefix, i, strings.Repeat("x", i*7%50)))
	}
	return ps
}

// buildFile returns the bytes of a journal holding payloads, and the offset
// of each frame followed by the end of the file.
func buildFile(payloads ...[]byte) ([]byte, []int64) {
	b := appendHeader(nil, Version)
	offs := []int64{int64(len(b))}
	for _, p := range payloads {
		b = appendFrame(b, p)
		offs = append(offs, int64(len(b)))
	}
	return b, offs
}

// openT opens the journal at path and returns it with copies of the
// payloads Open visited.
func openT(t *testing.T, path string, opts Options) (*Journal, [][]byte) {
	t.Helper()
	j, got, err := openCollect(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return j, got
}

func openCollect(path string, opts Options) (*Journal, [][]byte, error) {
	var got [][]byte
	j, err := Open(path, opts, func(_ int, _ int64, p []byte) error {
		got = append(got, bytes.Clone(p))
		return nil
	})
	return j, got, err
}

// readAllT opens the journal at path, closes it, and returns its payloads.
func readAllT(t *testing.T, path string) ([][]byte, Recovery) {
	t.Helper()
	j, got := openT(t, path, Options{})
	rec := j.Recovery()
	if err := j.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return got, rec
}

func appendT(t *testing.T, j *Journal, payloads [][]byte) {
	t.Helper()
	for _, p := range payloads {
		if _, err := j.Append(p); err != nil {
			t.Fatalf("Append(%q): %v", p, err)
		}
	}
}

func samePayloads(t *testing.T, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d payloads, want %d\ngot:  %q\nwant: %q", len(got), len(want), got, want)
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("payload %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// waitFor polls cond for up to 5 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// faultFS is the operating system's file system with faults injected into
// the files whose base name matches target ("" matches all), and counters.
type faultFS struct {
	FS
	datasyncs atomic.Int64
	writes    atomic.Int64

	mu     sync.Mutex
	target string
	// writeFault, if set, is asked about each write: it returns how many
	// bytes really reach the file and the error to report.
	writeFault    func(off int64, n int) (int, error)
	readFailAt    int64 // reads of bytes at or past this offset fail with EIO; 0 = never
	datasyncErr   error
	datasyncDelay time.Duration
	truncateErr   error
	renameErr     error
	syncDirErr    error
}

func newFaultFS(target string) *faultFS { return &faultFS{FS: osFS{}, target: target} }

func (f *faultFS) set(fn func(f *faultFS)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *faultFS) get() faultFS {
	f.mu.Lock()
	defer f.mu.Unlock()
	return faultFS{target: f.target, writeFault: f.writeFault, readFailAt: f.readFailAt,
		datasyncErr: f.datasyncErr, datasyncDelay: f.datasyncDelay, truncateErr: f.truncateErr,
		renameErr: f.renameErr, syncDirErr: f.syncDirErr}
}

func (f *faultFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f, hit: f.target == "" || filepath.Base(name) == f.target}, nil
}

func (f *faultFS) Rename(oldpath, newpath string) error {
	if err := f.get().renameErr; err != nil {
		return err
	}
	return f.FS.Rename(oldpath, newpath)
}

func (f *faultFS) SyncDir(dir string) error {
	if err := f.get().syncDirErr; err != nil {
		return err
	}
	return f.FS.SyncDir(dir)
}

type faultFile struct {
	File
	fs  *faultFS
	hit bool // faults apply to this file
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.writes.Add(1)
	if ff := f.fs.get(); f.hit && ff.writeFault != nil {
		n, ferr := ff.writeFault(off, len(p))
		if n > 0 {
			if _, err := f.File.WriteAt(p[:n], off); err != nil {
				return 0, err
			}
		}
		if n < len(p) || ferr != nil {
			return n, ferr
		}
	}
	return f.File.WriteAt(p, off)
}

func (f *faultFile) ReadAt(p []byte, off int64) (int, error) {
	if at := f.fs.get().readFailAt; f.hit && at > 0 && off+int64(len(p)) > at {
		n := 0
		if at > off {
			n, _ = f.File.ReadAt(p[:at-off], off)
		}
		return n, &fs.PathError{Op: "read", Path: "journal", Err: syscall.EIO}
	}
	return f.File.ReadAt(p, off)
}

func (f *faultFile) Datasync() error {
	f.fs.datasyncs.Add(1)
	ff := f.fs.get()
	time.Sleep(ff.datasyncDelay)
	if f.hit && ff.datasyncErr != nil {
		return ff.datasyncErr
	}
	return f.File.Datasync()
}

func (f *faultFile) Truncate(size int64) error {
	if err := f.fs.get().truncateErr; f.hit && err != nil {
		return err
	}
	return f.File.Truncate(size)
}

// readFile reads a journal through Reader.
func readFile(t *testing.T, path string) [][]byte {
	t.Helper()
	fd, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	r, err := NewReader(fd)
	if err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	for {
		_, p, err := r.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatalf("Reader.Next: %v", err)
		}
		got = append(got, bytes.Clone(p))
	}
}
