//go:build !linux

package peers

import "errors"

func preallocate(fd uintptr, off, n int64) error {
	return errors.New("preallocation is measured on Linux only")
}
