package main

import (
	"fmt"
	"time"

	"cookiestore/filestore"
	"cookiestore/journal"
)

func compactCommand() *command {
	return &command{
		name:     "compact",
		synopsis: "FILE",
		summary:  "rewrite a journal with only its live cookies",
		nargs:    1,
		help: `Compact opens the journal FILE as the file store does (replaying it), writes
its live, unexpired cookies into a new file beside it, and renames that over
FILE, then reports the size before and after: the header and the frames, as
stats and verify count them, without the zeros that a sync=always journal
writes ahead of its frames. A version 1 journal is rewritten as version 2. A crash at any point leaves the
old or the new file whole. A running server compacts by itself; this is for a
journal that no server holds.

Compact takes the journal's lock, so it refuses a file that a running server
holds; a corrupt journal must be repaired first ('cookiestore repair FILE').`,
		exits: []exit{
			{exitOK, "the journal was compacted"},
			{exitFailure, "the file cannot be opened, is in use or is corrupt"},
			{exitUsage, "a bad command line"},
		},
		setup: onFile(func(out *output, path string) error {
			st, err := filestore.Open(path, filestore.Options{
				CompactMinBytes: -1, // only the compaction asked for
				JanitorInterval: -1,
			})
			if err != nil {
				return err
			}
			// The size of the journal as the replay found it: its header
			// and frames, as stats and verify count them. Opening may
			// have cut off a torn tail, and the compaction appends the
			// deletes of the cookies that have expired before it starts.
			opened := st.Stats().Replay
			cs, err := st.Compact()
			if cerr := st.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			// A journal holds at least its 16-byte header: "bytes".
			fmt.Fprintf(out.stdout, "%s: compacted from %d to %d bytes, %s, in %s", path, opened.Bytes, cs.After,
				plural(cs.Cookies, "live cookie", "live cookies"), cs.Duration.Round(time.Millisecond))
			if opened.Version != journal.Version {
				fmt.Fprintf(out.stdout, ", upgraded from format version %d to %d", opened.Version, journal.Version)
			}
			if opened.DroppedBytes > 0 {
				fmt.Fprintf(out.stdout, "; a torn tail of %s was cut off first", plural(opened.DroppedBytes, "byte", "bytes"))
			}
			fmt.Fprintln(out.stdout)
			return nil
		}),
	}
}
