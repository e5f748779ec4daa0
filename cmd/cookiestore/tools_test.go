package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cookiestore/filestore"
	"cookiestore/internal/testkit"
	"cookiestore/internal/testkit/journaltest"
	"cookiestore/journal"
	"cookiestore/record"
)

// testJournal is a journal made through the file store, and what it holds.
type testJournal struct {
	path                  string
	live, gone, expired   string // cookie IDs
	created               time.Time
	liveAuth              record.Auth
	wantTypes             []string // event types in file order
	wantCreates, wantDels int
}

// makeJournal writes, through the file store: a cookie that logs in and
// stays, one that is created and deleted, and one that expires an hour
// before now.
func makeJournal(t *testing.T) *testJournal {
	t.Helper()
	created := time.Now().Add(-2 * time.Hour).Truncate(time.Millisecond)
	tj := &testJournal{
		path:     filepath.Join(t.TempDir(), "cookies.dat"),
		live:     "LIVEcookie_0123456789abc",
		gone:     "GONEcookie_0123456789abc",
		expired:  "EXPDcookie_0123456789abc",
		created:  created,
		liveAuth: record.Auth{AuthID: "alice", AuthRole: "user", AuthMethod: "ticket", AuthRealm: "default"},
	}
	st, err := filestore.Open(tj.path, filestore.Options{
		Clock:           func() time.Time { return created },
		JanitorInterval: -1,
		CompactMinBytes: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		typ string
		do  func() error
	}{
		{"create", func() error {
			return st.Create(record.Cookie{Digest: record.DigestOf(tj.live), Created: created, MaxAge: 24 * time.Hour})
		}},
		{"update", func() error { return st.SetAuth(record.DigestOf(tj.live), tj.liveAuth) }},
		{"create", func() error {
			return st.Create(record.Cookie{Digest: record.DigestOf(tj.gone), Created: created, MaxAge: 24 * time.Hour})
		}},
		{"delete", func() error { return st.Delete(record.DigestOf(tj.gone), record.ReasonLogout) }},
		{"create", func() error {
			return st.Create(record.Cookie{Digest: record.DigestOf(tj.expired), Created: created, MaxAge: time.Hour})
		}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatal(err)
		}
		tj.wantTypes = append(tj.wantTypes, s.typ)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return tj
}

// dumped is one line of `cookiestore dump`.
type dumped struct {
	Offset     int64           `json:"offset"`
	BatchIndex *int            `json:"batch_index"`
	Type       string          `json:"type"`
	Digest     string          `json:"digest"`
	Created    string          `json:"created"`
	MaxAgeS    *float64        `json:"max_age_s"`
	Auth       json.RawMessage `json:"auth"`
	Reason     string          `json:"reason"`
	Successor  string          `json:"successor"`
}

func dump(t *testing.T, path string) []dumped {
	t.Helper()
	r := runCLI(t, "dump", path)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("dump: exit %d, stderr %q", r.code, r.stderr)
	}
	var out []dumped
	for _, line := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		var d dumped
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("dump line %q: %v", line, err)
		}
		out = append(out, d)
	}
	return out
}

func TestDump(t *testing.T) {
	tj := makeJournal(t)
	lines := dump(t, tj.path)
	if len(lines) != len(tj.wantTypes) {
		t.Fatalf("%d lines, want %d", len(lines), len(tj.wantTypes))
	}
	prev := int64(journal.HeaderSize - 1)
	for i, d := range lines {
		if d.Type != tj.wantTypes[i] {
			t.Errorf("line %d: type %q, want %q", i, d.Type, tj.wantTypes[i])
		}
		if d.Offset <= prev || d.BatchIndex != nil {
			t.Errorf("line %d: offset %d after %d, batch_index %v: want single frames in increasing order", i, d.Offset, prev, d.BatchIndex)
		}
		prev = d.Offset
	}
	if lines[0].Offset != journal.HeaderSize {
		t.Errorf("first offset %d, want %d", lines[0].Offset, journal.HeaderSize)
	}
	c := lines[0]
	created, err := time.Parse(time.RFC3339Nano, c.Created)
	if err != nil || !created.Equal(tj.created) || c.Digest != record.DigestOf(tj.live).String() || c.MaxAgeS == nil || *c.MaxAgeS != 86400 {
		t.Errorf("create line = %+v (created %v, err %v), want %s created %v max_age_s 86400", c, created, err, tj.live, tj.created)
	}
	var auth map[string]any
	if err := json.Unmarshal(lines[1].Auth, &auth); err != nil || auth["authid"] != "alice" || auth["authmethod"] != "ticket" {
		t.Errorf("update auth = %s, want alice by ticket", lines[1].Auth)
	}
	if lines[3].Digest != record.DigestOf(tj.gone).String() || lines[3].Reason != "logout" {
		t.Errorf("delete line %+v, want the digest of %q and the reason logout", lines[3], tj.gone)
	}
	// The journal and its dump hold digests, never the bearer secret.
	for _, id := range []string{tj.live, tj.gone, tj.expired} {
		raw, err := os.ReadFile(tj.path)
		if err != nil {
			t.Fatal(err)
		}
		if r := runCLI(t, "dump", tj.path); strings.Contains(r.stdout, id) || bytes.Contains(raw, []byte(id)) {
			t.Errorf("the journal or its dump holds the cookie ID %s", id)
		}
	}
}

func TestStats(t *testing.T) {
	tj := makeJournal(t)
	r := runCLI(t, "stats", "--json", tj.path)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	var got fileStats
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("stats --json: %v in %q", err, r.stdout)
	}
	fi, err := os.Stat(tj.path)
	if err != nil {
		t.Fatal(err)
	}
	want := fileStats{
		File: tj.path, Version: journal.Version, Bytes: fi.Size(), Frames: 5, Events: 5,
		Creates: 3, Updates: 1, Deletes: 1, Live: 1, LoggedIn: 1, Expired: 1,
	}
	if got.Compacted <= journal.HeaderSize || got.Compacted >= got.Bytes || got.DeadRatio <= 0 || got.DeadRatio >= 1 {
		t.Errorf("compacted %d of %d bytes, dead ratio %v: want both strictly inside", got.Compacted, got.Bytes, got.DeadRatio)
	}
	if ratio := 1 - float64(got.Compacted)/float64(got.Bytes); got.DeadRatio != ratio {
		t.Errorf("dead ratio %v, want 1 - compacted/bytes = %v", got.DeadRatio, ratio)
	}
	compacted := got.Compacted
	got.Compacted, got.DeadRatio = 0, 0
	if got != want {
		t.Errorf("stats = %+v\nwant    %+v", got, want)
	}
	// An empty journal is all header, and nothing in it is dead.
	empty := filepath.Join(t.TempDir(), "empty.dat")
	j, err := journal.Open(empty, journal.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, "stats", "--json", empty)
	var none fileStats
	if err := json.Unmarshal([]byte(r.stdout), &none); err != nil || r.code != 0 {
		t.Fatalf("stats --json on an empty journal: exit %d, %v in %q", r.code, err, r.stdout)
	}
	if none.Bytes != journal.HeaderSize || none.Compacted != journal.HeaderSize || none.Events != 0 || none.DeadRatio != 0 {
		t.Errorf("stats of an empty journal = %+v, want %d bytes, compacted the same, no events, dead ratio 0", none, journal.HeaderSize)
	}

	// The table shows the same, and never a cookie ID.
	r = runCLI(t, "stats", tj.path)
	for _, line := range []string{
		"format version  2",
		fmt.Sprintf("size            %d bytes", fi.Size()),
		"cookies         1 live (1 logged in), 1 expired",
		fmt.Sprintf("compacted size  %d bytes", compacted),
	} {
		if r.code != 0 || !strings.Contains(r.stdout, "\n"+line+"\n") {
			t.Errorf("stats: exit %d, %q lacks the line %q", r.code, r.stdout, line)
		}
	}
	if strings.Contains(r.stdout, tj.live) {
		t.Error("stats printed a cookie ID")
	}

	// What stats predicts is what compact leaves: with one live cookie,
	// to the byte.
	r = runCLI(t, "compact", tj.path)
	if want := fmt.Sprintf("compacted from %d to %d bytes, 1 live cookie,", fi.Size(), compacted); r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Errorf("compact: exit %d, %q, want %q", r.code, r.stdout, want)
	}
}

func TestCompact(t *testing.T) {
	tj := makeJournal(t)
	before, err := os.Stat(tj.path)
	if err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "compact", tj.path)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	after, err := os.Stat(tj.path)
	if err != nil {
		t.Fatal(err)
	}
	if after.Size() >= before.Size() {
		t.Errorf("file grew from %d to %d bytes", before.Size(), after.Size())
	}
	want := fmt.Sprintf("compacted from %d to %d bytes, 1 live cookie, in ", before.Size(), after.Size())
	if !strings.Contains(r.stdout, want) {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	// Only the live cookie remains, with its login, in batch frames.
	var ids []string
	for _, d := range dump(t, tj.path) {
		if d.BatchIndex == nil {
			t.Errorf("event %+v outside a batch after compaction", d)
		}
		ids = append(ids, d.Type+" "+d.Digest)
	}
	wantIDs := []string{"cookie " + record.DigestOf(tj.live).String()}
	if strings.Join(ids, ",") != strings.Join(wantIDs, ",") {
		t.Errorf("after compaction: %q, want %q", ids, wantIDs)
	}
	r = runCLI(t, "verify", tj.path)
	if r.code != 0 {
		t.Errorf("verify after compact: exit %d, %q", r.code, r.stderr)
	}
}

// corruptJournal writes five frames directly through the journal and
// returns the path and each frame's offset.
func corruptJournal(t *testing.T) (string, []int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cookies.dat")
	var evs []record.Event
	for i := range 5 {
		evs = append(evs, record.Create(record.DigestOf(fmt.Sprintf("cookie%018d", i)), time.Now(), time.Hour))
	}
	return path, journaltest.Write(t, path, journaltest.Events(t, evs...)...)
}

// flipByte damages the payload of the frame at off.
func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	at := off + journal.FrameHeaderSize + 3
	if _, err := f.ReadAt(b, at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyRepair(t *testing.T) {
	path, offs := corruptJournal(t)

	r := runCLI(t, "verify", path)
	if r.code != 0 || !strings.Contains(r.stdout, "ok, format version 2, 5 frames, 5 events") {
		t.Fatalf("verify clean: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, "repair", path)
	if r.code != 0 || !strings.Contains(r.stdout, "clean, nothing to repair") {
		t.Errorf("repair clean: exit %d, %q", r.code, r.stdout)
	}
	if _, err := os.Stat(path + ".bak"); !os.IsNotExist(err) {
		t.Errorf("repair of a clean file left a backup: %v", err)
	}

	flipByte(t, path, offs[2])
	original, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, "verify", path)
	if r.code != 1 {
		t.Errorf("verify corrupt: exit %d, want 1", r.code)
	}
	wantOneLine(t, "verify stderr", r.stderr)
	for _, want := range []string{
		fmt.Sprintf("bad frame at offset %d", offs[2]),
		fmt.Sprintf("a valid frame follows at offset %d", offs[3]),
		"cookiestore repair " + path,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("verify stderr %q lacks %q", r.stderr, want)
		}
	}
	r = runCLI(t, "dump", path)
	if r.code != 1 || strings.Count(r.stdout, "\n") != 2 || !strings.Contains(r.stderr, fmt.Sprintf("offset %d", offs[2])) {
		t.Errorf("dump corrupt: exit %d, %d lines, stderr %q: want 1, the 2 good events, the offset", r.code, strings.Count(r.stdout, "\n"), r.stderr)
	}
	r = runCLI(t, "stats", path)
	if r.code != 1 {
		t.Errorf("stats corrupt: exit %d, want 1", r.code)
	}
	wantOneLine(t, "stats stderr", r.stderr)
	r = runCLI(t, "compact", path)
	if r.code != 1 || !strings.Contains(r.stderr, "cookiestore repair") {
		t.Errorf("compact corrupt: exit %d, stderr %q: want 1 and the repair hint", r.code, r.stderr)
	}
	wantOneLine(t, "compact stderr", r.stderr)

	r = runCLI(t, "repair", path)
	if r.code != 0 {
		t.Fatalf("repair: exit %d, stderr %q", r.code, r.stderr)
	}
	frameLen := offs[3] - offs[2]
	for _, want := range []string{
		"kept 4 frames",
		fmt.Sprintf("dropped %d bytes in 1 range;", frameLen),
		"the original is in " + path + ".bak",
		fmt.Sprintf("dropped offset %d, %d bytes", offs[2], frameLen),
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("repair stdout %q lacks %q", r.stdout, want)
		}
	}
	backup, err := os.ReadFile(path + ".bak")
	if err != nil || string(backup) != string(original) {
		t.Errorf("backup differs from the original (err %v)", err)
	}
	r = runCLI(t, "verify", path)
	if r.code != 0 || !strings.Contains(r.stdout, "ok, format version 2, 4 frames") {
		t.Errorf("verify after repair: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
}

// TestToolsOnUnwrittenSpace: a sync=always journal left by a crash ends in
// zeros written ahead. verify calls it sound and says so; stats counts only
// the frames' bytes, so the zeros do not look like dead space.
func TestToolsOnUnwrittenSpace(t *testing.T) {
	tj := makeJournal(t)
	stats := func() fileStats {
		t.Helper()
		r := runCLI(t, "stats", "--json", tj.path)
		var st fileStats
		if err := json.Unmarshal([]byte(r.stdout), &st); r.code != 0 || err != nil {
			t.Fatalf("stats --json: exit %d, %v, stderr %q", r.code, err, r.stderr)
		}
		return st
	}
	clean := stats()
	frames, err := os.ReadFile(tj.path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tj.path, append(frames, make([]byte, 3000)...), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "verify", tj.path)
	want := fmt.Sprintf("ok, format version 2, 5 frames, 5 events, %d bytes, then 3000 bytes of unwritten space", len(frames))
	if r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Errorf("verify: exit %d, stdout %q, stderr %q; want %q", r.code, r.stdout, r.stderr, want)
	}
	if got := stats(); got != clean || got.Bytes != int64(len(frames)) {
		t.Errorf("stats with unwritten space %+v\nwithout                       %+v", got, clean)
	}
	r = runCLI(t, "dump", tj.path)
	if r.code != 0 || strings.Count(r.stdout, "\n") != 5 {
		t.Errorf("dump: exit %d, %d lines, stderr %q", r.code, strings.Count(r.stdout, "\n"), r.stderr)
	}
	// compact counts the bytes as stats does: the zeros are not part of
	// the journal it started from.
	r = runCLI(t, "compact", tj.path)
	if want := fmt.Sprintf("compacted from %d to %d bytes,", clean.Bytes, clean.Compacted); r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Errorf("compact: exit %d, stdout %q, stderr %q; want %q", r.code, r.stdout, r.stderr, want)
	}
}

// TestOneOfEach: one frame, one event, one byte range are not plurals.
func TestOneOfEach(t *testing.T) {
	path := filepath.Join(t.TempDir(), "one.dat")
	j, err := journal.Open(path, journal.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ev := record.Create(record.DigestOf("ONEcookie_0123456789abcd"), time.Now(), time.Hour)
	p, err := record.AppendEvent(nil, &ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(p); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	size := int64(journal.HeaderSize + journal.FrameHeaderSize + len(p))
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"verify", path}, fmt.Sprintf("%s: ok, format version 2, 1 frame, 1 event, %d bytes\n", path, size)},
		{[]string{"repair", path}, fmt.Sprintf("%s: clean, nothing to repair (1 frame, %d bytes)\n", path, size)},
		{[]string{"compact", path}, fmt.Sprintf("%s: compacted from %d to ", path, size)},
		{[]string{"compact", path}, ", 1 live cookie, in "},
	} {
		r := runCLI(t, tt.args...)
		if r.code != 0 || !strings.Contains(r.stdout, tt.want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %q", tt.args[0], r.code, r.stdout, r.stderr, tt.want)
		}
	}
}

func TestVerifyTornTail(t *testing.T) {
	path, offs := corruptJournal(t)
	flipByte(t, path, offs[4])
	r := runCLI(t, "verify", path)
	if r.code != 1 || !strings.Contains(r.stderr, fmt.Sprintf("offset %d", offs[4])) || !strings.Contains(r.stderr, "torn tail") {
		t.Errorf("exit %d, stderr %q: want 1, the offset and a torn tail", r.code, r.stderr)
	}
	// compact cuts it off, as serve would, counts the journal without it,
	// and says so.
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, "compact", path)
	want := fmt.Sprintf("compacted from %d to ", offs[4])
	tail := fmt.Sprintf("; a torn tail of %d bytes was cut off first\n", fi.Size()-offs[4])
	if r.code != 0 || !strings.Contains(r.stdout, want) || !strings.HasSuffix(r.stdout, tail) {
		t.Errorf("compact: exit %d, stdout %q, stderr %q; want %q and %q", r.code, r.stdout, r.stderr, want, tail)
	}
}

func TestToolsOnMissingOrWrongFiles(t *testing.T) {
	dir := t.TempDir()
	notJournal := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notJournal, []byte("these are not the frames you are looking for\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.dat")
	for _, cmd := range []string{"dump", "verify", "repair", "compact", "stats"} {
		for _, file := range []string{missing, notJournal, dir} {
			t.Run(cmd+" "+filepath.Base(file), func(t *testing.T) {
				r := runCLI(t, cmd, file)
				if r.code != 1 {
					t.Errorf("exit %d, want 1", r.code)
				}
				wantOneLine(t, "stderr", r.stderr)
				if !strings.HasPrefix(r.stderr, "cookiestore: ") || !strings.Contains(r.stderr, file) {
					t.Errorf("stderr %q: want one 'cookiestore: ' line naming %s", r.stderr, file)
				}
			})
		}
		if _, err := os.Stat(missing); !os.IsNotExist(err) {
			t.Fatalf("%s created %s", cmd, missing)
		}
	}
}

// TestToolsOnLockedJournal: repair and compact refuse a journal that
// another process holds with the journal's own one-line error; verify,
// which takes no lock, still reads it.
func TestToolsOnLockedJournal(t *testing.T) {
	path, _ := corruptJournal(t)
	j, err := journal.Open(path, journal.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	want := "cookiestore: journal " + path + ": in use by another process\n"
	for _, cmd := range []string{"repair", "compact"} {
		r := runCLI(t, cmd, path)
		if r.code != 1 || r.stderr != want {
			t.Errorf("%s of a held journal: exit %d, stderr %q; want 1 and %q", cmd, r.code, r.stderr, want)
		}
	}
	if r := runCLI(t, "verify", path); r.code != 0 {
		t.Errorf("verify of a held journal: exit %d, stderr %q; want 0", r.code, r.stderr)
	}
}

// The tools read a journal of format version 1, whose events hold cookie
// IDs, and never print an ID from it: dump shows digests. compact rewrites
// it as version 2.
func TestToolsOnVersion1(t *testing.T) {
	path := testkit.V1Journal(t)
	lines := dump(t, path)
	if len(lines) != testkit.V1JournalEvents {
		t.Fatalf("dump printed %d events, want %d", len(lines), testkit.V1JournalEvents)
	}
	if lines[0].Digest != record.DigestOf(testkit.V1Live[0].ID).String() {
		t.Fatalf("first event %+v, want the digest of %s", lines[0], testkit.V1Live[0].ID)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"dump", path}, `"type":"delete"`},
		{[]string{"stats", path}, "\nformat version  1\n"},
		{[]string{"stats", "--json", path}, `"version": 1,`},
		{[]string{"verify", path}, fmt.Sprintf("ok, format version 1, %d frames, %d events, %d bytes\n", testkit.V1JournalFrames, testkit.V1JournalEvents, fi.Size())},
		{[]string{"repair", path}, fmt.Sprintf("clean, nothing to repair (%d frames, %d bytes)", testkit.V1JournalFrames, fi.Size())},
	} {
		r := runCLI(t, tt.args...)
		if r.code != 0 || !strings.Contains(r.stdout, tt.want) {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q; want %q", tt.args[0], r.code, r.stdout, r.stderr, tt.want)
		}
		for _, c := range testkit.V1Live {
			if strings.Contains(r.stdout+r.stderr, c.ID) {
				t.Fatalf("%s printed the cookie ID %s", tt.args[0], c.ID)
			}
		}
	}
	// A damaged version 1 journal is repaired as version 1.
	damaged := filepath.Join(t.TempDir(), "damaged.dat")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(damaged, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	flipByte(t, damaged, journal.HeaderSize)
	if r := runCLI(t, "repair", damaged); r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("repaired: kept %d frames", testkit.V1JournalFrames-1)) {
		t.Fatalf("repair of a damaged version 1 journal: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, "verify", damaged); r.code != 0 || !strings.Contains(r.stdout, "ok, format version 1,") {
		t.Fatalf("verify after repair: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	r := runCLI(t, "compact", path)
	if want := fmt.Sprintf("compacted from %d to ", fi.Size()); r.code != 0 || !strings.Contains(r.stdout, want) ||
		!strings.Contains(r.stdout, fmt.Sprintf("%d live cookies", len(testkit.V1Live))) ||
		!strings.HasSuffix(r.stdout, ", upgraded from format version 1 to 2\n") {
		t.Fatalf("compact: exit %d, stdout %q, stderr %q; want %q, the cookies and the upgrade", r.code, r.stdout, r.stderr, want)
	}
	raw, err = os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if raw[8] != 2 || bytes.Contains(raw, []byte(testkit.V1Live[0].ID)) {
		t.Fatalf("after compact: version %d, IDs still in the file: %v", raw[8], bytes.Contains(raw, []byte(testkit.V1Live[0].ID)))
	}
	if got := dump(t, path); len(got) != len(testkit.V1Live) || got[0].Type != "cookie" {
		t.Fatalf("after compact, dump shows %d events, first %+v; want %d cookie events", len(got), got[0], len(testkit.V1Live))
	}
}
