package index

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	"cookiestore/record"
)

// ValidateNew reports what makes c unfit to be created: a zero digest, a
// creation time that is unset or outside what int64 nanoseconds hold (the
// journal's encoding), or a lifetime that is not positive. Every backend
// checks it before it stores anything.
func ValidateNew(c record.Cookie) error {
	switch {
	case c.Digest.IsZero():
		return errors.New("create cookie: zero digest")
	case c.Created.IsZero():
		return errors.New("create cookie: creation time not set")
	case !time.Unix(0, c.Created.UnixNano()).Equal(c.Created):
		return fmt.Errorf("create cookie: creation time %v is outside the years 1678 to 2262", c.Created)
	case c.MaxAge <= 0:
		return fmt.Errorf("create cookie: max age must be positive, got %v", c.MaxAge)
	}
	return nil
}

// authOfView returns the auth tuple of v.
func authOfView(v *record.View) auth {
	return auth{id: v.AuthID, role: v.AuthRole, method: v.AuthMethod, realm: v.AuthRealm, extra: v.Extra}
}

// encodeAuth returns a as the index takes it in, and the pooled buffer
// that holds its authextra, if it has one, for putBuf once the index has
// copied it.
// The strings' bytes are only read.
func (x *Index) encodeAuth(a *record.Auth) (auth, *[]byte, error) {
	in := auth{id: bytesOf(a.AuthID), role: bytesOf(a.AuthRole), method: bytesOf(a.AuthMethod), realm: bytesOf(a.AuthRealm)}
	if len(a.AuthExtra) == 0 {
		return in, nil, nil
	}
	bp := x.bufs.Get().(*[]byte)
	b, err := record.AppendExtra((*bp)[:0], a.AuthExtra)
	if err != nil {
		x.putBuf(bp)
		return auth{}, nil, err
	}
	*bp, in.extra = b, b
	return in, bp, nil
}

// putBuf returns a buffer of encodeAuth to the pool; nil is none.
func (x *Index) putBuf(bp *[]byte) {
	if bp != nil && cap(*bp) <= 64<<10 {
		x.bufs.Put(bp)
	}
}

// Create adds cookie c, with its auth if it carries one. It fails with
// [ErrExists] if a live cookie has the same digest; an expired one is
// replaced. c must pass [ValidateNew], and its authextra must be
// encodable as an event's.
func (x *Index) Create(c record.Cookie) error {
	if err := ValidateNew(c); err != nil {
		return err
	}
	a, bp, err := x.encodeAuth(&c.Auth)
	defer x.putBuf(bp)
	if err != nil {
		return fmt.Errorf("create cookie: %w", err)
	}
	now := x.now()
	sh, tag := x.shard(c.Digest)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if pos, ok := sh.find(tag, c.Digest); ok {
		s := &sh.slots[pos]
		if !expired(s.created, sh.lifetime(s), now) {
			return ErrExists
		}
	}
	sh.put(tag, c.Digest, c.Created.UnixNano(), int64(c.MaxAge), &a)
	return nil
}

// Rotate replaces the live cookie old by next, which carries the auth of a
// login: next is created and old deleted, as one step. It fails with
// [ErrNotFound], changing nothing, if old is not live, and with [ErrExists]
// if next is.
func (x *Index) Rotate(old record.Digest, next record.Cookie) error {
	if err := ValidateNew(next); err != nil {
		return err
	}
	if old == next.Digest {
		return ErrExists
	}
	a, bp, err := x.encodeAuth(&next.Auth)
	defer x.putBuf(bp)
	if err != nil {
		return fmt.Errorf("rotate cookie: %w", err)
	}
	now := x.now()
	so, to := x.shard(old)
	sn, tn := x.shard(next.Digest)
	// Both shards' locks, in shard order, so that no reader sees both
	// cookies or neither.
	first, second := so, sn
	if ShardOf(old) > ShardOf(next.Digest) {
		first, second = sn, so
	}
	first.mu.Lock()
	defer first.mu.Unlock()
	if second != first {
		second.mu.Lock()
		defer second.mu.Unlock()
	}
	opos, ok := so.find(to, old)
	if !ok || expired(so.slots[opos].created, so.lifetime(&so.slots[opos]), now) {
		return ErrNotFound
	}
	if npos, had := sn.find(tn, next.Digest); had && !expired(sn.slots[npos].created, sn.lifetime(&sn.slots[npos]), now) {
		return ErrExists
	}
	sn.put(tn, next.Digest, next.Created.UnixNano(), int64(next.MaxAge), &a)
	if so == sn {
		// The insert may have moved entries: find old again.
		opos, _ = so.find(to, old)
	}
	so.removeAt(opos)
	return nil
}

// SetAuth replaces the auth tuple of the live cookie d; the zero Auth
// clears it. It fails with [ErrNotFound] if no live cookie has the digest,
// and if the authextra cannot be encoded as an event's.
func (x *Index) SetAuth(d record.Digest, a record.Auth) error {
	in, bp, err := x.encodeAuth(&a)
	defer x.putBuf(bp)
	if err != nil {
		return fmt.Errorf("set auth: %w", err)
	}
	now := x.now()
	sh, tag := x.shard(d)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	pos, ok := sh.find(tag, d)
	if !ok || expired(sh.slots[pos].created, sh.lifetime(&sh.slots[pos]), now) {
		return ErrNotFound
	}
	sh.setAuth(pos, &in)
	return nil
}

// Delete removes the live cookie d. It fails with [ErrNotFound] if no live
// cookie has the digest; an expired entry is removed all the same.
func (x *Index) Delete(d record.Digest) error {
	now := x.now()
	sh, tag := x.shard(d)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	pos, ok := sh.find(tag, d)
	if !ok {
		return ErrNotFound
	}
	gone := expired(sh.slots[pos].created, sh.lifetime(&sh.slots[pos]), now)
	sh.removeAt(pos)
	if gone {
		return ErrNotFound
	}
	return nil
}

// DeleteByAuthID removes every cookie that authid is logged in on and
// returns the digests of those that were live, sorted. Expired ones are
// removed too but not reported.
func (x *Index) DeleteByAuthID(authid string) []record.Digest {
	return x.byAuthID(authid, true)
}

// DigestsByAuthID returns the digests of the live cookies that authid is
// logged in on, sorted.
func (x *Index) DigestsByAuthID(authid string) []record.Digest {
	return x.byAuthID(authid, false)
}

func (x *Index) byAuthID(authid string, remove bool) []record.Digest {
	if authid == "" {
		return nil
	}
	// The reference stays counted while the shards are visited, so that
	// it cannot be freed and given to another authid meanwhile.
	name, ok := x.names.pin(bytesOf(authid))
	if !ok {
		return nil
	}
	defer x.names.release(name)
	// Where the authid's records are, by shard. A record may be freed, or
	// given to another cookie, before its shard is visited: it counts only
	// if it still has the authid then.
	at := x.names.appendMembers(nil, name)
	slices.Sort(at)
	now := x.now()
	var out []record.Digest
	for len(at) > 0 {
		k := at[0] >> recBits
		n := 1
		for n < len(at) && at[n]>>recBits == k {
			n++
		}
		recs := at[:n]
		at = at[n:]
		sh := &x.shards[k].shard
		if remove {
			sh.mu.Lock()
		} else {
			sh.mu.RLock()
		}
		for _, r := range recs {
			i := r & (maxRecs - 1)
			if int(i) >= len(sh.auths) || sh.auths[i].name != name {
				continue // freed meanwhile: a free record has no authid
			}
			pos := int(sh.auths[i].pos)
			if s := &sh.slots[pos]; !expired(s.created, sh.lifetime(s), now) {
				out = append(out, s.digest)
			}
			if remove {
				sh.removeAt(pos)
			}
		}
		if remove {
			sh.mu.Unlock()
		} else {
			sh.mu.RUnlock()
		}
	}
	slices.SortFunc(out, func(a, b record.Digest) int { return bytes.Compare(a[:], b[:]) })
	return out
}

// PurgeExpired removes every expired entry from the index and returns how
// many it removed.
func (x *Index) PurgeExpired() int {
	now := x.now()
	n := 0
	for i := range x.shards {
		sh := &x.shards[i].shard
		sh.mu.Lock()
		for pos := 0; pos < len(sh.tags); {
			if sh.tags[pos] != 0 {
				if s := &sh.slots[pos]; expired(s.created, sh.lifetime(s), now) {
					sh.removeAt(pos)
					n++
					continue // removeAt may have moved a later entry here
				}
			}
			pos++
		}
		sh.mu.Unlock()
	}
	return n
}

// ExpiredDigests returns the digests of the entries that have expired but
// are still in the index. The file backend journals a Delete for each
// before it removes them, so that a replay under a clock that has jumped
// backwards cannot revive them.
func (x *Index) ExpiredDigests() []record.Digest {
	now := x.now()
	var ds []record.Digest
	for i := range x.shards {
		sh := &x.shards[i].shard
		sh.mu.RLock()
		for pos, tag := range sh.tags {
			if s := &sh.slots[pos]; tag != 0 && expired(s.created, sh.lifetime(s), now) {
				ds = append(ds, s.digest)
			}
		}
		sh.mu.RUnlock()
	}
	return ds
}
