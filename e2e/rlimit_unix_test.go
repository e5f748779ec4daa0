//go:build unix

package e2e

import (
	"fmt"
	"syscall"
)

// ensureFiles raises the soft limit on open files to at least n, up to the
// hard limit. Go raises the soft limit to the hard one at start already on
// most systems; this says clearly when even the hard one is too low.
func ensureFiles(n uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("read the open-file limit: %w", err)
	}
	if lim.Cur >= n {
		return nil
	}
	if lim.Max < n {
		return fmt.Errorf("the hard limit on open files is %d, the soak needs %d (raise it: ulimit -Hn %d)", lim.Max, n, n)
	}
	lim.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise the open-file limit to %d: %w", n, err)
	}
	return nil
}
