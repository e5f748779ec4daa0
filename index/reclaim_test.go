package index

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cookiestore/internal/testkit"
	"cookiestore/record"
)

// shardFor returns the shard that holds d, for a test that looks inside.
func (x *Index) shardFor(d record.Digest) *shard {
	sh, _ := x.shard(d)
	return sh
}

// TestReclaim churns logins on a few cookies: every login brings a new
// principal and a new kilobyte of authextra. The freed space must be
// reused or reclaimed: the arena, the records and the dict stay about the
// size of what is live, whatever the churn.
func TestReclaim(t *testing.T) {
	clk := testkit.NewClock()
	x := New(Options{Clock: clk.Now})
	const cookies, rounds = 8, 2000
	ids := make([]record.Digest, cookies)
	for i := range ids {
		ids[i] = dg(fmt.Sprint("reclaim", i))
		if err := x.Create(record.Cookie{Digest: ids[i], Created: t0, MaxAge: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	pad := strings.Repeat("x", 1000)
	// Authids short enough to be held in a dict's map, and longer ones.
	name := func(r, i int) string {
		if r%2 == 1 {
			return fmt.Sprintf("a-principal-whose-name-is-longer-than-36-bytes-%d-%d", r, i)
		}
		return fmt.Sprintf("user-%d-%d", r, i)
	}
	var kept []string // strings returned before a reclaim: never written again
	for r := range rounds {
		for i, d := range ids {
			a := record.Auth{AuthID: name(r, i), AuthRole: fmt.Sprint("role", r%3),
				AuthExtra: map[string]any{"pad": pad, "r": int64(r)}}
			if err := x.SetAuth(d, a); err != nil {
				t.Fatal(err)
			}
		}
		if r%100 == 0 {
			c, _ := x.Get(ids[0])
			kept = append(kept, c.Auth.AuthID, c.Auth.AuthRole)
		}
	}
	checkIndex(t, x)
	for i, d := range ids {
		c, ok := x.Get(d)
		if !ok || c.Auth.AuthID != name(rounds-1, i) || c.Auth.AuthExtra["r"] != int64(rounds-1) || c.Auth.AuthExtra["pad"] != pad {
			t.Fatalf("cookie %d after the churn: %+v, %v", i, c.Auth, ok)
		}
	}
	for i := 0; i < len(kept); i += 2 {
		if r := i / 2 * 100; kept[i] != name(r, 0) || kept[i+1] != fmt.Sprint("role", r%3) {
			t.Fatalf("a string returned in round %d changed to %q, %q", r, kept[i], kept[i+1])
		}
	}
	// What each shard holds is bounded by what is live, not by the churn.
	for k := range x.shards {
		sh := &x.shards[k].shard
		if len(sh.auths) > 2*cookies || len(sh.extras) > 2*(cookies*1100+minExtraCompaction) || len(sh.tuples) > 3 {
			t.Fatalf("shard %d after %d logins: %d records, %d bytes of extras, %d tuples", k, cookies*rounds, len(sh.auths), len(sh.extras), len(sh.tuples))
		}
	}
	for k := range x.names.shards {
		sh := &x.names.shards[k]
		if len(sh.ents) > cookies || sh.dead > max(sh.live, dictChunk) {
			t.Fatalf("names shard %d: %d entries, %d dead bytes against %d live", k, len(sh.ents), sh.dead, sh.live)
		}
	}
	// Logging everyone out frees everything.
	for _, d := range ids {
		if err := x.SetAuth(d, record.Auth{}); err != nil {
			t.Fatal(err)
		}
	}
	checkIndex(t, x)
	for k := range x.names.shards {
		if sh := &x.names.shards[k]; len(sh.ents) != 0 || sh.live != 0 || sh.members != nil {
			t.Fatalf("names shard %d keeps %d entries after every logout", k, len(sh.ents))
		}
	}
	for _, d := range ids {
		if sh := x.shardFor(d); sh.extraDead > minExtraCompaction || len(sh.extras)-sh.extraDead != 0 {
			t.Fatalf("an extras arena keeps %d bytes, %d dead, after every logout", len(sh.extras), sh.extraDead)
		}
	}
}

// TestReadsDuringReclaim reads logged-in cookies from several goroutines
// while another churns their logins, so that the extras arenas and the
// dicts' chunks and entries are reclaimed under the readers, who read the
// dicts without their locks; run it with -race. Each
// authextra names its principal: a reader that got bytes of one login and
// the authid of another, or bytes being rewritten, fails.
func TestReadsDuringReclaim(t *testing.T) {
	clk := testkit.NewClock()
	x := New(Options{Clock: clk.Now})
	// Cookies of one shard, so that its arena is reclaimed every few logins.
	var ids []record.Digest
	for i := 0; len(ids) < 8; i++ {
		if d := dg(fmt.Sprint("busy", i)); ShardOf(d) == 0 {
			ids = append(ids, d)
		}
	}
	for _, d := range ids {
		if err := x.Create(record.Cookie{Digest: d, Created: t0, MaxAge: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	// Principals that stay logged in, so that no dict shard empties (which
	// would let everything go) and their dead bytes get reclaimed instead.
	for i := range 1000 {
		c := record.Cookie{Digest: dg(fmt.Sprint("steady", i)), Created: t0, MaxAge: time.Hour,
			Auth: record.Auth{AuthID: fmt.Sprintf("steady-principal-%04d", i)}}
		if err := x.Create(c); err != nil {
			t.Fatal(err)
		}
	}
	pad := strings.Repeat("p", 700)
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		defer stop.Store(true)
		for r := range 2000 {
			for i, d := range ids {
				// Long enough that the freed authids fill the dicts' chunks
				// and get reclaimed, some of them past what an entry holds.
				id := fmt.Sprintf("user-%d-%d-%s", r, i, strings.Repeat("n", 18+r%24))
				if err := x.SetAuth(d, record.Auth{AuthID: id, AuthRealm: fmt.Sprint("realm", r%5), AuthExtra: map[string]any{"id": id, "pad": pad}}); err != nil {
					t.Error(err)
					return
				}
			}
		}
	})
	for g := range 3 {
		wg.Go(func() {
			var kept []record.Cookie
			for n := 0; !stop.Load(); n++ {
				c, ok := x.Get(ids[(n+g)%len(ids)])
				if !ok {
					t.Error("a cookie went missing")
					return
				}
				if c.Auth.AuthID != "" && (c.Auth.AuthExtra["id"] != c.Auth.AuthID || c.Auth.AuthExtra["pad"] != pad) {
					t.Errorf("Get returned authid %q with authextra %v", c.Auth.AuthID, c.Auth.AuthExtra["id"])
					return
				}
				if n%500 == 0 {
					kept = append(kept, c)
				}
			}
			for _, c := range kept {
				if c.Auth.AuthID != "" && c.Auth.AuthExtra["id"] != c.Auth.AuthID {
					t.Errorf("a cookie read earlier changed: %q against %v", c.Auth.AuthID, c.Auth.AuthExtra["id"])
				}
			}
		})
	}
	wg.Go(func() {
		for !stop.Load() {
			for v := range x.Views() {
				if len(v.Extra) > 0 && !strings.Contains(string(v.Extra), string(v.AuthID)) {
					t.Errorf("Views yielded authid %q with another login's authextra", v.AuthID)
					return
				}
			}
		}
	})
	wg.Wait()
	checkIndex(t, x)
}
