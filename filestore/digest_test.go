package filestore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"cookiestore/internal/testkit"
	"cookiestore/journal"
	"cookiestore/record"
)

// No cookie ID reaches the disk: the journal, and what a compaction writes,
// hold digests only.
func TestJournalHoldsNoID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cookies.dat")
	s := open(t, path, Options{})
	ids := []string{"SECRETcookieID_000000001", "SECRETcookieID_000000002"}
	for _, id := range ids {
		if err := s.Create(record.Cookie{Digest: record.DigestOf(id), Created: t0, MaxAge: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Rotate(record.DigestOf(ids[0]), record.Cookie{Digest: record.DigestOf("SECRETcookieID_000000003"), Created: t0,
		MaxAge: time.Hour, Auth: record.Auth{AuthID: "alice"}}); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("SECRET")) {
			t.Fatalf("%s: the journal holds a cookie ID", when)
		}
		if d := record.DigestOf(ids[1]); !bytes.Contains(b, d[:]) && when == "appended" {
			t.Fatalf("%s: the journal does not hold the digest", when)
		}
	}
	check("appended")
	if _, err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	check("compacted")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check("closed")
}

// A journal of format version 1 names cookies by their IDs. Open reads it
// exactly as before, then rewrites it as version 2, so that the IDs leave
// the disk; the next open reads the new file.
func TestOpenUpgradesVersion1(t *testing.T) {
	path := testkit.V1Journal(t)
	for round := range 2 {
		s := open(t, path, Options{JanitorInterval: -1})
		st := s.Stats()
		if round == 0 && (st.Replay.Version != 1 || st.Replay.Events != testkit.V1JournalEvents || st.Compactions != 1) {
			t.Fatalf("first open: replayed %+v, %d compactions; want version 1, %d events, one compaction", st.Replay, st.Compactions, testkit.V1JournalEvents)
		}
		if round == 1 && (st.Replay.Version != journal.Version || st.Compactions != 0) {
			t.Fatalf("second open: version %d, %d compactions", st.Replay.Version, st.Compactions)
		}
		for _, c := range testkit.V1Live {
			got, ok := s.Get(record.DigestOf(c.ID))
			want := record.Auth{AuthID: c.AuthID, AuthRole: c.AuthRole, AuthMethod: c.AuthMethod, AuthRealm: c.AuthRealm, AuthExtra: c.AuthExtra}
			if !ok || !got.Created.Equal(c.Created) || got.MaxAge != c.MaxAge || !reflect.DeepEqual(got.Auth, want) {
				t.Fatalf("round %d: %s = %+v, %v; want %+v", round, c.ID, got, ok, c)
			}
		}
		for _, id := range testkit.V1Gone {
			if _, ok := s.Get(record.DigestOf(id)); ok {
				t.Fatalf("round %d: deleted cookie %s is back", round, id)
			}
		}
		if s.Len() != len(testkit.V1Live) {
			t.Fatalf("round %d: %d cookies, want %d", round, s.Len(), len(testkit.V1Live))
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b[8:10], []byte{2, 0}) {
			t.Fatalf("round %d: the upgraded file's header says version % x", round, b[8:10])
		}
		for _, c := range testkit.V1Live {
			if bytes.Contains(b, []byte(c.ID)) {
				t.Fatalf("round %d: the upgraded file still holds the ID %s", round, c.ID)
			}
		}
	}
}

// A rotation is durable as one step: after a reopen the new cookie carries
// the login and the old one is gone.
func TestRotateSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cookies.dat")
	s := open(t, path, Options{})
	old, next := dg("old"), record.Cookie{Digest: dg("new"), Created: t0, MaxAge: time.Hour, Auth: record.Auth{AuthID: "alice", AuthRole: "user"}}
	if err := s.Create(record.Cookie{Digest: old, Created: t0, MaxAge: time.Hour}); err != nil {
		t.Fatal(err)
	}
	before := s.Stats().Journal
	if err := s.Rotate(old, next); err != nil {
		t.Fatal(err)
	}
	if after := s.Stats().Journal; after.Frames-before.Frames != 2 || after.Syncs-before.Syncs != 1 {
		t.Fatalf("a rotation appended %d frames in %d fdatasyncs, want 2 in 1", after.Frames-before.Frames, after.Syncs-before.Syncs)
	}
	if err := s.Rotate(old, record.Cookie{Digest: dg("newer"), Created: t0, MaxAge: time.Hour}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second rotation of the same cookie = %v, want ErrNotFound", err)
	}
	s.Close()
	s = open(t, path, Options{})
	defer s.Close()
	if _, ok := s.Get(old); ok {
		t.Fatal("the rotated cookie is back after a reopen")
	}
	if got, ok := s.Get(next.Digest); !ok || got.Auth.AuthID != "alice" || got.Auth.AuthRole != "user" {
		t.Fatalf("the new cookie after a reopen = %+v, %v", got, ok)
	}
	if got := s.DigestsByAuthID("alice"); len(got) != 1 || got[0] != next.Digest {
		t.Fatalf("alice's cookies = %v", got)
	}
}
