package httpd

import "cookiestore/record"

// Store is what the server needs from a cookie store. Package memstore (the
// memory backend) and package filestore (the file backend) satisfy it.
//
// A store knows a cookie by the digest of its ID (record.DigestOf) and
// never sees the ID itself: the server digests the value a browser presents,
// and sends a new ID only to the browser it issued it for.
//
// Create and Rotate must not return before the change is as durable as the
// store promises: the server sends the cookie to the browser only after
// they have returned. Get must treat an expired cookie as absent. Errors
// that mean "no such cookie" and "taken" wrap memstore.ErrNotFound and
// memstore.ErrExists.
//
// A login's auth reaches a cookie only through Rotate; the memory and file
// backends also have SetAuth, for programs that manage auth themselves.
type Store interface {
	Get(d record.Digest) (record.Cookie, bool)             // the live cookie d
	Create(c record.Cookie) error                          // a new cookie, with its auth if it carries one
	Rotate(old record.Digest, next record.Cookie) error    // next created with its auth, then old deleted (ReasonRotated, Successor next)
	Delete(d record.Digest, why record.DeleteReason) error // logout, or expiry
	DeleteByAuthID(authid string) ([]record.Digest, error) // every cookie of a principal, with ReasonRevoke
	Len() int                                              // the cookies held
	Close() error                                          // syncs and releases the store
}

// Notifier is implemented by a store whose cookies can be deleted
// elsewhere: by another node on a shared store, or by the store's own
// expiry. The tracker subscribes when it is built and cancels when it shuts
// down. fn gets every Delete event (ev.Kind == record.KindDelete), also of
// the deletes that this tracker made itself, and must be called without
// locks of the store held: the tracker closes the cookie's local
// connections with the code of ev.Reason (ReasonLogout 4001 "logged out",
// ReasonRevoke 4002 "revoked", ReasonExpired 4003 "expired") or, for
// ReasonRotated, moves them to ev.Successor without giving them its auth.
type Notifier interface {
	Subscribe(fn func(ev record.Event)) (cancel func())
}

// Readiness is implemented by a store that needs time before it can answer,
// such as one that catches up with a stream. Until Ready returns true,
// handshakes and rotations get 503 and /status says "ready": false.
type Readiness interface {
	Ready() bool
}

// StoreStats is what a store reports to /status and /metrics. Fields that a
// backend does not have stay zero.
type StoreStats struct {
	Cookies        int          // entries in the index
	EventsAppended int64        // events written to the journal since open
	JournalBytes   int64        // current size of the journal file
	Syncs          int64        // fdatasyncs since open
	SyncErrors     int64        // failed fdatasyncs since open
	Compactions    int64        // compactions since open
	DeadRatio      float64      // share of journal bytes that no live cookie needs
	ReadOnly       bool         // the store refuses writes after a failed write or sync
	Err            string       // why it is read-only; "" while healthy
	Stream         *StreamStats // a shared stream's position; nil for other stores
}

// StatsReporter is implemented by stores that have more to report than
// their number of cookies, such as a file store wrapped by the command.
type StatsReporter interface {
	StoreStats() StoreStats
}

// StreamStats is where a store that follows a shared stream stands in it.
type StreamStats struct {
	Stream         string  // the stream's name
	Seq            uint64  // the last sequence applied to this node's index
	LastSeq        uint64  // the highest sequence this node has seen
	Lag            uint64  // LastSeq - Seq
	Connection     string  // the connection's state, e.g. "CONNECTED", "RECONNECTING"
	Server         string  // the server connected to
	Publishes      int64   // publish attempts since open
	PublishErrors  int64   // failed publish attempts since open
	PublishSeconds float64 // the publish attempts' total latency
}
