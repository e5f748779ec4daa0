package httpd

import "sync"

// registry holds a tracker's live connections, all of them and by cookie
// ID. One mutex is enough: every operation is a few map updates, far
// cheaper than the WebSocket handshake around it.
type registry struct {
	mu   sync.Mutex
	all  map[*Conn]struct{}
	byID map[string]map[*Conn]struct{}
}

func newRegistry() *registry {
	return &registry{all: make(map[*Conn]struct{}), byID: make(map[string]map[*Conn]struct{})}
}

// add registers c under id ("" when tracking is off). With limit > 0 it
// refuses a connection that would make the cookie hold more than limit, so
// that the check and the registration cannot be raced past the cap.
func (r *registry) add(c *Conn, id string, limit int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id != "" {
		set := r.byID[id]
		if limit > 0 && len(set) >= limit {
			return false
		}
		if set == nil {
			set = make(map[*Conn]struct{})
			r.byID[id] = set
		}
		set[c] = struct{}{}
	}
	r.all[c] = struct{}{}
	c.regID = id
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
	if set := r.byID[c.regID]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(r.byID, c.regID)
		}
	}
}

// conns returns the connections of cookie id, in no particular order.
func (r *registry) conns(id string) []*Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.byID[id]
	out := make([]*Conn, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	return out
}

// count returns how many connections cookie id has.
func (r *registry) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byID[id])
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

// ids returns the cookie IDs that have live connections.
func (r *registry) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.byID))
	for id := range r.byID {
		out = append(out, id)
	}
	return out
}
