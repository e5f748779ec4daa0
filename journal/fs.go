package journal

import (
	"io"
	"io/fs"
	"os"
)

// FS is the file system a journal works on: exactly the calls it makes, so
// that tests can inject faults (a full disk, a failing fdatasync, a short
// write, a read error). Options.FS == nil means the operating system.
type FS interface {
	// OpenFile opens name with os.OpenFile's flags and permission bits.
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	// Rename atomically replaces newpath with oldpath.
	Rename(oldpath, newpath string) error
	// Remove deletes a file.
	Remove(name string) error
	// MkdirAll creates dir and any missing parents with mode perm.
	MkdirAll(dir string, perm fs.FileMode) error
	// ReadDirNames lists the names of the entries of dir.
	ReadDirNames(dir string) ([]string, error)
	// SyncDir makes the entries of dir (creations, renames) durable.
	SyncDir(dir string) error
	// Lock takes an exclusive lock on the file name, creating it with mode
	// 0600, without waiting. If another holder has it, the error wraps
	// ErrLocked. Closing the returned io.Closer releases the lock.
	Lock(name string) (io.Closer, error)
}

// File is an open file of an FS. The journal addresses it only by offset.
type File interface {
	io.ReaderAt
	// WriteAt writes all of p at off, or returns an error (io.WriterAt).
	io.WriterAt
	// Datasync flushes the file's data, and the metadata needed to read it
	// back, to stable storage (fdatasync).
	Datasync() error
	// Sync flushes the file's data and all its metadata (fsync).
	Sync() error
	// Truncate changes the file's size.
	Truncate(size int64) error
	// Size returns the file's current size.
	Size() (int64, error)
	// Close closes the file.
	Close() error
}

// osFS is the FS of the operating system.
type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) Rename(oldpath, newpath string) error        { return os.Rename(oldpath, newpath) }
func (osFS) Remove(name string) error                    { return os.Remove(name) }
func (osFS) MkdirAll(dir string, perm fs.FileMode) error { return os.MkdirAll(dir, perm) }

func (osFS) ReadDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func (osFS) Lock(name string) (io.Closer, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := flock(f); err != nil {
		f.Close()
		return nil, err
	}
	// Closing the descriptor releases the lock.
	return f, nil
}

type osFile struct{ *os.File }

func (f osFile) Datasync() error { return datasync(f.File) }

func (f osFile) Size() (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
