package peers

import (
	"fmt"
	"path/filepath"

	"cookiestore/filestore"
	"cookiestore/journal"
	"cookiestore/record"
)

// Cookiestore returns cookiestore's file backend: an append-only journal of
// msgpack events with group commit, and an in-memory index rebuilt from the
// journal at open. Durable is sync=always, not durable sync=none.
func Cookiestore() Engine {
	return Engine{
		Name: "cookiestore",
		Open: func(dir string, cfg Config) (Store, error) {
			s, err := openCookiestore(dir, cfg)
			if err != nil {
				return nil, err
			}
			return s, nil
		},
		Load: loadCookiestore,
		Note: "cookiestore/filestore, default options; durable: `sync=always` (group commit); not durable: `sync=none`",
	}
}

type cookieStore struct {
	s *filestore.Store
}

// JournalName is the journal's file name inside a store's folder.
const JournalName = "cookies.dat"

// openCookiestore opens the store in dir with filestore's defaults.
func openCookiestore(dir string, cfg Config) (*cookieStore, error) {
	mode := journal.SyncAlways
	if cfg.Durability == NotDurable {
		mode = journal.SyncNone
	}
	s, err := filestore.Open(filepath.Join(dir, JournalName), filestore.Options{
		Sync:  mode,
		Clock: Now,
	})
	if err != nil {
		return nil, fmt.Errorf("open cookiestore in %s: %w", dir, err)
	}
	return &cookieStore{s: s}, nil
}

func (s *cookieStore) Put(e *Event) error {
	c := e.Cookie
	switch e.Kind {
	case Create:
		return s.s.Create(record.Cookie{Digest: record.DigestOf(c.ID), Created: c.Created, MaxAge: c.MaxAge})
	case Update:
		return s.s.SetAuth(record.DigestOf(c.ID), c.Auth)
	}
	return fmt.Errorf("cookiestore: unknown event kind %d", e.Kind)
}

// Get and Lookup digest the ID, as the server does with the value a
// browser presents: cookiestore keeps no ID.
func (s *cookieStore) Get(id []byte) (bool, error) {
	_, ok := s.s.Get(record.DigestOf(string(id)))
	return ok, nil
}

func (s *cookieStore) Lookup(id []byte) (Cookie, bool, error) {
	rc, ok := s.s.Get(record.DigestOf(string(id)))
	if !ok {
		return Cookie{}, false, nil
	}
	return Cookie{ID: string(id), Cookie: rc}, true, nil
}

// loadCookiestore writes the events straight into a journal in dir, one
// frame per event as filestore writes them, without an index and without
// syncing until the end: the same file that Create and SetAuth calls would
// leave (a test checks it byte for byte), made several times faster, with
// no automatic compaction along the way, so that the open benchmark
// replays every event.
func loadCookiestore(dir string, next func() (Event, bool)) error {
	path := filepath.Join(dir, JournalName)
	j, err := journal.Open(path, journal.Options{Sync: journal.SyncNone}, nil)
	if err != nil {
		return fmt.Errorf("load cookiestore: %w", err)
	}
	var buf []byte
	for {
		e, ok := next()
		if !ok {
			break
		}
		ev := recordEvent(&e)
		if buf, err = record.AppendEvent(buf[:0], &ev); err != nil {
			j.Close()
			return fmt.Errorf("load cookiestore: %w", err)
		}
		if _, err := j.Append(buf); err != nil {
			j.Close()
			return fmt.Errorf("load cookiestore: %w", err)
		}
	}
	if err := j.Sync(); err != nil {
		j.Close()
		return fmt.Errorf("load cookiestore: %w", err)
	}
	return j.Close()
}

func recordEvent(e *Event) record.Event {
	d := record.DigestOf(e.Cookie.ID)
	if e.Kind == Create {
		return record.Create(d, e.Cookie.Created, e.Cookie.MaxAge)
	}
	return record.Update(d, e.Cookie.Auth)
}

func (s *cookieStore) Compact() error {
	_, err := s.s.Compact()
	return err
}

func (s *cookieStore) Close() error { return s.s.Close() }

// Syncs is the number of fdatasyncs the journal has done since open.
func (s *cookieStore) Syncs() int64 { return s.s.Stats().Journal.Syncs }

// Len is the number of cookies in the index.
func (s *cookieStore) Len() int { return s.s.Len() }

// FrameBytes returns the bytes cookiestore's journal takes for events: the
// msgpack payload of each event plus its frame header. It is the byte count
// that the ceiling fractions of the append results are computed from.
func FrameBytes(events []Event) (int64, error) {
	var total int64
	var buf []byte
	for i := range events {
		e := &events[i]
		ev := recordEvent(e)
		var err error
		buf, err = record.AppendEvent(buf[:0], &ev)
		if err != nil {
			return 0, fmt.Errorf("encode event %d: %w", i, err)
		}
		total += int64(len(buf)) + journal.FrameHeaderSize
	}
	return total, nil
}
