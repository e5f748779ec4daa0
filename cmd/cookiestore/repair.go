package main

import (
	"fmt"

	"cookiestore/journal"
)

func repairCommand() *command {
	return &command{
		name:     "repair",
		synopsis: "FILE",
		summary:  "drop the damaged frames of a journal, keeping a backup",
		nargs:    1,
		help: `Repair removes every bad frame from the journal FILE and keeps every valid one:
it copies the file to FILE.bak (or FILE.bak.1, FILE.bak.2, ... if that exists),
skips each damaged region by searching for the next valid frame, and replaces
FILE with the frames it kept. It then reports each dropped range: its offset,
its length and what was wrong. A clean file is left alone, with no backup.

Repair takes the journal's lock, so it refuses a file that a running server
holds. A file whose header is damaged is not repaired: it is not known to be a
journal.`,
		exits: []exit{
			{exitOK, "the file is clean or was repaired"},
			{exitFailure, "it cannot be repaired, or is in use"},
			{exitUsage, "a bad command line"},
		},
		setup: onFile(func(out *output, path string) error {
			rep, err := journal.Repair(path, journal.Options{})
			if err != nil {
				return err
			}
			if rep.Backup == "" {
				fmt.Fprintf(out.stdout, "%s: clean, nothing to repair (%s, %s)\n", path,
					plural(rep.Frames, "frame", "frames"), plural(rep.Bytes, "byte", "bytes"))
				return nil
			}
			fmt.Fprintf(out.stdout, "%s: repaired: kept %s (%s), dropped %s in %s; the original is in %s\n",
				path, plural(rep.Frames, "frame", "frames"), plural(rep.Bytes, "byte", "bytes"),
				plural(rep.DroppedBytes, "byte", "bytes"), plural(len(rep.Dropped), "range", "ranges"), rep.Backup)
			for _, d := range rep.Dropped {
				fmt.Fprintf(out.stdout, "  dropped offset %d, %s: %s\n", d.Offset, plural(d.Length, "byte", "bytes"), d.Reason)
			}
			return nil
		}),
	}
}
