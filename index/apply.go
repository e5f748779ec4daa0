package index

import (
	"fmt"
	"slices"

	"cookiestore/record"
)

// Apply applies one event, as a payload holds it, to the index, without
// looking at the clock: Create and Cookie store the whole cookie (Create
// with no auth), replacing any entry with its digest; Update replaces the
// auth tuple of an entry, and is ignored if there is none; Delete removes
// the entry. Other kinds are ignored. The index copies what it keeps of v.
//
// Applying the events of an index's successful calls in order, one Create
// or Cookie per Create, one Update per SetAuth, one Cookie and one Delete
// per Rotate, and one Delete per Delete and per digest that DeleteByAuthID
// returned, gives an index whose live cookies are those of the original at
// any time from the latest clock reading on. Applying an event twice in a
// row is the same as applying it once.
//
// v.Extra must be an authextra that [record.Parse] accepted, as every
// View it fills holds: the index stores it as it is, and decodes it when a
// caller asks for the cookie.
func (x *Index) Apply(v *record.View) {
	sh, tag := x.shard(v.Digest)
	sh.mu.Lock()
	sh.apply(tag, v)
	sh.mu.Unlock()
}

// apply applies v, whose digest has tag; the caller holds mu.
func (sh *shard) apply(tag uint32, v *record.View) {
	switch v.Kind {
	case record.KindCreate:
		sh.put(tag, v.Digest, v.Created, v.MaxAge, nil)
	case record.KindCookie:
		a := authOfView(v)
		sh.put(tag, v.Digest, v.Created, v.MaxAge, &a)
	case record.KindUpdate:
		if pos, ok := sh.find(tag, v.Digest); ok {
			a := authOfView(v)
			sh.setAuth(pos, &a)
		}
	case record.KindDelete:
		if pos, ok := sh.find(tag, v.Digest); ok {
			sh.removeAt(pos)
		}
	}
}

// ApplyEvent applies one decoded event, as Apply does. It fails, changing
// nothing, only if the event's authextra cannot be encoded as an event's:
// the index keeps authextras encoded.
func (x *Index) ApplyEvent(e *record.Event) error {
	v := record.View{Kind: e.Kind, Digest: e.Digest, Reason: e.Reason, Successor: e.Successor}
	switch e.Kind {
	case record.KindCreate, record.KindCookie:
		v.Created, v.MaxAge = e.Created.UnixNano(), int64(e.MaxAge)
	}
	if e.Kind == record.KindUpdate || e.Kind == record.KindCookie {
		a, bp, err := x.encodeAuth(&e.Auth)
		defer x.putBuf(bp)
		if err != nil {
			return fmt.Errorf("apply %s: %w", e.Kind, err)
		}
		v.AuthID, v.AuthRole, v.AuthMethod, v.AuthRealm, v.Extra = a.id, a.role, a.method, a.realm, a.extra
	}
	x.Apply(&v)
	return nil
}

// applyWindow is how many digests ApplyShard looks up ahead: enough to
// keep many memory fetches in flight, few enough that their cache lines
// stay in L1.
const applyWindow = 64

// ApplyShard applies views[i] for each i of pick, in that order, as Apply
// would; every one of them must be on a cookie of shard k (see [ShardOf]),
// or ApplyShard panics. It takes the shard's lock once, and looks up a run
// of digests before it changes anything, so that the processor fetches
// their positions from memory together instead of one cache miss after
// another: several times faster than Apply for thousands of events on an
// index too big for the processor's caches. Calls for different shards
// may run concurrently, which is how a replay uses more than one core.
func (x *Index) ApplyShard(k int, views []record.View, pick []int32) {
	sh := &x.shards[k].shard
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for len(pick) > 0 {
		run := pick[:min(len(pick), applyWindow)]
		pick = pick[len(run):]
		_ = sh.touch(views, run)
		for _, i := range run {
			v := &views[i]
			h := hash(v.Digest)
			if int(h>>(64-shardBits)) != k {
				panic(fmt.Sprintf("index: ApplyShard(%d) given a cookie of shard %d", k, h>>(64-shardBits)))
			}
			sh.apply(tagOf(h), v)
		}
	}
}

// touch reads the home positions of the digests of views[i] for each i of
// run, so that the processor fetches them together. The sum it returns
// keeps the reads from being optimized away, but only if touch is not
// inlined: inlined into a caller that drops the sum, the reads went away
// with it.
//
//go:noinline
func (sh *shard) touch(views []record.View, run []int32) uint32 {
	n := len(sh.tags)
	if n == 0 {
		return 0
	}
	var sum uint32
	for _, i := range run {
		p := home(tagOf(hash(views[i].Digest)), n)
		sum += sh.tags[p] + sh.slots[p].life
	}
	return sum
}

// ApplyAll applies views in order; the result is the same as calling Apply
// for each, and it is as fast as ApplyShard: events on one cookie keep
// their order, and only events on different cookies, which commute, are
// reordered.
func (x *Index) ApplyAll(views []record.View) {
	var start [Shards + 1]int32
	for i := range views {
		start[ShardOf(views[i].Digest)+1]++
	}
	for k := 1; k <= Shards; k++ {
		start[k] += start[k-1]
	}
	order := make([]int32, len(views))
	next := start
	for i := range views {
		k := ShardOf(views[i].Digest)
		order[next[k]] = int32(i)
		next[k]++
	}
	for k := range Shards {
		if start[k] < start[k+1] {
			x.ApplyShard(k, views, order[start[k]:start[k+1]])
		}
	}
}

// Size is an estimate of what an index will hold, for [Index.Reserve].
type Size struct {
	Cookies    int // cookies
	Logins     int // of which logged in
	ExtraBytes int // bytes of their authextras, encoded
}

// Reserve makes room for what s says will be added, so that loading many
// cookies, as a replay does, does not grow the index step by step along the
// way. A reserved index is somewhat less dense than a grown one when the
// estimate is high, so s should be an estimate, not a generous bound.
func (x *Index) Reserve(s Size) {
	if s.Cookies <= 0 && s.Logins <= 0 && s.ExtraBytes <= 0 {
		return
	}
	per := func(n int) int { return max(0, n) / Shards * 33 / 32 } // a little above the mean, as shards differ
	if s.Logins > 0 {
		x.names.reserve(s.Logins)
	}
	for i := range x.shards {
		sh := &x.shards[i].shard
		sh.mu.Lock()
		sh.reserve(per(s.Cookies))
		sh.auths = slices.Grow(sh.auths, per(s.Logins))
		sh.extras = slices.Grow(sh.extras, per(s.ExtraBytes))
		sh.mu.Unlock()
	}
}
