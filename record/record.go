// Package record is cookiestore's vocabulary: the tracked [Cookie], the
// [Auth] tuple remembered on it, the [Digest] by which a store knows a
// cookie, the [Event]s that change a store, and their msgpack encoding.
//
// # Events
//
// Every store is event sourced. A change is one of these events:
//
//	Create{Digest, Created, MaxAge}          a new cookie was issued
//	Update{Digest, Auth}                     the whole auth tuple was set; an empty tuple clears it
//	Delete{Digest, Reason, Successor}        logout, revoke, rotation, or the purge of an expired cookie
//	Cookie{Digest, Created, MaxAge, Auth}    the whole state of a live cookie
//
// A Cookie event is what a compaction writes for each live cookie, what a
// login's rotation writes for the new cookie, and what a NATS stream keeps
// per cookie. Applying the events of a journal in order yields exactly the
// state that the calls made; a deleted cookie stays deleted.
//
// # No cookie ID at rest
//
// A cookie ID is a bearer secret: whoever holds it is that browser, logged
// in. Stores therefore never keep it. They keep its [Digest], a
// domain-separated SHA-256 of it ([DigestOf]), and the server digests the
// value a browser presents once per request. A copy of a journal, of its
// backups or of a dump logs nobody in.
//
// # Encoding
//
// docs/FORMAT.md specifies the encoding of every event, byte by byte, for
// both payload versions; this package implements it. [AppendEvent] writes
// version 2. [Parse] reads either version into a [View] without allocating,
// checking every length it meets against the bytes that remain and every
// authextra against [MaxExtraSize], and [DecodeEvent] turns a payload into an
// [Event].
package record

import (
	"errors"
	"time"
)

// Auth is who authenticated on a cookie. The zero value means "nobody".
type Auth struct {
	AuthID     string         // the principal, e.g. "alice"
	AuthRole   string         // the role it was granted, e.g. "user"
	AuthMethod string         // how it authenticated first, e.g. "ticket"
	AuthRealm  string         // the realm it joined
	AuthExtra  map[string]any // application data: msgpack-encodable values, at most MaxExtraSize encoded
}

// IsZero reports whether a carries no authentication at all.
func (a Auth) IsZero() bool {
	return a.AuthID == "" && a.AuthRole == "" && a.AuthMethod == "" && a.AuthRealm == "" && len(a.AuthExtra) == 0
}

// Cookie is one tracked browser as a store knows it: the digest of its ID,
// when it was issued, how long it lives, and who authenticated on it.
type Cookie struct {
	Digest  Digest        // DigestOf the cookie's ID; the ID itself is never stored
	Created time.Time     // when the cookie was issued
	MaxAge  time.Duration // lifetime; the cookie is gone once Created+MaxAge has passed
	Auth    Auth          // the zero Auth until someone logs in on the cookie
}

// Expires returns the instant at which c stops existing.
func (c Cookie) Expires() time.Time { return c.Created.Add(c.MaxAge) }

// ExpiredAt reports whether c is gone at now: created + max_age <= now.
func (c Cookie) ExpiredAt(now time.Time) bool { return !now.Before(c.Expires()) }

// Kind says which event a payload holds. The values are part of the wire
// format.
type Kind uint8

const (
	KindCreate Kind = 1 // a new cookie, without auth
	KindUpdate Kind = 2 // the auth tuple of a cookie was replaced
	KindDelete Kind = 3 // a cookie was removed
	KindBatch  Kind = 4 // many events in one zstd-compressed payload (see ParseBatch)
	KindCookie Kind = 5 // the whole state of a live cookie (version 2)
)

// String names the kind for humans and for JSON dumps.
func (k Kind) String() string {
	switch k {
	case KindCreate:
		return "create"
	case KindUpdate:
		return "update"
	case KindDelete:
		return "delete"
	case KindBatch:
		return "batch"
	case KindCookie:
		return "cookie"
	}
	return "unknown"
}

// DeleteReason says why a cookie was deleted. It decides the close code
// that the cookie's connections get, also on other nodes that apply the
// event. The values are part of the wire format.
type DeleteReason uint8

const (
	ReasonUnspecified DeleteReason = 0 // version 1 deletes, and deletes by the Go API
	ReasonLogout      DeleteReason = 1 // the browser logged out
	ReasonRevoke      DeleteReason = 2 // its principal was revoked
	ReasonExpired     DeleteReason = 3 // its max_age passed and it was purged
	ReasonRotated     DeleteReason = 4 // a login replaced it by its Successor
)

// String names the reason for humans and for JSON dumps.
func (r DeleteReason) String() string {
	switch r {
	case ReasonUnspecified:
		return "unspecified"
	case ReasonLogout:
		return "logout"
	case ReasonRevoke:
		return "revoke"
	case ReasonExpired:
		return "expired"
	case ReasonRotated:
		return "rotated"
	}
	return "unknown"
}

// Event is one change to a store. Which fields matter depends on Kind:
// Create uses Digest, Created and MaxAge; Update uses Digest and Auth;
// Delete uses Digest, Reason and, for a rotation, Successor; Cookie uses
// all but Reason and Successor. A single struct, rather than one type per
// event, lets the hot paths encode and decode without boxing an interface
// per event.
type Event struct {
	Kind      Kind          // which event this is
	Digest    Digest        // the cookie it concerns
	Created   time.Time     // Create, Cookie: when the cookie was issued
	MaxAge    time.Duration // Create, Cookie: its lifetime
	Auth      Auth          // Update: the new auth tuple, zero clears it; Cookie: its auth
	Reason    DeleteReason  // Delete: why
	Successor Digest        // Delete with ReasonRotated: the cookie that replaced this one
}

// Create returns the event that issues cookie d.
func Create(d Digest, created time.Time, maxAge time.Duration) Event {
	return Event{Kind: KindCreate, Digest: d, Created: created, MaxAge: maxAge}
}

// Update returns the event that sets the auth tuple of cookie d.
func Update(d Digest, a Auth) Event { return Event{Kind: KindUpdate, Digest: d, Auth: a} }

// Delete returns the event that removes cookie d for the given reason.
func Delete(d Digest, why DeleteReason) Event { return Event{Kind: KindDelete, Digest: d, Reason: why} }

// Rotated returns the event that removes cookie d because a login replaced
// it by next.
func Rotated(d, next Digest) Event {
	return Event{Kind: KindDelete, Digest: d, Reason: ReasonRotated, Successor: next}
}

// State returns the event that holds the whole state of cookie c.
func State(c Cookie) Event {
	return Event{Kind: KindCookie, Digest: c.Digest, Created: c.Created, MaxAge: c.MaxAge, Auth: c.Auth}
}

// Cookie returns the cookie that a Create or a Cookie event makes.
func (e *Event) Cookie() Cookie {
	c := Cookie{Digest: e.Digest, Created: e.Created, MaxAge: e.MaxAge}
	if e.Kind == KindCookie {
		c.Auth = e.Auth
	}
	return c
}

// ErrMalformed is wrapped by every decoding error: the payload is not an
// event this version understands.
var ErrMalformed = errors.New("malformed event")
