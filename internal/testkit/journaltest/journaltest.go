// Package journaltest builds journals for the tests of the packages that
// read them (replay, the command's tools). It stands apart from package
// testkit because it uses package journal, whose own tests use testkit.
package journaltest

import (
	"testing"

	"cookiestore/journal"
	"cookiestore/record"
)

// Write creates a journal at path holding payloads, one frame each,
// through package journal, and returns the offset of each frame.
func Write(t testing.TB, path string, payloads ...[]byte) []int64 {
	t.Helper()
	j, err := journal.Open(path, journal.Options{Sync: journal.SyncNone}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for _, p := range payloads {
		off, err := j.Append(p)
		if err != nil {
			t.Fatal(err)
		}
		offs = append(offs, off)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return offs
}

// Events returns the payload of each event, as a file store writes it.
func Events(t testing.TB, evs ...record.Event) [][]byte {
	t.Helper()
	out := make([][]byte, len(evs))
	for i := range evs {
		p, err := record.AppendEvent(nil, &evs[i])
		if err != nil {
			t.Fatal(err)
		}
		out[i] = p
	}
	return out
}
