package index

import (
	"encoding/binary"
	"errors"
	"sync"
	"time"
	"unsafe"

	"cookiestore/record"
)

// ErrExists is returned by [Index.Create] and [Index.Rotate] when a live
// cookie already has the digest. Every backend returns it (memstore and
// filestore export this value), so that callers test for it with errors.Is
// whatever the backend.
var ErrExists = errors.New("a live cookie with this digest exists")

// ErrNotFound is returned when no live cookie has the digest. Every backend
// returns it.
var ErrNotFound = errors.New("no such cookie")

// Shards is the number of shards; [ShardOf] says which one holds a cookie.
// 64 keep lock contention negligible on machines with dozens of cores while
// costing only a few kilobytes.
const Shards = 1 << shardBits

const shardBits = 6

// Options configure an [Index]. The zero value is ready to use.
type Options struct {
	// Clock returns the current time; nil means time.Now. It decides which
	// cookies have expired.
	Clock func() time.Time
}

// Index is the cookie index. Create one with [New]; the zero value is not
// usable.
type Index struct {
	shards [Shards]paddedShard
	names  dict // authids
	tuples dict // role/method/realm tuples (see joinTuple)
	clock  func() time.Time
	bufs   sync.Pool // *[]byte, where authextra maps are encoded
}

// paddedShard pads a shard to whole pairs of cache lines, so that
// neighbouring locks do not share one (adjacent-line prefetch makes 64
// bytes not quite enough).
type paddedShard struct {
	shard
	_ [128 - unsafe.Sizeof(shard{})%128]byte
}

// New returns an empty Index.
func New(opts Options) *Index {
	x := &Index{clock: opts.Clock}
	if x.clock == nil {
		x.clock = time.Now
	}
	x.names.init()
	x.tuples.init()
	for i := range x.shards {
		x.shards[i].x, x.shards[i].k = x, uint32(i)
	}
	x.bufs.New = func() any { return new([]byte) }
	return x
}

// hash returns the hash of digest d. Its top bits pick the shard and its
// low 32 bits, with the lowest set so that it is never 0, are the tag in the
// shard's table. A digest is already uniformly distributed, and only the
// holder of a cookie ID can place one (see record.Digest), so its first
// bytes serve as they are: no seed is needed against collisions that an
// attacker cannot choose.
func hash(d record.Digest) uint64 { return binary.LittleEndian.Uint64(d[:8]) | 1 }

func tagOf(h uint64) uint32 { return uint32(h) }

// ShardOf returns the shard that holds cookie d, from 0 to Shards-1.
// Events on cookies of different shards commute, so they may be applied
// concurrently (see [Index.ApplyShard]); those of one shard are applied in
// their order.
func ShardOf(d record.Digest) int { return int(hash(d) >> (64 - shardBits)) }

func (x *Index) shard(d record.Digest) (*shard, uint32) {
	h := hash(d)
	return &x.shards[h>>(64-shardBits)].shard, tagOf(h)
}

func (x *Index) now() int64 { return x.clock().UnixNano() }

// expired reports created + maxAge <= now, saturating instead of wrapping
// around for lifetimes near the limits of int64 (which only a hostile or
// damaged journal could hold).
func expired(created, maxAge, now int64) bool {
	exp := created + maxAge
	switch {
	case maxAge > 0 && exp < created:
		return false // beyond the end of time
	case maxAge < 0 && exp > created:
		return true // before its beginning
	}
	return exp <= now
}
