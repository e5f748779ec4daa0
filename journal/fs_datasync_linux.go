package journal

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// datasync flushes f's data but, unlike fsync, skips metadata such as the
// modification time that is not needed to read the data back: one disk
// write fewer per commit.
func datasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if !errors.Is(err, unix.EINTR) {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
			}
			return nil
		}
	}
}
