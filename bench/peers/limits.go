package peers

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"cookiestore/bench"
)

// Ahead says what a file holds past the records FdatasyncRate writes.
type Ahead int

const (
	// Growing: nothing; every record extends the file.
	Growing Ahead = iota
	// Fallocated: blocks allocated 4 MiB ahead of the writes (fallocate
	// with FALLOC_FL_KEEP_SIZE, as pebble does for its log), so that a
	// sync need not allocate them. Linux only.
	Fallocated
	// Zeroed: zeros written and synced 4 MiB ahead, a page at a time, as
	// cookiestore's journal writes its unwritten space in sync=always
	// (bench.WriteZerosAhead; the journal extends it journal.UnwrittenChunk
	// at a time): a record overwrites blocks the file already has, within
	// its size.
	Zeroed
)

// FdatasyncRate writes 100-byte records one after another to a fresh file
// in dir, each followed by an fdatasync, n times or until limit has passed,
// and returns the rate in syncs per second: the ceiling of any store that
// makes each event durable before it returns to a single writer. ahead says
// what lies past the records.
func FdatasyncRate(dir string, n int, limit time.Duration, ahead Ahead) (float64, error) {
	f, err := os.CreateTemp(dir, "fdatasync-*")
	if err != nil {
		return 0, fmt.Errorf("fdatasync rate: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	rec := make([]byte, 100)
	var off, allocated int64
	write := func() error {
		if ahead != Growing && off+int64(len(rec)) > allocated {
			if err := extend(f, ahead, allocated, 4<<20); err != nil {
				return err
			}
			allocated += 4 << 20
		}
		_, err := f.WriteAt(rec, off)
		off += int64(len(rec))
		return err
	}
	// Warm up: allocate the file's first blocks, so that the measured syncs
	// are the steady state of an append-only file.
	for range 10 {
		if err := write(); err != nil {
			return 0, fmt.Errorf("fdatasync rate: %w", err)
		}
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			return 0, fmt.Errorf("fdatasync rate: %w", err)
		}
	}
	start := time.Now()
	done := 0
	for done < n && (done == 0 || time.Since(start) < limit) {
		if err := write(); err != nil {
			return 0, fmt.Errorf("fdatasync rate: %w", err)
		}
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			return 0, fmt.Errorf("fdatasync rate: %w", err)
		}
		done++
	}
	return float64(done) / time.Since(start).Seconds(), nil
}

// extend makes room for n bytes at off in f, as ahead says.
func extend(f *os.File, ahead Ahead, off, n int64) error {
	if ahead == Fallocated {
		return preallocate(f.Fd(), off, n)
	}
	return bench.WriteZerosAhead(f, off, n)
}

// SeqWrite writes size bytes to a fresh file in dir in 1 MiB writes followed
// by one fdatasync, and returns the rate in bytes per second, the sync
// included. The file is left in place (and in the page cache) for SeqRead;
// the caller removes it.
func SeqWrite(dir string, size int64) (path string, rate float64, err error) {
	f, err := os.CreateTemp(dir, "seq-*")
	if err != nil {
		return "", 0, fmt.Errorf("sequential write: %w", err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i*7 + i>>8) // not zeros: no file system may shortcut them
	}
	start := time.Now()
	for left := size; left > 0; left -= int64(len(buf)) {
		if _, err := f.Write(buf[:min(int64(len(buf)), left)]); err != nil {
			os.Remove(f.Name())
			return "", 0, fmt.Errorf("sequential write: %w", err)
		}
	}
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		os.Remove(f.Name())
		return "", 0, fmt.Errorf("sequential write: %w", err)
	}
	return f.Name(), float64(size) / time.Since(start).Seconds(), nil
}

// SeqRead reads the file at path in 1 MiB reads and returns the rate in
// bytes per second. Read right after SeqWrite, the file is in the page
// cache: the ceiling of an open that replays a journal the system has
// cached.
func SeqRead(path string) (float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("sequential read: %w", err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	var total int64
	start := time.Now()
	for {
		n, err := f.Read(buf)
		total += int64(n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("sequential read: %w", err)
		}
	}
	return float64(total) / time.Since(start).Seconds(), nil
}

// FSType names the file system that holds dir, from statfs.
func FSType(dir string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "unknown"
	}
	names := map[int64]string{
		0xef53:     "ext4",
		0x58465342: "xfs",
		0x9123683e: "btrfs",
		0x01021994: "tmpfs",
		0x794c7630: "overlayfs",
		0x2fc12fc1: "zfs",
		0xf2f52010: "f2fs",
		0x6969:     "nfs",
		0x01021997: "9p",
		0x65735546: "fuse",
		0x5346544e: "ntfs",
		0x4d44:     "vfat",
	}
	magic := int64(st.Type) & 0xffffffff
	if name, ok := names[magic]; ok {
		return fmt.Sprintf("%s (statfs type 0x%x)", name, magic)
	}
	return fmt.Sprintf("statfs type 0x%x", magic)
}

// DiskUsage returns the bytes allocated on disk to the files under dir, and
// their apparent (logical) size.
func DiskUsage(dir string) (allocated, apparent int64, err error) {
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil {
			return err
		}
		allocated += st.Blocks * 512
		apparent += st.Size
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("disk usage of %s: %w", dir, err)
	}
	return allocated, apparent, nil
}
