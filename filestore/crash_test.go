package filestore

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cookiestore/internal/testkit"
	"cookiestore/journal"
	"cookiestore/record"
)

// The crash tests run this test binary again as a child process, which does
// the work selected by crashChildEnv and prints a line for every call that
// returned. The parent kills it with SIGKILL at a random moment and checks
// that everything acknowledged survived.
const (
	crashChildEnv = "COOKIESTORE_CRASH_CHILD"
	crashPathEnv  = "COOKIESTORE_CRASH_PATH"
	crashRoundEnv = "COOKIESTORE_CRASH_ROUND"
)

func TestMain(m *testing.M) {
	switch os.Getenv(crashChildEnv) {
	case "":
		os.Exit(m.Run())
	case "append":
		crashChildAppend(os.Getenv(crashPathEnv), os.Getenv(crashRoundEnv))
	case "compact":
		crashChildCompact(os.Getenv(crashPathEnv), os.Getenv(crashRoundEnv))
	default:
		fmt.Fprintln(os.Stderr, "unknown crash child mode")
		os.Exit(2)
	}
}

// ackWriter serialises acknowledgement lines from many goroutines; each line
// goes out in one write, straight to the pipe, so a line that the parent
// reads whole was printed after its call returned.
type ackWriter struct{ mu sync.Mutex }

func (a *ackWriter) ack(format string, args ...any) {
	a.mu.Lock()
	fmt.Fprintf(os.Stdout, format+"\n", args...)
	a.mu.Unlock()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "child:", err)
	os.Exit(3)
}

// crashChildAppend writes cookies from 8 goroutines with sync=always until
// it is killed. Each cookie goes through create, login, and for every third
// one a logout, in that order.
func crashChildAppend(path, round string) {
	s, err := Open(path, Options{Clock: testkit.NewClock().Now, Sync: journal.SyncAlways, JanitorInterval: -1, CompactMinBytes: 256 << 10})
	if err != nil {
		fail(err)
	}
	var acks ackWriter
	acks.ack("ready")
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				cid := fmt.Sprintf("r%s-w%d-%012d", round, w, i)
				if err := s.Create(record.Cookie{Digest: dg(cid), Created: t0, MaxAge: time.Hour}); err != nil {
					fail(err)
				}
				acks.ack("c %s", cid)
				if err := s.SetAuth(dg(cid), record.Auth{AuthID: "user" + cid, AuthMethod: "ticket"}); err != nil {
					fail(err)
				}
				acks.ack("a %s", cid)
				if i%3 == 0 {
					if err := s.Delete(dg(cid), record.ReasonLogout); err != nil {
						fail(err)
					}
					acks.ack("d %s", cid)
				}
			}
		}()
	}
	wg.Wait()
}

// runChild starts a crash child, waits for its "ready" line, lets it run
// for a random time, kills it, and returns every line it printed.
func runChild(t *testing.T, mode, path string, round int, rng *rand.Rand, maxRun time.Duration, killWhen func(line string) bool) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+mode, crashPathEnv+"="+path, fmt.Sprint(crashRoundEnv, "=", round))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var out []string
	kill := func() { _ = cmd.Process.Signal(syscall.SIGKILL) }
	ready := false
	timer := time.NewTimer(30 * time.Second) // bound: a child that never gets ready
	defer timer.Stop()
	for line := range lines {
		out = append(out, line)
		if !ready && line == "ready" {
			ready = true
			timer.Reset(time.Duration(rng.Int64N(int64(maxRun))))
		}
		if killWhen != nil && killWhen(line) {
			kill()
		}
		select {
		case <-timer.C:
			kill()
		default:
		}
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("round %d: child ended by itself (%v): %s", round, err, stderr.String())
	}
	if !ready {
		t.Fatalf("round %d: child never got ready: %s", round, stderr.String())
	}
	return out
}

func TestCrashDuringAppendsKeepsAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes; skipped with -short")
	}
	path := filepath.Join(t.TempDir(), "cookies.dat")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	type state struct{ created, authed, deleted bool }
	acked := map[string]*state{}
	const rounds = 20
	for round := range rounds {
		lines := runChild(t, "append", path, round, rng, 300*time.Millisecond, nil)
		for _, l := range lines {
			op, cid, ok := strings.Cut(l, " ")
			if !ok {
				continue
			}
			st := acked[cid]
			if st == nil {
				st = &state{}
				acked[cid] = st
			}
			switch op {
			case "c":
				st.created = true
			case "a":
				st.authed = true
			case "d":
				st.deleted = true
			}
		}
		// The parent opens the journal the child was killed on: it must open
		// cleanly and hold every acknowledged call.
		s, err := Open(path, Options{Clock: testkit.NewClock().Now, JanitorInterval: -1, CompactMinBytes: -1})
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		for cid, st := range acked {
			// Every third cookie of a writer is logged out after its login,
			// so a durable but unacknowledged logout may have removed it.
			var n int
			if _, err := fmt.Sscanf(cid[strings.LastIndex(cid, "-")+1:], "%d", &n); err != nil {
				t.Fatalf("bad acknowledged id %q", cid)
			}
			mayBeGone := n%3 == 0
			c, present := s.Get(dg(cid))
			switch {
			case st.deleted && present:
				t.Fatalf("round %d: %s was logged out (acknowledged) but is back", round, cid)
			case st.deleted:
			case !present && !mayBeGone:
				t.Fatalf("round %d: acknowledged cookie %s is missing", round, cid)
			case present && st.authed && c.Auth.AuthID != "user"+cid:
				t.Fatalf("round %d: acknowledged login on %s is missing: %+v", round, cid, c.Auth)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if len(acked) < rounds {
		t.Fatalf("only %d cookies acknowledged over %d rounds; the children did no work", len(acked), rounds)
	}
	t.Logf("%d cookies acknowledged over %d kills", len(acked), rounds)
}

// crashChildCompact keeps creating cookies and compacting the journal until
// it is killed.
func crashChildCompact(path, round string) {
	var acks ackWriter
	s, err := Open(path, Options{Clock: testkit.NewClock().Now, Sync: journal.SyncAlways, JanitorInterval: -1, CompactMinBytes: -1,
		FS: testkit.NewFaultFS[journal.File](journal.OSFS(), testkit.Faults{OnRename: func(_, _ string, renamed bool) {
			// Announce each step of the rename and pause there, so
			// that the parent can kill the child on either side of it.
			if renamed {
				acks.ack("rename-end")
			} else {
				acks.ack("rename-begin")
			}
			time.Sleep(100 * time.Millisecond)
		}})})
	if err != nil {
		fail(err)
	}
	acks.ack("ready")
	for k := 0; ; k++ {
		cid := fmt.Sprintf("k%s-%018d", round, k)
		if err := s.Create(record.Cookie{Digest: dg(cid), Created: t0, MaxAge: time.Hour}); err != nil {
			fail(err)
		}
		acks.ack("c %s", cid)
		if k%20 == 19 {
			if _, err := s.Compact(); err != nil {
				fail(err)
			}
			acks.ack("compacted")
		}
	}
}

func TestCrashDuringCompactionKeepsEveryCookie(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes; skipped with -short")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "cookies.dat")
	// A journal with churn: 20,000 cookies, each logged in twice, half of
	// them logged out again.
	s := open(t, path, Options{Sync: journal.SyncNone, JanitorInterval: -1, CompactMinBytes: -1})
	live := map[string]bool{}
	for i := range 20000 {
		cid := id(i)
		if err := s.Create(record.Cookie{Digest: dg(cid), Created: t0, MaxAge: time.Hour}); err != nil {
			t.Fatal(err)
		}
		for k := range 2 {
			if err := s.SetAuth(dg(cid), record.Auth{AuthID: fmt.Sprint("user", i%100), AuthRole: fmt.Sprint("role", k)}); err != nil {
				t.Fatal(err)
			}
		}
		live[cid] = i%2 == 1
		if i%2 == 0 {
			if err := s.Delete(dg(cid), record.ReasonLogout); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	const rounds = 21
	kills := map[string]int{}
	for round := range rounds {
		mode := []string{"random", "before-rename", "after-rename"}[round%3]
		var killOn func(string) bool
		switch mode {
		case "before-rename":
			killOn = func(l string) bool { return l == "rename-begin" }
		case "after-rename":
			killOn = func(l string) bool { return l == "rename-end" }
		}
		lines := runChild(t, "compact", path, round, rng, 1500*time.Millisecond, killOn)
		compactions := 0
		for _, l := range lines {
			if cid, ok := strings.CutPrefix(l, "c "); ok {
				live[cid] = true
			}
			if l == "compacted" {
				compactions++
			}
		}
		kills[mode]++
		s, err := Open(path, Options{Clock: testkit.NewClock().Now, JanitorInterval: -1, CompactMinBytes: -1})
		if err != nil {
			t.Fatalf("round %d (%s): reopen after SIGKILL: %v", round, mode, err)
		}
		for cid, want := range live {
			if _, got := s.Get(dg(cid)); got != want {
				t.Fatalf("round %d (%s, after %d compactions): cookie %s present=%v, want %v", round, mode, compactions, cid, got, want)
			}
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.Contains(e.Name(), ".compact-") {
				t.Fatalf("round %d: temporary file %s left after open", round, e.Name())
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("kills: %v", kills)
}
