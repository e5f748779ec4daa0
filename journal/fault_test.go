package journal

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"cookiestore/internal/testkit"
)

// TestWriteFailure fails the write of one batch in several ways. The
// append must fail, the journal must turn read-only, and the file must
// hold no part of the failed batch when it is opened again.
func TestWriteFailure(t *testing.T) {
	tests := []struct {
		name       string
		mode       SyncMode
		fault      func(off int64, n int) (int, error)
		truncErr   error
		wantErr    error
		wantTorn   bool // the cut-back fails too: the next Open drops a torn tail
		wantAppend bool // the failing call is Append (not Sync)
	}{
		{name: "ENOSPC", fault: func(_ int64, n int) (int, error) { return n / 2, syscall.ENOSPC }, wantErr: syscall.ENOSPC, wantAppend: true},
		{name: "ENOSPC nothing written", fault: func(int64, int) (int, error) { return 0, syscall.ENOSPC }, wantErr: syscall.ENOSPC, wantAppend: true},
		{name: "short write without error", fault: func(_ int64, n int) (int, error) { return n - 3, nil }, wantErr: io.ErrShortWrite, wantAppend: true},
		{name: "ENOSPC and truncate fails", fault: func(_ int64, n int) (int, error) { return n / 2, syscall.ENOSPC },
			truncErr: syscall.EIO, wantErr: syscall.ENOSPC, wantTorn: true, wantAppend: true},
		{name: "interval", mode: SyncInterval, fault: func(_ int64, n int) (int, error) { return n / 2, syscall.ENOSPC }, wantErr: syscall.ENOSPC, wantAppend: true},
		{name: "none", mode: SyncNone, fault: func(_ int64, n int) (int, error) { return n / 2, syscall.ENOSPC }, wantErr: syscall.ENOSPC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j.dat")
			fsys := newFaultFS("j.dat")
			j, _ := openT(t, path, Options{FS: fsys, Sync: tt.mode})
			good := testPayloads("good", 3)
			appendT(t, j, good)
			if err := j.Sync(); err != nil {
				t.Fatal(err)
			}
			fsys.Set(func(f *testkit.Faults) { f.Write, f.TruncateErr = tt.fault, tt.truncErr })

			_, err := j.Append([]byte("this frame does not fit"))
			if !tt.wantAppend {
				if err != nil {
					t.Fatalf("buffered Append: %v", err)
				}
				err = j.Sync()
			}
			if !errors.Is(err, tt.wantErr) || !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), path) {
				t.Fatalf("failed write: %v; want %v and ErrReadOnly, naming the file", err, tt.wantErr)
			}
			fsys.Set(func(f *testkit.Faults) { f.Write = nil })
			if _, err := j.Append([]byte("later")); !errors.Is(err, ErrReadOnly) || !errors.Is(err, tt.wantErr) {
				t.Fatalf("Append after a failed write: %v", err)
			}
			if !errors.Is(j.Err(), ErrReadOnly) {
				t.Fatalf("Err() = %v", j.Err())
			}
			if err := j.Close(); !errors.Is(err, ErrReadOnly) {
				t.Fatalf("Close: %v, want the read-only error", err)
			}

			got, rec := readAllT(t, path)
			samePayloads(t, got, good)
			if (rec.DroppedBytes > 0) != tt.wantTorn {
				t.Fatalf("reopen: Recovery %+v, torn tail expected: %v", rec, tt.wantTorn)
			}
		})
	}
}

// TestSyncFailureIsFinal fails an fdatasync: the journal must turn
// read-only and never try to sync again.
func TestSyncFailureIsFinal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.dat")
	fsys := newFaultFS("j.dat")
	var hooked []error
	j, _ := openT(t, path, Options{FS: fsys, OnSync: func(_ time.Duration, err error) { hooked = append(hooked, err) }})
	appendT(t, j, testPayloads("a", 2))
	fsys.Datasyncs.Store(0)
	fsys.Set(func(f *testkit.Faults) { f.DatasyncErr = syscall.EIO })

	_, err := j.Append([]byte("x"))
	if !errors.Is(err, ErrReadOnly) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("Append with a failing fdatasync: %v", err)
	}
	fsys.Set(func(f *testkit.Faults) { f.DatasyncErr = nil }) // a retry would now "succeed"
	for i := range 3 {
		if _, err := j.Append([]byte("y")); !errors.Is(err, ErrReadOnly) || !errors.Is(err, syscall.EIO) {
			t.Fatalf("Append %d after the failure: %v", i, err)
		}
	}
	if err := j.Sync(); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Sync after the failure: %v", err)
	}
	if _, err := j.BeginRewrite(); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("BeginRewrite after the failure: %v", err)
	}
	if err := j.Close(); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Close: %v", err)
	}
	if n := fsys.Datasyncs.Load(); n != 1 {
		t.Fatalf("%d fdatasyncs after the failure, want exactly the one that failed", n)
	}
	if st := j.Stats(); st.SyncErrors != 1 {
		t.Fatalf("Stats %+v, want 1 sync error", st)
	}
	if len(hooked) != 3 || !errors.Is(hooked[2], syscall.EIO) {
		t.Fatalf("OnSync saw %v", hooked)
	}
}

func TestReadErrorDuringOpen(t *testing.T) {
	b, offs := buildFile(testPayloads("a", 50)...)
	for _, at := range []int64{5, HeaderSize, offs[20] + 3} {
		t.Run(fmt.Sprint(at), func(t *testing.T) {
			path := writeFileT(t, b)
			fsys := newFaultFS("j.dat")
			fsys.Set(func(f *testkit.Faults) { f.ReadFailAt = at })
			_, err := Open(path, Options{FS: fsys}, nil)
			if !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), fmt.Sprintf("offset %d", at)) {
				t.Fatalf("Open: %v; want EIO naming the file and offset %d", err, at)
			}
			if _, err := Verify(path, Options{FS: fsys}); !errors.Is(err, syscall.EIO) {
				t.Fatalf("Verify: %v", err)
			}
			// The file is untouched and opens once the disk reads again.
			got, _ := readAllT(t, path)
			samePayloads(t, got, testPayloads("a", 50))
		})
	}
}
