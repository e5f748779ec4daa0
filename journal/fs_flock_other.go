//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package journal

import (
	"errors"
	"os"
)

// flock is not implemented here: refusing to open is safer than two
// processes appending to one journal.
func flock(f *os.File) error {
	return errors.New("journal: file locking is not supported on this platform")
}
