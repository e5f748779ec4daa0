package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cookiestore/e2e/internal/childproc"
)

// buildCommand builds the cookiestore binary into a temporary folder and
// returns its path. It is built without the race detector, as the command's
// own tests do: the server code runs under it in the other tests.
func buildCommand(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH; it is needed to build cookiestore")
	}
	bin := filepath.Join(t.TempDir(), "cookiestore")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goTool, "build", "-o", bin, "cookiestore/cmd/cookiestore").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// child is a `cookiestore serve` process, with the URL of its /ws.
type child struct {
	*childproc.Proc
	url string // ws://127.0.0.1:PORT/ws
}

// startChild runs `cookiestore serve --config config --dir dir` on a free
// loopback port and waits until it listens.
func startChild(t *testing.T, bin, config, dir string) *child {
	t.Helper()
	p := childproc.Serve(t, bin, config, dir)
	return &child{Proc: p, url: "ws://" + p.Addr + "/ws"}
}

// ledger is what the clients were told: the cookies delivered in a 101 or
// a rotation's 204, with the login that a rotation's 204 confirmed. Only
// those are promised to survive a crash. A cookie whose rotation was tried
// may be gone (the answer was lost) but never carries a login.
type ledger struct {
	mu        sync.Mutex
	delivered map[string]string // cookie → authid confirmed by its rotation ("" = none)
	tried     map[string]bool   // cookies whose rotation was tried and not confirmed
	replaced  map[string]bool   // cookies that a confirmed rotation replaced
	logins    int
}

func (l *ledger) deliver(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.delivered[id] = ""
}

func (l *ledger) tryLogin(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tried[id] = true
}

func (l *ledger) rotated(old, next, authid string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.delivered, old)
	delete(l.tried, old)
	l.replaced[old] = true
	l.delivered[next] = authid
	l.logins++
}

func (l *ledger) counts() (cookies, logins int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.delivered), l.logins
}

// loadWorker is one client of the crash test: it takes new cookies, logs
// in on some of them and comes back on earlier ones, until the server
// dies or stop is closed.
func loadWorker(url string, seed uint64, l *ledger, stop <-chan struct{}) {
	r := rand.New(rand.NewPCG(seed, 1))
	var mine []string
	for {
		select {
		case <-stop:
			return
		default:
		}
		id := ""
		if len(mine) > 0 && r.IntN(4) == 0 {
			id = mine[r.IntN(len(mine))] // a returning browser
		}
		c, err := dialCookie(url, id)
		if err != nil {
			return // the server is gone
		}
		if c.cookie != "" {
			// The 101 is in: from here on the cookie is promised.
			l.deliver(c.cookie)
			mine = append(mine, c.cookie)
			if r.IntN(2) == 0 {
				authid := []string{"alice", "bob"}[r.IntN(2)]
				l.tryLogin(c.cookie)
				if next, err := c.loginRotate(url, c.cookie, authid); err == nil {
					l.rotated(c.cookie, next, authid)
					mine = append(mine, next)
				}
			}
		}
		c.close()
	}
}

// checkLedger reconnects with every delivered cookie: each must be known
// (hello new:false, no Set-Cookie), logged-in ones authenticated by the
// cookie as their principal, and ones that never tried a login without
// auth.
func checkLedger(t *testing.T, url string, l *ledger) {
	t.Helper()
	l.mu.Lock()
	type entry struct {
		id, authid      string
		tried, replaced bool
	}
	var all []entry
	for id, authid := range l.delivered {
		all = append(all, entry{id, authid, l.tried[id], false})
	}
	for id := range l.replaced {
		all = append(all, entry{id: id, replaced: true})
	}
	l.mu.Unlock()

	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	work := make(chan entry)
	for range 16 {
		wg.Go(func() {
			for e := range work {
				c, err := dialCookie(url, e.id)
				problem := ""
				switch {
				case err != nil:
					problem = err.Error()
				case e.replaced:
					if !c.hello.New || c.hello.Auth != nil {
						problem = fmt.Sprintf("a cookie replaced by a rotation came back: %+v", c.hello)
					}
				case e.tried:
					if c.hello.Auth != nil {
						problem = fmt.Sprintf("a cookie whose rotation was not confirmed has auth %+v", c.hello.Auth)
					}
				case c.hello.New || c.cookie != "":
					problem = "the cookie was forgotten (a new one was issued)"
				case e.authid != "" && (c.hello.Auth == nil || c.hello.Auth.AuthID != e.authid || c.hello.Auth.AuthProvider != "cookie"):
					problem = fmt.Sprintf("the login as %s was forgotten: auth %+v", e.authid, c.hello.Auth)
				case e.authid == "" && c.hello.Auth != nil:
					problem = fmt.Sprintf("a cookie that never logged in has auth %+v", c.hello.Auth)
				}
				if c != nil {
					c.close()
				}
				if problem != "" {
					mu.Lock()
					failures = append(failures, problem)
					mu.Unlock()
				}
			}
		})
	}
	for _, e := range all {
		work <- e
	}
	close(work)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d of %d promised cookies broken after the crash; first: %s", len(failures), len(all), failures[0])
	}
}

// TestServerCrashUnderLoad SIGKILLs a `cookiestore serve` with a durable
// file store while 50 clients take cookies and log in, three times. After
// each restart every cookie that reached a client in a 101, and every
// login answered with welcome, is still there.
func TestServerCrashUnderLoad(t *testing.T) {
	const (
		rounds  = 3
		clients = 50
	)
	bin := buildCommand(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "config.json")
	if err := os.WriteFile(config, []byte(trackingConfig(86400, "always")), 0o600); err != nil {
		t.Fatal(err)
	}
	l := &ledger{delivered: map[string]string{}, tried: map[string]bool{}, replaced: map[string]bool{}}
	r := rand.New(rand.NewPCG(5, 5))

	for round := range rounds {
		c := startChild(t, bin, config, dir)
		checkLedger(t, c.url, l) // what the earlier rounds were promised

		before, beforeLogins := l.counts()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var running atomic.Int64
		for i := range clients {
			running.Add(1)
			wg.Go(func() {
				defer running.Add(-1)
				loadWorker(c.url, uint64(round*clients+i), l, stop)
			})
		}
		// Kill at a random moment once the load is well under way: some
		// cookies and logins confirmed, many requests in flight.
		deadline := time.Now().Add(20 * time.Second)
		for {
			n, logins := l.counts()
			if n-before >= 100 && logins-beforeLogins >= 20 {
				break
			}
			if time.Now().After(deadline) {
				close(stop)
				wg.Wait()
				t.Fatalf("round %d: only %d cookies and %d logins in 20 s; logs:\n%s", round, n-before, logins-beforeLogins, c.Stderr())
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Duration(r.IntN(200)) * time.Millisecond)
		inFlight := running.Load()
		c.Kill()
		close(stop)
		wg.Wait()
		n, logins := l.counts()
		t.Logf("round %d: killed with %d clients running; %d cookies and %d logins confirmed this round",
			round, inFlight, n-before, logins-beforeLogins)
		if inFlight < clients/2 {
			t.Errorf("round %d: only %d clients were running at the kill", round, inFlight)
		}
	}

	c := startChild(t, bin, config, dir)
	checkLedger(t, c.url, l)
	n, logins := l.counts()
	t.Logf("after %d crashes: all %d delivered cookies and %d confirmed logins intact", rounds, n, logins)
	c.Stop(t)
	if strings.Contains(c.Stderr(), "panic") {
		t.Fatalf("the server panicked:\n%s", c.Stderr())
	}
}
