package peers

import "golang.org/x/sys/unix"

// preallocate allocates the blocks of [off, off+n) in the file without
// changing its size, as pebble does ahead of its write-ahead log.
func preallocate(fd uintptr, off, n int64) error {
	return unix.Fallocate(int(fd), unix.FALLOC_FL_KEEP_SIZE, off, n)
}
