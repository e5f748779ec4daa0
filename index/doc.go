// Package index is cookiestore's index of cookies: what the memory backend
// is (package memstore), what the file backend keeps in front of its
// journal (package filestore), and what a replay rebuilds (package replay).
//
// An [Index] maps cookie digests ([record.Digest]: an index never holds a
// cookie ID) to their creation time, lifetime and auth tuple, and
// principals (authids) to the cookies they are logged in on, so that a
// principal can be revoked everywhere at once. It offers two sets of
// methods:
//
//   - the operations of a store, which check before they change anything
//     and see the clock: [Index.Get], [Index.Live], [Index.Create],
//     [Index.Rotate], [Index.SetAuth], [Index.Delete],
//     [Index.DeleteByAuthID], [Index.DigestsByAuthID], [Index.All],
//     [Index.Len], [Index.PurgeExpired], [Index.ExpiredDigests];
//   - the application of events, which a journal's writer does after each
//     append and a replay for every event, without checks and without the
//     clock: [Index.Apply] for a [record.View] as a payload holds it,
//     [Index.ApplyEvent] for a decoded [record.Event], [Index.ApplyShard]
//     and [Index.ApplyAll] for many at once, [Index.Reserve] to size the
//     index first, and [Index.Views] to write its state back out.
//
// # Memory
//
// The index is split into [Shards] shards by digest, each a hash table
// whose arrays hold no Go pointers (see shard.go): 36 bytes per position,
// 64% to 80% full, for a cookie nobody is logged in on. A logged-in
// cookie adds a 20-byte auth record, a 12-byte member in its authid's list
// (the reverse index from a principal to its cookies), and its authextra,
// kept as the msgpack bytes of its event in an arena of the shard and
// decoded only when a caller asks for it; its authid and its
// role/method/realm tuple are each stored once for the whole index (see
// dict.go), counted, and freed with their last cookie. The garbage
// collector has next to nothing to scan, and opening a journal allocates a
// handful of arrays per shard, not objects per cookie.
//
// Freed space is reused or reclaimed: the table's positions, the auth
// records, the members and the dicts' entries are reused at once (records
// and members through free lists); the dead bytes of the extras arenas,
// and of the dicts' chunks of strings, are reclaimed by copying the live
// ones into new memory once the dead ones outweigh them, never by writing
// over bytes that a reader may hold. Neither a table nor an array of
// records shrinks while its shard holds anything; a shard that empties
// keeps only its table's positions.
//
// # Expiry
//
// A cookie whose created + max_age is at or before the clock's now is absent
// for every read and every write at once, whether or not it has been purged:
// [Index.Get] and [Index.All] skip it, [Index.SetAuth] and [Index.Delete]
// report [ErrNotFound], and [Index.Create] may reuse its digest. A removed or
// deleted cookie never comes back, even if the clock later steps backwards.
// (An expired entry that has not been purged yet reappears if the clock steps
// back before its expiry: the index holds what the events say, and the clock
// only decides what is visible.)
//
// # Concurrency
//
// All methods are safe for concurrent use. Each shard has its own
// read-write lock, so lookups on different cookies rarely meet and reads
// scale across cores. Operations that span principals or the whole index
// visit the shards one after another: each shard is seen consistently, but
// changes made meanwhile to shards already visited are not. The strings and
// bytes a read returns are never written again, so callers may keep them.
package index
