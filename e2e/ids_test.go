package e2e

import (
	"strings"
	"sync"
	"testing"

	"cookiestore/record"
)

// TestIssuedIDsAreUnguessable looks at the cookies that two servers with
// the default randomness issue to new visitors: 24 symbols each (144
// bits), every one of the 64 symbols used at every position, symbols
// uniformly spread, and no ID in common between two servers, which a
// seeded or time-based source would fail. The uniqueness check on create
// is httpd's TestCreateRetriesOnCollision.
func TestIssuedIDsAreUnguessable(t *testing.T) {
	const perServer = 1000
	var ids []string
	for range 2 {
		ts := startServer(t, trackingConfig(86400, ""), t.TempDir(), serverOptions{})
		ids = append(ids, issue(t, ts.wsURL(), perServer)...)
		if err := ts.stop(); err != nil {
			t.Fatal(err)
		}
	}

	seen := make(map[string]bool, len(ids))
	counts := map[byte]int{}
	perPos := make([]map[byte]bool, record.DefaultIDLength)
	for i := range perPos {
		perPos[i] = map[byte]bool{}
	}
	for _, id := range ids {
		if !record.ValidID(id, record.DefaultIDLength) {
			t.Fatalf("an issued ID of %d characters is not a valid 24-symbol ID", len(id))
		}
		if seen[id] {
			t.Fatal("an ID was issued twice (by one server, or by both)")
		}
		seen[id] = true
		for i := range len(id) {
			counts[id[i]]++
			perPos[i][id[i]] = true
		}
	}
	for i, syms := range perPos {
		if len(syms) != len(idAlphabet) {
			t.Fatalf("position %d used %d of the 64 symbols over %d IDs: not 6 random bits", i, len(syms), len(ids))
		}
	}
	// Pearson's chi-square over the 64 symbols (63 degrees of freedom);
	// 132 is exceeded by chance once in a million runs.
	total := float64(len(ids) * record.DefaultIDLength)
	want := total / float64(len(idAlphabet))
	chi2 := 0.0
	for _, c := range []byte(idAlphabet) {
		d := float64(counts[c]) - want
		chi2 += d * d / want
	}
	t.Logf("%d IDs from 2 servers, all distinct; chi-square of the symbols %.1f (63 df)", len(ids), chi2)
	if chi2 > 132 {
		t.Fatalf("symbol counts are not uniform: chi-square %.1f > 132 (63 df, p < 1e-6)", chi2)
	}
}

// issue makes n new visitors on url and returns their cookies.
func issue(t *testing.T, url string, n int) []string {
	t.Helper()
	var mu sync.Mutex
	var ids, errs []string
	var wg sync.WaitGroup
	work := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			for range work {
				c, err := dial(url)
				mu.Lock()
				if err != nil {
					errs = append(errs, err.Error())
				} else {
					c.close()
					ids = append(ids, c.cookie)
				}
				mu.Unlock()
			}
		})
	}
	for range n {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d handshakes failed: %s", len(errs), strings.Join(errs[:1], ""))
	}
	return ids
}
