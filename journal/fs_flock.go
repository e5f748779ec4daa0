//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package journal

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// flock takes an exclusive, non-blocking advisory lock on f. Locks belong
// to the open file description, so two opens in one process conflict too.
func flock(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EWOULDBLOCK):
			return fmt.Errorf("lock %s: %w: %w", f.Name(), ErrLocked, err)
		default:
			return fmt.Errorf("lock %s: %w", f.Name(), err)
		}
	}
}
