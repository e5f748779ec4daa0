// Package record is cookiestore's vocabulary: the tracked [Cookie], the [Auth]
// tuple remembered on it, the [Event]s that change the store, their msgpack
// encoding, and the generation and validation of cookie IDs.
//
// The store is event sourced. Every change is one of three events:
//
//	Create{ID, Created, MaxAge}   a new cookie was issued
//	Update{ID, Auth}              the whole auth tuple was set; an empty tuple clears it
//	Delete{ID}                    logout, revoke, or the purge of an expired cookie
//
// Replaying the events of a journal in order yields exactly the state that
// the calls made; a deleted cookie stays deleted.
//
// # Encoding
//
// An event is encoded as one msgpack array whose first element is its [Kind]:
//
//	Create: [1, id, createdUnixNano int64, maxAgeNanos int64]
//	Update: [2, id, authid, authrole, authmethod, authrealm, authextra map|nil]
//	Delete: [3, id]
//
// Kind 4 is reserved for a batch of events; batches are written and read by
// package replay. The encoding is part of the journal's wire format
// (docs/FORMAT.md): a new field may only be appended to an array, and
// decoders skip trailing elements they do not know.
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
	AuthExtra  map[string]any // application data; msgpack-encodable values only
}

// IsZero reports whether a carries no authentication at all.
func (a Auth) IsZero() bool {
	return a.AuthID == "" && a.AuthRole == "" && a.AuthMethod == "" && a.AuthRealm == "" && len(a.AuthExtra) == 0
}

// Cookie is one tracked browser: its random ID, when it was issued, how long
// it lives, and who authenticated on it.
type Cookie struct {
	ID      string        // the cookie value, from [NewID]; a secret bearer token
	Created time.Time     // when the cookie was issued
	MaxAge  time.Duration // lifetime; the cookie is gone once Created+MaxAge has passed
	Auth    Auth          // the zero Auth until someone logs in on the cookie
}

// Expires returns the instant at which c stops existing.
func (c Cookie) Expires() time.Time { return c.Created.Add(c.MaxAge) }

// ExpiredAt reports whether c is gone at now: created + max_age <= now.
func (c Cookie) ExpiredAt(now time.Time) bool { return !now.Before(c.Expires()) }

// Kind says which event an encoded payload holds. The values are part of the
// wire format.
type Kind uint8

const (
	KindCreate Kind = 1 // a new cookie
	KindUpdate Kind = 2 // the auth tuple of a cookie was replaced
	KindDelete Kind = 3 // a cookie was removed
	KindBatch  Kind = 4 // many events in one zstd-compressed payload (package replay)
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
	}
	return "unknown"
}

// Event is one change to the store. Which fields matter depends on Kind:
// Create uses ID, Created and MaxAge; Update uses ID and Auth; Delete uses ID.
// A single struct, rather than one type per event, lets the hot paths encode
// and decode without boxing an interface per event.
type Event struct {
	Kind    Kind          // which event this is
	ID      string        // the cookie it concerns
	Created time.Time     // Create: when the cookie was issued
	MaxAge  time.Duration // Create: its lifetime
	Auth    Auth          // Update: the new auth tuple; zero clears
}

// Create returns the event that issues cookie id.
func Create(id string, created time.Time, maxAge time.Duration) Event {
	return Event{Kind: KindCreate, ID: id, Created: created, MaxAge: maxAge}
}

// Update returns the event that sets the auth tuple of cookie id.
func Update(id string, a Auth) Event { return Event{Kind: KindUpdate, ID: id, Auth: a} }

// Delete returns the event that removes cookie id.
func Delete(id string) Event { return Event{Kind: KindDelete, ID: id} }

// Cookie returns the cookie that a Create event makes.
func (e *Event) Cookie() Cookie {
	return Cookie{ID: e.ID, Created: e.Created, MaxAge: e.MaxAge}
}

// ErrMalformed is wrapped by every decoding error: the payload is not an
// event this version understands.
var ErrMalformed = errors.New("malformed event")
