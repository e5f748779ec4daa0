// Package natsstore is the cookie store that several cookiestore nodes share:
// the cookies live in one NATS JetStream stream, and every node follows that
// stream into an index of its own (package index), as the file backend replays
// its journal.
//
// # The stream
//
// One stream (Options.Stream, "COOKIES" by default) holds the subjects
// PREFIX.* (Options.SubjectPrefix, "cookies" by default). A cookie's subject
// is PREFIX followed by "." and the 32 hex digits of its record.Digest: the
// cookie ID itself never reaches the stream. The stream keeps one message per
// subject (MaxMsgsPerSubject 1), so it holds the live state only and
// JetStream compacts it for us. Each message is a version 2 payload of
// package record (docs/FORMAT.md):
//
//	record.State(c)            KindCookie: the whole cookie, auth included
//	record.Delete(d, reason)   KindDelete: a logout, a revocation
//	record.Rotated(old, next)  KindDelete: a login replaced old by next
//
// A deletion is such a tombstone, never the purge API, which a live follower
// does not see. Every publish carries these headers:
//
//	Nats-TTL                             the cookie's remaining lifetime, in whole
//	                                     seconds (rounded up); a tombstone's adds
//	                                     Options.TombstoneGrace
//	Nats-Expected-Last-Subject-Sequence  0 for a new cookie: two nodes can never
//	                                     issue one ID; for a change, the sequence
//	                                     of the state it was computed from
//	Nats-Msg-Id                          on retries: one per operation, the same
//	                                     on each, so that a retry is stored once
//
// The stream allows per-message TTLs and places subject delete markers
// (header Nats-Marker-Reason) when a message expires, so that every node
// learns that a cookie expired. Its MaxAge is 0: each message's TTL decides.
// Open creates the stream when it is missing, and refuses one that exists
// with other settings, naming each difference.
//
// # Following
//
// Every node reads the stream with an ordered consumer from its start (or
// from a snapshot's sequence, see below) and applies each message to its
// index. It is ready (Store.Ready) once it has caught up: the first message
// said that nothing was pending after it, or the stream was empty. Until
// then a server answers handshakes with 503. Each applied tombstone and each
// delete marker of a cookie is reported to the subscribers (Store.Subscribe),
// which close that cookie's connections.
//
// # Durability
//
// A write returns once JetStream acknowledged it: once a quorum of the
// stream's replicas holds it (see the README, "Running several nodes", for
// what the servers' sync_interval makes of that), and once this node's
// follower has applied it, so that the node reads its own writes. Writes
// retry transient failures (a leader election, a lost connection) within
// Options.Timeout.
//
// Reads are served from the index. A cookie that the index lacks is looked
// up in the stream (the last message of its subject, from the stream
// leader), so that a cookie issued on another node a moment ago is known at
// once. Changes (SetAuth, Delete, Rotate) read the current state from the
// stream and publish the next one conditionally on it.
//
// # Snapshots
//
// With Options.Snapshot set, a node writes its index, with the stream
// sequence it reflects, to that file every Options.SnapshotInterval and when
// it closes; at open it loads the file and follows the stream from the next
// sequence instead of from the start. That is safe at any age of the
// snapshot: a tombstone lives in the stream until its cookie's own expiry
// plus Options.TombstoneGrace, so a cookie deleted after the snapshot was
// written is either tombstoned in what is followed or expired by the clock.
// A snapshot of another stream, of a stream that was deleted and created
// again, or one that cannot be read, is ignored: the node replays the stream.
package natsstore
