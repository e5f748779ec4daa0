// Package bench holds cookiestore's go test benchmarks: the store engine
// (append, replay, lookup, index memory), the tracking server's handshake,
// and the machine's own limits measured in the same run, so that every
// figure can be read as a fraction of what the disk allows.
//
// Run them with
//
//	go test -run '^$' -bench . -benchmem ./bench
//
// and compare two runs with benchstat. The names are a contract: dashboards
// follow them over time.
//
// Outside its tests the package holds only what bench/peers measures too.
package bench

import (
	"bytes"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"cookiestore/journal"
)

// WriteZerosAhead writes n zero bytes at off in f and fdatasyncs them, as a
// sync=always journal writes its unwritten space ahead of its frames
// (journal.UnwrittenChunk at a time, in writes of journal.UnwrittenPage):
// for measuring the disk's fdatasyncs over such space with raw writes,
// nothing of the journal around them.
func WriteZerosAhead(f *os.File, off, n int64) error {
	zeros := make([]byte, journal.UnwrittenPage)
	for at := off; at < off+n; at += int64(len(zeros)) {
		if _, err := f.WriteAt(zeros, at); err != nil {
			return err
		}
	}
	return unix.Fdatasync(int(f.Fd()))
}

// DiskWriteBytes returns the bytes this process has caused to be written to
// storage, as Linux counts them when pages are dirtied (/proc/self/io
// write_bytes): a 100-byte append that dirties a page again after its
// writeback counts a whole page. It returns -1 where that is not available.
func DiskWriteBytes() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("write_bytes:")); ok {
			if n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64); err == nil {
				return n
			}
			return -1
		}
	}
	return -1
}
