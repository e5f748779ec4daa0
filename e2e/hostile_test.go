package e2e

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"cookiestore/internal/testkit"
	"cookiestore/record"
)

// The hostile-cookie test: handshakes with Cookie headers drawn from a
// fixed seed, so that a failure is reproducible.

const (
	hostileHandshakes = 10_000
	hostileWorkers    = 16
	hostileSeed       = 20261126
	// headerBudget keeps a header under the server's 64 KiB limit with the
	// handshake's other headers; overLimit is past it.
	headerBudget = 60 << 10
	overLimit    = 80 << 10
)

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// outcome is what a hostile handshake must get.
type outcome int

const (
	fresh  outcome = iota // 101, a new visitor with a new cookie that was offered nowhere
	reuse                 // 101, the issued cookie the case names, no Set-Cookie
	reject                // an HTTP error from the server's header parser, no Set-Cookie
)

type hostileCase struct {
	kind   string
	lines  []string // Cookie header lines
	want   outcome
	reuse  string // the issued ID that must be reused (reuse)
	status int    // the expected HTTP status (reject)
}

// hostileGen draws cases from rand, with the IDs the store has issued.
type hostileGen struct {
	r      *rand.Rand
	issued []string
}

// id returns n symbols of the ID alphabet. Past 256 symbols the random
// part repeats: the server's work is the same, and drawing every byte of a
// 60 KiB value is slow under the race detector.
func (g *hostileGen) id(n int) string {
	b := make([]byte, min(n, 256))
	for i := range b {
		b[i] = idAlphabet[g.r.IntN(len(idAlphabet))]
	}
	return repeatTo(string(b), n)
}

func repeatTo(s string, n int) string {
	if len(s) >= n {
		return s[:n]
	}
	return strings.Repeat(s, n/len(s)+1)[:n]
}

// oddBytes returns n bytes that net/http lets through in a header value
// (no control characters) but that a cookie parser may trip on.
func (g *hostileGen) oddBytes(n int) string {
	const odd = ` ;=,"'\{}[]:%&+/?#@!$()*<>|^~` + "`\t"
	var b strings.Builder
	for b.Len() < min(n, 256) {
		switch g.r.IntN(4) {
		case 0:
			b.WriteByte(odd[g.r.IntN(len(odd))])
		case 1:
			b.WriteByte(byte(0x80 + g.r.IntN(0x80))) // obs-text, invalid UTF-8 too
		default:
			b.WriteByte(idAlphabet[g.r.IntN(len(idAlphabet))])
		}
	}
	return repeatTo(b.String(), n)
}

func (g *hostileGen) junkCookie() string {
	switch g.r.IntN(5) {
	case 0:
		return fmt.Sprintf(`prefs={"theme":"dark","ids":[%d,%d],"q":"a;b=c"}`, g.r.IntN(100), g.r.IntN(100))
	case 1:
		return "_ga=GA1.2." + g.id(10) + "." + g.id(10)
	case 2:
		return g.oddBytes(1 + g.r.IntN(40))
	case 3:
		return "session=" + g.id(32)
	default:
		return g.id(1+g.r.IntN(8)) + "=" + g.oddBytes(g.r.IntN(30))
	}
}

// mutate changes one character of an issued ID to another symbol: a
// valid-looking ID that the store never issued.
func (g *hostileGen) mutate(id string) string {
	b := []byte(id)
	i := g.r.IntN(len(b))
	for old := b[i]; b[i] == old; {
		b[i] = idAlphabet[g.r.IntN(len(idAlphabet))]
	}
	return string(b)
}

func (g *hostileGen) next() hostileCase {
	issued := g.issued[g.r.IntN(len(g.issued))]
	switch k := g.r.IntN(14); k {
	case 0:
		return hostileCase{kind: "no cookie", want: fresh}
	case 1:
		return hostileCase{kind: "unknown valid-looking ID", lines: []string{"cbtid=" + g.id(24)}, want: fresh}
	case 2:
		return hostileCase{kind: "issued ID off by one symbol", lines: []string{"cbtid=" + g.mutate(issued)}, want: fresh}
	case 3:
		// The name repeated, each time with a forged ID, over one or
		// several header lines.
		n := 2 + g.r.IntN(400)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = "cbtid=" + g.id(24)
		}
		return hostileCase{kind: "name repeated", lines: splitLines(g.r, parts), want: fresh}
	case 4:
		n := 10 + g.r.IntN(1500)
		parts := make([]string, 0, n+1)
		for range n {
			parts = append(parts, g.junkCookie())
		}
		parts = append(parts, "cbtid="+g.id(24))
		g.r.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
		return hostileCase{kind: "many cookies", lines: splitLines(g.r, fit(parts)), want: fresh}
	case 5:
		return hostileCase{kind: "huge value", lines: []string{"cbtid=" + g.id(1+g.r.IntN(headerBudget-16))}, want: fresh}
	case 6:
		return hostileCase{kind: "huge odd value", lines: []string{"cbtid=" + g.oddBytes(1+g.r.IntN(headerBudget-16))}, want: fresh}
	case 7:
		// Near misses of the issued ID: another name that contains it,
		// another case, extra or missing characters, odd bytes around it.
		near := []string{
			"xcbtid=" + issued, "cbtidx=" + issued, "CBTID=" + issued, "cb tid=" + issued,
			"cbtid=" + issued + "A", "cbtid=" + issued[1:], "cbtid=" + issued + "\x80",
			"cbtid=" + issued + `"`, `cbtid="` + issued, "cbtid=" + issued[:12] + ";" + issued[12:],
			"cbtid:" + issued, issued, "cbtid=" + strings.ToLower(issued) + "é",
		}
		g.r.Shuffle(len(near), func(i, j int) { near[i], near[j] = near[j], near[i] })
		return hostileCase{kind: "near misses of an issued ID", lines: []string{strings.Join(near[:1+g.r.IntN(len(near))], "; ")}, want: fresh}
	case 8:
		return hostileCase{kind: "odd bytes", lines: []string{"cbtid=" + g.oddBytes(1+g.r.IntN(200)) + "; " + g.junkCookie()}, want: fresh}
	case 9:
		// An issued ID behind garbage, malformed values of the name and
		// forged IDs: still found. Forged valid-looking IDs come after it,
		// so that it is among the first candidates looked up.
		parts := []string{g.junkCookie(), "cbtid=" + g.oddBytes(5), "cbtid=", "cbtid=" + g.id(23)}
		if g.r.IntN(2) == 0 {
			parts = append(parts, `cbtid="`+issued+`"`)
		} else {
			parts = append(parts, " cbtid = "+issued+" ")
		}
		parts = append(parts, "cbtid="+g.id(24), g.junkCookie())
		return hostileCase{kind: "issued ID among garbage", lines: splitLines(g.r, parts), want: reuse, reuse: issued}
	case 10:
		return hostileCase{kind: "issued ID", lines: []string{"cbtid=" + issued}, want: reuse, reuse: issued}
	case 11:
		// Control characters are not allowed in a header value.
		ctl := string(rune(g.r.IntN(0x20)))
		if ctl == "\t" || ctl == "\n" || ctl == "\r" {
			ctl = "\x7f"
		}
		return hostileCase{kind: "control byte", lines: []string{"cbtid=" + issued + ctl}, want: reject, status: http.StatusBadRequest}
	case 12:
		return hostileCase{kind: "over the header limit", lines: []string{"cbtid=" + issued + "; pad=" + g.id(overLimit)}, want: reject, status: http.StatusRequestHeaderFieldsTooLarge}
	default:
		// Many header lines, each a little sloppy.
		parts := []string{}
		for range 1 + g.r.IntN(50) {
			parts = append(parts, "cbtid="+g.id(6+g.r.IntN(60)))
		}
		return hostileCase{kind: "sloppy lines", lines: splitLines(g.r, parts), want: fresh}
	}
}

// fit drops cookies from the end until the header fits the budget.
func fit(parts []string) []string {
	for len(strings.Join(parts, "; ")) > headerBudget {
		parts = parts[:len(parts)*9/10]
	}
	return parts
}

// splitLines joins parts into one to four Cookie header lines.
func splitLines(r *rand.Rand, parts []string) []string {
	n := 1 + r.IntN(4)
	var lines []string
	per := (len(parts) + n - 1) / n
	for len(parts) > 0 {
		k := min(per, len(parts))
		lines = append(lines, strings.Join(parts[:k], "; "))
		parts = parts[k:]
	}
	return lines
}

// TestHostileCookieHeaders makes 10,000 handshakes with Cookie headers from
// a fuzz-style table: no cookie, forged and mutated IDs, the name repeated
// hundreds of times, hundreds of other cookies, values up to the header
// limit, odd and invalid bytes, near misses of an issued ID. The server
// must stay up, reuse only IDs that it issued, and give every other
// handshake a new visitor with a fresh cookie, never an offered value.
func TestHostileCookieHeaders(t *testing.T) {
	logger, logs := testkit.DebugLogger()
	ts := startServer(t, trackingConfig(86400, ""), t.TempDir(), serverOptions{logger: logger})
	url := ts.wsURL()

	// The IDs the store has issued, with their visitor names.
	g := &hostileGen{r: rand.New(rand.NewPCG(hostileSeed, 0))}
	visitor := map[string]string{}
	for range 16 {
		c := mustDial(t, url, "")
		c.close()
		g.issued = append(g.issued, c.cookie)
		visitor[c.cookie] = c.hello.Visitor
	}

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		seen     = map[string]bool{} // every cookie issued during the run
		failures []string
		kinds    = map[string]int{}
	)
	fail := func(i int, c hostileCase, format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, fmt.Sprintf("case %d (%s): %s", i, c.kind, fmt.Sprintf(format, args...)))
	}
	cases := make(chan int)
	start := time.Now()
	for range hostileWorkers {
		wg.Go(func() {
			for i := range cases {
				// Each case has its own stream, so the table does not
				// depend on the order the workers take cases in.
				cg := &hostileGen{r: rand.New(rand.NewPCG(hostileSeed, uint64(i)+1)), issued: g.issued}
				c := cg.next()
				mu.Lock()
				kinds[c.kind]++
				mu.Unlock()
				checkHostile(url, i, c, visitor, fail, func(id string) bool {
					mu.Lock()
					defer mu.Unlock()
					dup := seen[id]
					seen[id] = true
					return dup
				})
			}
		})
	}
	for i := range hostileHandshakes {
		cases <- i
	}
	close(cases)
	wg.Wait()
	took := time.Since(start)
	t.Logf("%d hostile handshakes in %v (%.0f/s); by kind: %v", hostileHandshakes, took.Round(time.Millisecond),
		hostileHandshakes/took.Seconds(), kinds)
	if len(failures) > 0 {
		t.Fatalf("%d of %d handshakes went wrong; first ones:\n%s", len(failures), hostileHandshakes,
			strings.Join(failures[:min(10, len(failures))], "\n"))
	}

	// The server is up, every connection is gone, and the store holds the
	// issued cookies and one per new visitor: nothing for the refusals.
	waitUntil(t, 10*time.Second, "connections to close", func() bool { return ts.status().Connections == 0 })
	if got, want := ts.status().Cookies, len(g.issued)+len(seen); got != want {
		t.Fatalf("the store holds %d cookies, want the %d issued and %d new visitors = %d", got, len(g.issued), len(seen), want)
	}
	log := logs.String()
	for _, id := range g.issued {
		if strings.Contains(log, id) {
			t.Fatal("an issued cookie value appears in the server's log")
		}
	}
}

// checkHostile makes one handshake and checks its outcome. dup records a
// newly issued ID and reports whether it was issued before.
func checkHostile(url string, i int, c hostileCase, visitor map[string]string,
	fail func(int, hostileCase, string, ...any), dup func(string) bool) {
	ws, err := dial(url, c.lines...)
	if c.want == reject {
		var he *handshakeError
		switch {
		case err == nil:
			ws.close()
			fail(i, c, "accepted (new %v), want HTTP %d", ws.hello.New, c.status)
		case !errors.As(err, &he) || he.status != c.status:
			fail(i, c, "%v, want HTTP %d", err, c.status)
		case len(he.header.Values("Set-Cookie")) != 0:
			fail(i, c, "a refused handshake set a cookie")
		}
		return
	}
	if err != nil {
		fail(i, c, "handshake failed: %v", err)
		return
	}
	ws.close()
	offered := strings.Join(c.lines, "\n")
	switch c.want {
	case reuse:
		if ws.hello.New || ws.cookie != "" || ws.hello.Visitor != visitor[c.reuse] {
			fail(i, c, "the issued cookie was not reused: new %v, cookie set %v", ws.hello.New, ws.cookie != "")
		}
	case fresh:
		switch {
		case !ws.hello.New || ws.cookie == "":
			fail(i, c, "accepted an offered cookie: new %v, cookie set %v", ws.hello.New, ws.cookie != "")
		case !record.ValidID(ws.cookie, record.DefaultIDLength):
			fail(i, c, "the new cookie is not a valid ID")
		case strings.Contains(offered, ws.cookie):
			fail(i, c, "the new cookie is a value the client offered")
		case visitor[ws.cookie] != "" || dup(ws.cookie):
			fail(i, c, "the new cookie was issued before")
		}
	}
}

// waitUntil polls cond until it holds or the time is up.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}
