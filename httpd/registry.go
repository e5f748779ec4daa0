package httpd

import (
	"sync"

	"cookiestore/record"
)

// registry holds a tracker's live connections, all of them and by the
// digest of their cookie. One mutex is enough: every operation is a few map updates, far
// cheaper than the WebSocket handshake around it.
type registry struct {
	mu   sync.Mutex
	all  map[*Conn]struct{}
	byID map[record.Digest]map[*Conn]struct{}
}

func newRegistry() *registry {
	return &registry{all: make(map[*Conn]struct{}), byID: make(map[record.Digest]map[*Conn]struct{})}
}

// add registers c under cookie d (the zero Digest when tracking is off). With limit > 0 it
// refuses a connection that would make the cookie hold more than limit, so
// that the check and the registration cannot be raced past the cap.
func (r *registry) add(c *Conn, d record.Digest, limit int) bool {
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
	}
	r.all[c] = struct{}{}
	c.digest = d
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
		if len(set) == 0 {
			delete(r.byID, c.digest)
		}
	}
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
