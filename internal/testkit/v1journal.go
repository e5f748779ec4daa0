package testkit

import (
	_ "embed"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// v1Journal is a version 1 journal, as the release before cookie digests
// wrote it: a compaction's batch frame, then single frames. It names its
// cookies by their IDs.
//
//go:embed testdata/v1.journal
var v1Journal []byte

// V1Cookie is a cookie that the version 1 journal holds, by its ID.
type V1Cookie struct {
	ID                                      string
	Created                                 time.Time
	MaxAge                                  time.Duration
	AuthID, AuthRole, AuthMethod, AuthRealm string
	AuthExtra                               map[string]any
}

// v1Created is when the first cookies of the version 1 journal were issued.
var v1Created = time.Date(2026, 11, 26, 12, 0, 0, 123456789, time.UTC)

// v1MaxAge is their lifetime: ten years, so that they are live on any
// test clock.
const v1MaxAge = 10 * 365 * 24 * time.Hour

// V1Live are the live cookies of V1Journal after a replay; the journal also
// created V1Gone, which it deleted again.
var (
	V1Live = []V1Cookie{
		{ID: "v1AliceCookie00000000000", Created: v1Created, MaxAge: v1MaxAge, AuthID: "alice", AuthRole: "user",
			AuthMethod: "ticket", AuthRealm: "realm1", AuthExtra: map[string]any{"n": int64(3), "tenant": "t1"}},
		{ID: "v1PlainCookie00000000000", Created: v1Created.Add(time.Second), MaxAge: v1MaxAge},
		{ID: "v1BobCookie0000000000000", Created: v1Created.Add(time.Minute), MaxAge: v1MaxAge, AuthID: "bob", AuthRole: "admin",
			AuthMethod: "ticket", AuthRealm: "default"},
		{ID: "v1ClearedCookie000000000", Created: v1Created.Add(time.Minute), MaxAge: v1MaxAge},
	}
	V1Gone = []string{"v1GoneCookie000000000000", "v1LogoutCookie0000000000"}
)

// V1JournalEvents is how many events, and frames, the version 1 journal holds.
const (
	V1JournalEvents = 10
	V1JournalFrames = 8
)

// V1Journal writes the version 1 journal to a new temporary folder, as
// cookies.dat with mode 0600, and returns its path.
func V1Journal(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cookies.dat")
	if err := os.WriteFile(path, v1Journal, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
