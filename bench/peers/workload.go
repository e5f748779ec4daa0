// Package peers runs cookiestore's workload on cookiestore's file backend and
// on two well-known embedded stores, go.etcd.io/bbolt and
// github.com/cockroachdb/pebble, at equal durability, next to the physical
// limits of the machine measured in the same run, and writes the results
// page docs/BENCHMARKS.md and the plot docs/append.svg.
//
// It is a separate module so that the main module never depends on a peer
// store. Regenerate the page with
//
//	cd bench/peers && go run ./cmd/report
//
// # Workload
//
// Every store is fed the same events, generated once from a fixed seed: for
// each cookie a create event (a 24-character ID, the creation time and a
// max-age) followed by an update event carrying a realistic auth tuple. For
// cookiestore the events are [filestore.Store.Create] and
// [filestore.Store.SetAuth] calls; for a peer each event is a put of the
// cookie's ID to the cookie's state after the event, encoded once up front so
// that no peer pays for encoding inside a measurement.
package peers

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"cookiestore/record"
)

// Seed is the fixed seed of every workload: the same seed gives the same
// cookies, byte for byte, on every machine.
const Seed = 0x636f6f6b6965 // "cookie"

// IDLength is the length of a cookie ID in characters, cookiestore's default.
const IDLength = record.DefaultIDLength

// Epoch returns the earliest creation time of a cookie; the cookies of a
// workload are created within the day after it. Stores that check expiry
// are given a clock stopped at [Now], so that no cookie expires during a
// run.
func Epoch() time.Time { return time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC) }

// Now returns the time that the clock of an expiring store shows during a
// run.
func Now() time.Time { return Epoch().Add(48 * time.Hour) }

// MaxAge is every cookie's max-age: long enough that no cookie expires at [Now].
const MaxAge = 30 * 24 * time.Hour

// Cookie is one tracked cookie in its final state (after its update): its
// ID, which the peers use as their key, and what cookiestore keeps of it.
// The auth tuple that the update sets is a principal "user-N" of 100,000,
// role "user", method "ticket", realm "realm1" and the authextra
// {"tenant":"t7","plan":"pro"}.
type Cookie struct {
	ID string
	record.Cookie
}

// Kind says what an event does.
type Kind uint8

const (
	Create Kind = 1 // issue a new cookie: ID, Created, MaxAge
	Update Kind = 2 // set the whole auth tuple on an existing cookie
)

// Event is one operation of the workload.
type Event struct {
	Kind   Kind
	Cookie *Cookie // the cookie the event applies to, in its final state
	Key    []byte  // the cookie ID, as a peer's key
	Value  []byte  // the cookie's state after this event, as a peer's value
}

// value is the peers' encoding of a cookie: a msgpack array, the compact form
// a user of a key-value store would choose.
type value struct {
	_msgpack   struct{} `msgpack:",as_array"`
	Created    int64    // Unix nanoseconds
	MaxAge     int64    // seconds
	AuthID     string
	AuthRole   string
	AuthMethod string
	AuthRealm  string
	AuthExtra  map[string]any
}

// Generator produces a workload's cookies in order. The first n cookies are
// the same whatever the size of the workload they are part of, so that a
// larger run extends a smaller one.
type Generator struct {
	src *rand.ChaCha8 // the IDs' bytes, as record.NewID draws them
	r   *rand.Rand    // everything else, from the same source
}

// NewGenerator returns a generator seeded with seed.
func NewGenerator(seed uint64) *Generator {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	src := rand.NewChaCha8(key)
	return &Generator{src: src, r: rand.New(src)}
}

// Next returns the next cookie of the workload.
func (g *Generator) Next() Cookie {
	id, err := record.NewID(g.src, IDLength)
	if err != nil {
		panic(err) // a ChaCha8 never fails to read
	}
	created := Epoch().Add(time.Duration(g.r.Int64N(int64(24 * time.Hour))))
	return Cookie{ID: id, Cookie: record.Cookie{
		Digest:  record.DigestOf(id),
		Created: created.Truncate(time.Millisecond),
		MaxAge:  MaxAge,
		Auth: record.Auth{
			AuthID:     "user-" + strconv.Itoa(g.r.IntN(100000)),
			AuthRole:   "user",
			AuthMethod: "ticket",
			AuthRealm:  "realm1",
			AuthExtra:  map[string]any{"tenant": "t7", "plan": "pro"},
		},
	}}
}

// Cookies returns the first n cookies of the workload of seed.
func Cookies(seed uint64, n int) []Cookie {
	g := NewGenerator(seed)
	cs := make([]Cookie, n)
	for i := range cs {
		cs[i] = g.Next()
	}
	return cs
}

// Events returns the events of cookies, two per cookie: create then update.
// Event 2i is the create of cookies[i] and event 2i+1 its update. The values
// are encoded here, once.
func Events(cookies []Cookie) ([]Event, error) {
	evs := make([]Event, 0, 2*len(cookies))
	for i := range cookies {
		c := &cookies[i]
		created, err := EncodeValue(c, false)
		if err != nil {
			return nil, err
		}
		updated, err := EncodeValue(c, true)
		if err != nil {
			return nil, err
		}
		key := []byte(c.ID)
		evs = append(evs,
			Event{Kind: Create, Cookie: c, Key: key, Value: created},
			Event{Kind: Update, Cookie: c, Key: key, Value: updated})
	}
	return evs, nil
}

// EncodeValue returns a peer's value for c, with its auth tuple when withAuth
// is set (the state after the update) and without it otherwise (after the
// create).
func EncodeValue(c *Cookie, withAuth bool) ([]byte, error) {
	v := value{Created: c.Created.UnixNano(), MaxAge: int64(c.MaxAge / time.Second)}
	if withAuth {
		v.AuthID, v.AuthRole, v.AuthMethod, v.AuthRealm = c.Auth.AuthID, c.Auth.AuthRole, c.Auth.AuthMethod, c.Auth.AuthRealm
		v.AuthExtra = c.Auth.AuthExtra
	}
	var b bytes.Buffer
	enc := msgpack.NewEncoder(&b)
	enc.SetSortMapKeys(true) // the same bytes on every run: map order is random
	if err := enc.Encode(&v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// DecodeValue decodes a peer's value into c's Created, MaxAge and Auth.
func DecodeValue(p []byte, c *Cookie) error {
	var v value
	if err := msgpack.Unmarshal(p, &v); err != nil {
		return err
	}
	c.Created = time.Unix(0, v.Created).UTC()
	c.MaxAge = time.Duration(v.MaxAge) * time.Second
	c.Auth = record.Auth{AuthID: v.AuthID, AuthRole: v.AuthRole, AuthMethod: v.AuthMethod, AuthRealm: v.AuthRealm, AuthExtra: v.AuthExtra}
	return nil
}
