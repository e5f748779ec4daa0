package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"cookiestore/journal"
	"cookiestore/record"
)

func verifyCommand() *command {
	return &command{
		name:     "verify",
		synopsis: "FILE",
		summary:  "check every frame and event of a journal",
		nargs:    1,
		help: `Verify checks the header and every frame of the journal FILE (length and
CRC-32C), then decodes every event in it. It prints the file's format version
(1 or 2), and its size as every command counts it: the header and the frames,
followed by any unwritten space (zeros that a sync=always journal writes ahead
of its frames). It names the first bad offset and says what kind of damage it
is:

  - a torn tail (a bad frame with nothing valid after it) is what a crash
    leaves; serve cuts it off at startup;
  - a bad frame with valid frames after it is corruption; serve refuses the
    file until 'cookiestore repair FILE' has removed it.

The file is read, never locked or written.`,
		exits: []exit{
			{exitOK, "the file is clean"},
			{exitFailure, "it is damaged, or cannot be read"},
			{exitUsage, "a bad command line"},
		},
		setup: onFile(func(out *output, path string) error {
			rep, err := journal.Verify(path, journal.Options{})
			if err != nil {
				return err
			}
			if !rep.OK() {
				what := fmt.Sprintf("corruption: a valid frame follows at offset %d", rep.NextValid)
				if rep.TornTail() {
					what = "a torn tail: nothing valid follows; serve cuts it off at startup"
				}
				return &exitError{code: exitFailure, err: fmt.Errorf(
					"%s: format version %d: bad frame at offset %d: %s (%s; %s before it); run `cookiestore repair %s`",
					path, rep.Version, rep.BadOffset, rep.Reason, what, plural(rep.Frames, "valid frame", "valid frames"), path)}
			}
			// The frames are sound; check that every payload is an event
			// this version understands, as a replay would.
			var events int64
			if _, _, err := readEvents(path, func(int64, int, *record.Event) error { events++; return nil }); err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			fmt.Fprintf(out.stdout, "%s: ok, format version %d, %s, %s, %s", path, rep.Version,
				plural(rep.Frames, "frame", "frames"), plural(events, "event", "events"), plural(rep.Bytes, "byte", "bytes"))
			if unwritten := rep.Size - rep.Bytes; unwritten > 0 {
				// A sync=always journal that was not closed: see
				// "Unwritten space" in go doc cookiestore/journal.
				fmt.Fprintf(out.stdout, ", then %s of unwritten space (zeros written ahead; cut off when the journal is next closed)", plural(unwritten, "byte", "bytes"))
			}
			fmt.Fprintln(out.stdout)
			return nil
		}),
	}
}

// existingFile fails unless path is a regular file. The offline tools use
// it so that a typo gives "no such file" instead of a fresh journal.
// onFile is the setup of a command that takes no flags and one existing
// journal FILE, which it gives to run.
func onFile(run func(out *output, path string) error) func(*flag.FlagSet) func(context.Context, *output, []string) error {
	return func(*flag.FlagSet) func(context.Context, *output, []string) error {
		return func(_ context.Context, out *output, args []string) error {
			if err := existingFile(args[0]); err != nil {
				return err
			}
			return run(out, args[0])
		}
	}
}

func existingFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	return nil
}
