package testkit

import (
	"io"
	"io/fs"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// File is the file a journal writes through: journal.File, restated here
// so that this package need not import journal, whose own tests use it.
type File interface {
	io.ReaderAt
	io.WriterAt
	Datasync() error
	Sync() error
	Truncate(size int64) error
	Size() (int64, error)
	Close() error
}

// FS is journal.FS with its file type as a parameter: journal.OSFS(), or the
// journal's own osFS in its tests, is an FS[journal.File].
type FS[F File] interface {
	OpenFile(name string, flag int, perm fs.FileMode) (F, error)
	Rename(oldpath, newpath string) error
	Remove(name string) error
	MkdirAll(dir string, perm fs.FileMode) error
	ReadDirNames(dir string) ([]string, error)
	SyncDir(dir string) error
	Lock(name string) (io.Closer, error)
}

// Faults are what a FaultFS does wrong, named by the operation they hit.
// The zero value injects nothing. File operations are hit only on files
// whose base name is Target ("" is every file).
type Faults struct {
	Target string
	// Write, if set, is asked about each write: it returns how many bytes
	// really reach the file and the error to report, which the write
	// returns inside an *fs.PathError, as the OS does.
	Write func(off int64, n int) (int, error)
	// ReadFailAt makes reads of bytes at or past this offset fail with
	// EIO; 0 is never.
	ReadFailAt int64
	// DatasyncDelay is slept before each fdatasync of any file, as a disk
	// would take; DatasyncErr is returned instead of syncing.
	DatasyncDelay time.Duration
	DatasyncErr   error
	// NoSync makes Datasync, Sync and SyncDir return at once without
	// syncing: for fuzzing what Open makes of the bytes, not durability.
	NoSync bool
	// TruncateErr, RenameErr and SyncDirErr are returned instead of
	// truncating, renaming and syncing a folder.
	TruncateErr error
	RenameErr   error
	SyncDirErr  error
	// OnRename is called before and after each rename that is not
	// refused, with renamed false and then true: a crash test reports the
	// steps of a compaction through it.
	OnRename func(oldpath, newpath string, renamed bool)
}

// FaultFS is a file system with faults injected, one type for every test
// of the journal and what stands on it, as pebble's vfs/errorfs serves its
// engine. Its counters count every file's operations, hit or not.
type FaultFS[F File] struct {
	inner     FS[F]
	Datasyncs atomic.Int64
	Writes    atomic.Int64

	mu     sync.Mutex
	faults Faults
}

// NewFaultFS returns inner with faults injected.
func NewFaultFS[F File](inner FS[F], faults Faults) *FaultFS[F] {
	return &FaultFS[F]{inner: inner, faults: faults}
}

// Set changes the faults, for every file already open too.
func (f *FaultFS[F]) Set(change func(*Faults)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(&f.faults)
}

func (f *FaultFS[F]) get() Faults {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.faults
}

// OpenFile opens name on the inner file system, with the faults on top.
func (f *FaultFS[F]) OpenFile(name string, flag int, perm fs.FileMode) (F, error) {
	file, err := f.inner.OpenFile(name, flag, perm)
	if err != nil {
		var zero F
		return zero, err
	}
	// F is an interface type (journal.File), which *faultFile implements.
	return any(&faultFile[F]{f: file, fs: f, name: filepath.Base(name)}).(F), nil
}

// Rename renames oldpath to newpath unless RenameErr says otherwise.
func (f *FaultFS[F]) Rename(oldpath, newpath string) error {
	ff := f.get()
	if ff.RenameErr != nil {
		return ff.RenameErr
	}
	if ff.OnRename != nil {
		ff.OnRename(oldpath, newpath, false)
	}
	if err := f.inner.Rename(oldpath, newpath); err != nil {
		return err
	}
	if ff.OnRename != nil {
		ff.OnRename(oldpath, newpath, true)
	}
	return nil
}

// Remove removes name.
func (f *FaultFS[F]) Remove(name string) error { return f.inner.Remove(name) }

// MkdirAll creates dir.
func (f *FaultFS[F]) MkdirAll(dir string, perm fs.FileMode) error { return f.inner.MkdirAll(dir, perm) }

// ReadDirNames lists dir.
func (f *FaultFS[F]) ReadDirNames(dir string) ([]string, error) { return f.inner.ReadDirNames(dir) }

// Lock locks name.
func (f *FaultFS[F]) Lock(name string) (io.Closer, error) { return f.inner.Lock(name) }

// SyncDir syncs dir unless SyncDirErr or NoSync say otherwise.
func (f *FaultFS[F]) SyncDir(dir string) error {
	switch ff := f.get(); {
	case ff.SyncDirErr != nil:
		return ff.SyncDirErr
	case ff.NoSync:
		return nil
	}
	return f.inner.SyncDir(dir)
}

type faultFile[F File] struct {
	f    F
	fs   *FaultFS[F]
	name string
}

// faults returns the faults that hit this file now.
func (f *faultFile[F]) faults() (Faults, bool) {
	ff := f.fs.get()
	return ff, ff.Target == "" || ff.Target == f.name
}

func (f *faultFile[F]) WriteAt(p []byte, off int64) (int, error) {
	f.fs.Writes.Add(1)
	if ff, hit := f.faults(); hit && ff.Write != nil {
		n, ferr := ff.Write(off, len(p))
		if n > 0 {
			if _, err := f.f.WriteAt(p[:n], off); err != nil {
				return 0, err
			}
		}
		if ferr != nil {
			return n, &fs.PathError{Op: "write", Path: f.name, Err: ferr} // as the OS reports it
		}
		if n < len(p) {
			return n, nil // a short write without an error, which the journal must catch
		}
	}
	return f.f.WriteAt(p, off)
}

func (f *faultFile[F]) ReadAt(p []byte, off int64) (int, error) {
	if ff, hit := f.faults(); hit && ff.ReadFailAt > 0 && off+int64(len(p)) > ff.ReadFailAt {
		n := 0
		if ff.ReadFailAt > off {
			n, _ = f.f.ReadAt(p[:ff.ReadFailAt-off], off)
		}
		return n, &fs.PathError{Op: "read", Path: f.name, Err: syscall.EIO}
	}
	return f.f.ReadAt(p, off)
}

func (f *faultFile[F]) Datasync() error {
	f.fs.Datasyncs.Add(1)
	ff, hit := f.faults()
	time.Sleep(ff.DatasyncDelay)
	switch {
	case hit && ff.DatasyncErr != nil:
		return ff.DatasyncErr
	case ff.NoSync:
		return nil
	}
	return f.f.Datasync()
}

func (f *faultFile[F]) Sync() error {
	if ff, _ := f.faults(); ff.NoSync {
		return nil
	}
	return f.f.Sync()
}

func (f *faultFile[F]) Truncate(size int64) error {
	if ff, hit := f.faults(); hit && ff.TruncateErr != nil {
		return ff.TruncateErr
	}
	return f.f.Truncate(size)
}

func (f *faultFile[F]) Size() (int64, error) { return f.f.Size() }
func (f *faultFile[F]) Close() error         { return f.f.Close() }
