package httpd

import (
	"sync"

	"cookiestore/record"
)

// registry holds a tracker's live connections, all of them and by the
// digest of their cookie. One mutex is enough: every operation is a few map
// updates, far cheaper than the WebSocket handshake around it. It guards
// each connection's digest and expiry too, which a rotation changes.
type registry struct {
	mu      sync.Mutex
	all     map[*Conn]struct{}
	byID    map[record.Digest]map[*Conn]struct{}
	tracked int // connections with a cookie
}

func newRegistry() *registry {
	return &registry{all: make(map[*Conn]struct{}), byID: make(map[record.Digest]map[*Conn]struct{})}
}

// add registers c under cookie d (the zero Digest when tracking is off),
// which expires at expires (Unix nanoseconds; ignored untracked). With
// limit > 0 it refuses a connection that would make the cookie hold more
// than limit, so that the check and the registration cannot be raced past
// the cap.
func (r *registry) add(c *Conn, d record.Digest, expires int64, limit int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !d.IsZero() {
		set := r.byID[d]
		if limit > 0 && len(set) >= limit {
			return false
		}
		if set == nil {
			set = make(map[*Conn]struct{})
			r.byID[d] = set
		}
		set[c] = struct{}{}
		r.tracked++
	}
	r.all[c] = struct{}{}
	c.digest, c.expires = d, expires
	return true
}

// remove forgets c. It is a no-op for a connection that is not registered.
func (r *registry) remove(c *Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.all[c]; !ok {
		return
	}
	delete(r.all, c)
	if set := r.byID[c.digest]; set != nil {
		delete(set, c)
		r.tracked--
		if len(set) == 0 {
			delete(r.byID, c.digest)
		}
	}
}

// move puts every connection of cookie from under cookie to, as a rotation
// does, and returns them. Their expiry stays that of the cookie they
// presented.
func (r *registry) move(from, to record.Digest) []*Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.byID[from]
	if len(set) == 0 || from == to {
		return nil
	}
	delete(r.byID, from)
	dst := r.byID[to]
	if dst == nil {
		dst = make(map[*Conn]struct{}, len(set))
		r.byID[to] = dst
	}
	out := make([]*Conn, 0, len(set))
	for c := range set {
		dst[c] = struct{}{}
		c.digest = to
		out = append(out, c)
	}
	return out
}

// digestOf returns the cookie c is registered under now.
func (r *registry) digestOf(c *Conn) record.Digest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return c.digest
}

// setExpiry sets when c's cookie expires, in Unix nanoseconds.
func (r *registry) setExpiry(c *Conn, expires int64) {
	r.mu.Lock()
	c.expires = expires
	r.mu.Unlock()
}

// expired returns the tracked connections whose cookie has expired at now
// (Unix nanoseconds). It allocates only when it finds some.
func (r *registry) expired(now int64) []*Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*Conn
	for _, set := range r.byID {
		for c := range set {
			if c.expires <= now {
				out = append(out, c)
			}
		}
	}
	return out
}

// conns returns the connections of cookie d, in no particular order.
func (r *registry) conns(d record.Digest) []*Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.byID[d]
	out := make([]*Conn, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	return out
}

// count returns how many connections cookie d has.
func (r *registry) count(d record.Digest) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byID[d])
}

// len returns the number of live connections.
func (r *registry) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.all)
}

// trackedLen returns the number of live connections with a cookie.
func (r *registry) trackedLen() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tracked
}

// cookies returns the number of cookies with at least one live connection.
func (r *registry) cookies() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byID)
}

// snapshot returns every live connection.
func (r *registry) snapshot() []*Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Conn, 0, len(r.all))
	for c := range r.all {
		out = append(out, c)
	}
	return out
}

// digests returns the cookies that have live connections.
func (r *registry) digests() []record.Digest {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]record.Digest, 0, len(r.byID))
	for d := range r.byID {
		out = append(out, d)
	}
	return out
}
