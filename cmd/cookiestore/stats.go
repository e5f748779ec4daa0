package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"cookiestore/index"
	"cookiestore/journal"
	"cookiestore/record"
	"cookiestore/replay"
)

func statsCommand() *command {
	return &command{
		name:     "stats",
		synopsis: "[--json] FILE",
		summary:  "count the events, cookies and dead bytes of a journal",
		nargs:    1,
		help: `Stats reads the journal FILE and reports its format version, its events by
type (create, update, delete, cookie; batch frames are counted and their events
counted by type), the cookies it holds now (live, of which logged in, and
expired but not yet purged), its size in bytes, the size that 'cookiestore
compact' would leave, and the dead-byte ratio: the share of the file that a
compaction would drop. It prints no cookie ID.

A journal's size is its header and its frames, as compact and verify count it:
the zeros that a sync=always journal writes ahead of its frames (see
'cookiestore verify') are not part of it. The compacted size is that of the
live cookies encoded as a compaction writes them, in compressed batch frames;
the compaction of a running server may differ by the cookies it gains or loses
meanwhile. (A running server decides when to compact by itself from a cheaper,
uncompressed estimate, so its dead ratio in /status is lower.)

The file is read, never locked or written.`,
		exits: []exit{
			{exitOK, "success"},
			{exitFailure, "the file cannot be read, or holds a bad frame"},
			{exitUsage, "a bad command line"},
		},
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
	Version     int     `json:"version"` // the journal's format version
	Bytes       int64   `json:"bytes"`   // header and frames, without unwritten space
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
	Compacted   int64   `json:"compacted_bytes"` // what a compaction would leave, header included
	DeadRatio   float64 `json:"dead_ratio"`      // 1 - compacted_bytes/bytes
}

func journalStats(path string, now time.Time) (*fileStats, error) {
	st := &fileStats{File: path}
	idx := index.New(index.Options{Clock: func() time.Time { return now }})
	lastOff := int64(-1)
	size, version, err := readEvents(path, func(off int64, batch int, e *record.Event) error {
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
	st.Bytes, st.Version = size, version
	if st.Compacted, err = compactedSize(idx); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for c := range idx.All() {
		st.Live++
		if !c.Auth.IsZero() {
			st.LoggedIn++
		}
	}
	st.Expired = idx.Len() - st.Live
	if size > 0 {
		st.DeadRatio = max(0, 1-float64(st.Compacted)/float64(size))
	}
	return st, nil
}

// compactedSize is the size of the journal that a compaction of idx would
// write: the header, then every live cookie's whole state in batch frames,
// as the file store writes its snapshot. The header is needed by any
// journal, so an empty journal has nothing to compact.
func compactedSize(idx *index.Index) (int64, error) {
	size := int64(journal.HeaderSize)
	_, err := replay.WriteIndex(idx, func(payload []byte) error {
		size += journal.FrameHeaderSize + int64(len(payload))
		return nil
	})
	return size, err
}

func (st *fileStats) print(out *output) error {
	tw := tabwriter.NewWriter(out.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "file\t%s\n", st.File)
	fmt.Fprintf(tw, "format version\t%d\n", st.Version)
	fmt.Fprintf(tw, "size\t%s\n", plural(st.Bytes, "byte", "bytes"))
	fmt.Fprintf(tw, "frames\t%d (%d batch)\n", st.Frames, st.BatchFrames)
	fmt.Fprintf(tw, "events\t%d (%d create, %d update, %d delete, %d cookie)\n", st.Events, st.Creates, st.Updates, st.Deletes, st.States)
	fmt.Fprintf(tw, "cookies\t%d live (%d logged in), %d expired\n", st.Live, st.LoggedIn, st.Expired)
	fmt.Fprintf(tw, "compacted size\t%s\n", plural(st.Compacted, "byte", "bytes"))
	fmt.Fprintf(tw, "dead ratio\t%.3f\n", st.DeadRatio)
	return tw.Flush()
}
