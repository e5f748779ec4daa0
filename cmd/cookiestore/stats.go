package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"cookiestore/filestore"
	"cookiestore/index"
	"cookiestore/journal"
	"cookiestore/record"
)

func statsCommand() *command {
	return &command{
		name:     "stats",
		synopsis: "[--json] FILE",
		summary:  "count the events, cookies and dead bytes of a journal",
		nargs:    1,
		help: `Stats reads the journal FILE and reports its events by type (create, update,
delete; batch frames are counted and their events counted by type), the
cookies it holds now (live, of which logged in, and expired but not yet
purged), its size in bytes, and the dead-byte ratio: the share of the file
that a compaction would drop, estimated as the file store estimates it to
decide when to compact by itself. It prints no cookie ID.

The file is read, never locked or written. Exit codes: 0 success, 1 the file
cannot be read or holds a bad frame, 2 a bad command line.`,
		setup: func(fs *flag.FlagSet) func(context.Context, *output, []string) error {
			asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
			return func(_ context.Context, out *output, args []string) error {
				st, err := journalStats(args[0], time.Now())
				if err != nil {
					return err
				}
				if *asJSON {
					enc := json.NewEncoder(out.stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(st)
				}
				return st.print(out)
			}
		},
	}
}

// fileStats is what stats reports. The JSON names are part of the CLI's
// interface.
type fileStats struct {
	File        string  `json:"file"`
	Bytes       int64   `json:"bytes"`
	Frames      int64   `json:"frames"`
	BatchFrames int64   `json:"batch_frames"`
	Events      int64   `json:"events"`
	Creates     int64   `json:"creates"`
	Updates     int64   `json:"updates"`
	Deletes     int64   `json:"deletes"`
	States      int64   `json:"cookie_states"`
	Live        int     `json:"live_cookies"`
	LoggedIn    int     `json:"logged_in_cookies"`
	Expired     int     `json:"expired_cookies"`
	LiveBytes   int64   `json:"live_bytes"`
	DeadRatio   float64 `json:"dead_ratio"`
}

func journalStats(path string, now time.Time) (*fileStats, error) {
	st := &fileStats{File: path}
	idx := index.New(index.Options{Clock: func() time.Time { return now }})
	lastOff := int64(-1)
	size, err := readEvents(path, func(off int64, batch int, e *record.Event) error {
		if off != lastOff {
			lastOff = off
			st.Frames++
			if batch >= 0 {
				st.BatchFrames++
			}
		}
		st.Events++
		switch e.Kind {
		case record.KindCreate:
			st.Creates++
		case record.KindUpdate:
			st.Updates++
		case record.KindDelete:
			st.Deletes++
		case record.KindCookie:
			st.States++
		}
		return idx.ApplyEvent(e)
	})
	if err != nil {
		return nil, err
	}
	st.Bytes = size
	// The header is needed by any journal, so it is never dead: an empty
	// journal has nothing to compact. The frames are what a compaction
	// would keep, as the file store estimates it.
	st.LiveBytes = journal.HeaderSize + filestore.LiveFrameBytes(idx)
	for c := range idx.All() {
		st.Live++
		if !c.Auth.IsZero() {
			st.LoggedIn++
		}
	}
	st.Expired = idx.Len() - st.Live
	if size > 0 {
		st.DeadRatio = max(0, 1-float64(st.LiveBytes)/float64(size))
	}
	return st, nil
}

func (st *fileStats) print(out *output) error {
	tw := tabwriter.NewWriter(out.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "file\t%s\n", st.File)
	fmt.Fprintf(tw, "bytes\t%d\n", st.Bytes)
	fmt.Fprintf(tw, "frames\t%d (%d batch)\n", st.Frames, st.BatchFrames)
	fmt.Fprintf(tw, "events\t%d (%d create, %d update, %d delete, %d cookie)\n", st.Events, st.Creates, st.Updates, st.Deletes, st.States)
	fmt.Fprintf(tw, "cookies\t%d live (%d logged in), %d expired\n", st.Live, st.LoggedIn, st.Expired)
	fmt.Fprintf(tw, "live bytes\t%d\n", st.LiveBytes)
	fmt.Fprintf(tw, "dead ratio\t%.3f\n", st.DeadRatio)
	return tw.Flush()
}
