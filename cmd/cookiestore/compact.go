package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"cookiestore/filestore"
)

func compactCommand() *command {
	return &command{
		name:     "compact",
		synopsis: "FILE",
		summary:  "rewrite a journal with only its live cookies",
		nargs:    1,
		help: `Compact opens the journal FILE as the file store does (replaying it), writes
its live, unexpired cookies into a new file beside it, and renames that over
FILE, then reports the size before and after. A crash at any point leaves the
old or the new file whole. A running server compacts by itself; this is for a
journal that no server holds.

Compact takes the journal's lock, so it refuses a file that a running server
holds; a corrupt journal must be repaired first ('cookiestore repair FILE').

Exit codes: 0 success, 1 the file cannot be opened, is in use or is corrupt,
2 a bad command line.`,
		setup: func(fs *flag.FlagSet) func(context.Context, *output, []string) error {
			return func(_ context.Context, out *output, args []string) error {
				path := args[0]
				if err := existingFile(path); err != nil {
					return err
				}
				// The sizes of the file itself: opening may append (a purge
				// of expired cookies) before the compaction starts.
				before, err := fileSize(path)
				if err != nil {
					return err
				}
				st, err := filestore.Open(path, filestore.Options{
					CompactMinBytes: -1, // only the compaction asked for
					JanitorInterval: -1,
				})
				if err != nil {
					return err
				}
				cs, err := st.Compact()
				if cerr := st.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return err
				}
				after, err := fileSize(path)
				if err != nil {
					return err
				}
				fmt.Fprintf(out.stdout, "%s: compacted from %d to %d bytes, %d live cookies, in %s\n",
					path, before, after, cs.Cookies, cs.Duration.Round(time.Millisecond))
				return nil
			}
		},
	}
}

func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
