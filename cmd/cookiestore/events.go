package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"cookiestore/journal"
	"cookiestore/record"
	"cookiestore/replay"
)

// The offline tools (dump, stats, verify) read a journal without locking it:
// they never write, and an operator may want to look at the file of a
// running server. A file that does not exist is an error, never created.

// readEvents calls visit for every event in the journal at path, in file
// order: for a single-event frame with batch -1, for the events of a batch
// frame with their index in the batch. It returns the journal's size, its
// header and frames (the file size, less any unwritten space after them: how
// every command counts a journal's bytes), and its format version. The event
// is only valid during the call.
func readEvents(path string, visit func(off int64, batch int, e *record.Event) error) (size int64, version int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	if fi.IsDir() {
		return 0, 0, fmt.Errorf("%s is a directory, not a journal", path)
	}
	r, err := journal.NewReader(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	for {
		off, payload, err := r.Next()
		if errors.Is(err, io.EOF) {
			return off, r.Version(), nil // the end of the frames, before any unwritten space
		}
		var fe *journal.FrameError
		if errors.As(err, &fe) {
			return 0, 0, fmt.Errorf("%s: bad frame at offset %d: %s; run `cookiestore verify %s`", path, fe.Offset, fe.Reason, path)
		}
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", path, err)
		}
		kind, err := record.PeekKind(payload)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: frame at offset %d: %w", path, off, err)
		}
		i := -1
		if kind == record.KindBatch {
			i = 0
		}
		err = replay.DecodePayload(payload, r.Version(), func(e *record.Event) error {
			err := visit(off, i, e)
			if i >= 0 {
				i++
			}
			return err
		})
		if err != nil {
			return 0, 0, fmt.Errorf("%s: frame at offset %d: %w", path, off, err)
		}
	}
}
