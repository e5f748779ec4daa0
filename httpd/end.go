package httpd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/websocket"

	"cookiestore/record"
)

// This file is how connections end from the server's side: a logout, a
// revoke, a cookie's expiry, a deletion that the store reports, and the
// shutdown.

// Connections returns the number of live connections.
func (t *Tracker) Connections() int { return t.reg.len() }

// Logout deletes cookie d (a connection's Cookie().Digest) and closes its
// connections with CloseLoggedOut. The connections are collected before the
// cookie is deleted, so none is missed. The store's error, if any, is
// returned wrapped (for example when the cookie does not exist); the
// connections are closed unless the cookie is still in the store.
func (t *Tracker) Logout(d record.Digest) error {
	if t.cookie == nil {
		return errors.New("logout: cookie tracking is off on this service")
	}
	unlock := t.lockCookie(d)
	victims, live, err := t.deleteCookie(d, record.ReasonLogout)
	unlock()
	if !live {
		closeEach(victims, nil, CloseLoggedOut, "logged out")
	}
	if err != nil {
		if live {
			t.log.Error("logout failed; the cookie stays", "cookie", d, "err", err)
		}
		return fmt.Errorf("logout of cookie %s: %w", d, err)
	}
	return nil
}

// deleteCookie is the heart of logout. It collects the connections of
// cookie d first (Crossbar looked them up after the delete and found
// none), deletes the cookie, and collects again, because a handshake may
// have registered meanwhile (its second lookup then fails, but it is
// already in the registry). The caller holds the cookie's stripe, so that
// no rotation moves the connections meanwhile, and closes them. When the
// delete fails and the cookie is still live, live is true and the
// connections must stay.
func (t *Tracker) deleteCookie(d record.Digest, why record.DeleteReason) (victims []*Conn, live bool, err error) {
	victims = t.reg.conns(d)
	if err = t.store.Delete(d, why); err != nil {
		if _, live = t.store.Get(d); live {
			return nil, true, err
		}
	}
	return append(victims, t.reg.conns(d)...), false, err
}

// Revoke deletes every cookie that principal authid is logged in on and
// closes their connections with CloseRevoked, as well as connections that
// logged in as authid and have not rotated their cookie yet; their pending
// rotation tokens are void. As with logout, the connections are collected
// before the cookies are deleted. It returns the number of cookies
// deleted. The control socket of `cookiestore revoke` calls it, through
// Server.Revoke.
func (t *Tracker) Revoke(authid string) (int, error) {
	cookies, _, err := t.revoke(authid)
	return cookies, err
}

// revoke is Revoke, counting the connections it closed too.
func (t *Tracker) revoke(authid string) (cookies, conns int, err error) {
	if authid == "" {
		return 0, 0, errors.New("revoke: empty authid")
	}
	t.revoking.Lock()
	defer t.revoking.Unlock()
	t.rot.dropAuthID(authid)
	var victims []*Conn
	for _, c := range t.reg.snapshot() {
		if c.Auth().AuthID == authid && c.provider() != providerAnonymous {
			victims = append(victims, c)
		}
	}
	if t.store == nil {
		victims = unique(victims, nil)
		closeEach(victims, nil, CloseRevoked, "revoked")
		return 0, len(victims), nil
	}
	// A rotation moves every tab of the browser onto the cookie that
	// carries the principal, logged in or not.
	for _, d := range t.reg.digests() {
		if ck, ok := t.store.Get(d); ok && ck.Auth.AuthID == authid {
			victims = append(victims, t.reg.conns(d)...)
		}
	}
	ids, err := t.store.DeleteByAuthID(authid)
	for _, d := range ids {
		victims = append(victims, t.reg.conns(d)...)
	}
	victims = unique(victims, nil)
	closeEach(victims, nil, CloseRevoked, "revoked")
	t.log.Info("principal revoked", "authid", authid, "cookies", len(ids), "connections", len(victims))
	if err != nil {
		return len(ids), len(victims), fmt.Errorf("revoke %q: %w", authid, err)
	}
	return len(ids), len(victims), nil
}

// storeEvent is the Notifier callback: a cookie deleted elsewhere (another
// node, the store's own expiry) closes its connections here, and a
// rotation moves them, without its auth. Deletions that this tracker made
// itself arrive too; closing twice is harmless, and the connection that
// logged out keeps its own close code.
func (t *Tracker) storeEvent(ev record.Event) {
	if ev.Kind != record.KindDelete {
		return
	}
	var code int
	var reason string
	switch ev.Reason {
	case record.ReasonRotated:
		if !ev.Successor.IsZero() {
			if next, ok := t.live(ev.Successor); ok {
				t.moveConns(ev.Digest, next, nil, "")
				return
			}
		}
		code, reason = CloseLoggedOut, "logged out"
	case record.ReasonRevoke:
		code, reason = CloseRevoked, "revoked"
	case record.ReasonExpired:
		code, reason = CloseExpired, "expired"
	default:
		code, reason = CloseLoggedOut, "logged out"
	}
	for _, c := range t.reg.conns(ev.Digest) {
		if !c.isLeaving() {
			c.Close(code, reason)
		}
	}
}

// startSweep starts the expiry sweep unless it runs. It runs while tracked
// connections exist.
func (t *Tracker) startSweep() {
	if t.sweeping.CompareAndSwap(false, true) {
		go t.sweep()
	}
}

// sweep closes, every sweepEvery, the connections whose cookie has expired
// on the tracker's clock, with CloseExpired, and drops expired rotation
// tokens. It ends when no tracked connection is left, or at Shutdown.
func (t *Tracker) sweep() {
	tick := time.NewTicker(t.sweepEvery)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			t.sweeping.Store(false)
			return
		case <-tick.C:
		}
		now := t.now()
		for _, c := range t.reg.expired(now.UnixNano()) {
			c.Close(CloseExpired, "expired")
		}
		t.rot.sweep(now)
		if t.reg.trackedLen() == 0 {
			t.sweeping.Store(false)
			// A handshake that registered after the count saw the flag
			// set and did not start a sweep: take over its job.
			if t.reg.trackedLen() == 0 || !t.sweeping.CompareAndSwap(false, true) {
				return
			}
		}
	}
}

// Shutdown stops new handshakes, closes every connection with 1001 "going
// away" and waits for them to end. When ctx ends first, the remaining
// connections are cut and ctx's error is returned. A Server calls it; a
// program that mounts a Tracker on its own http.Server calls it before
// http.Server.Shutdown, which does not wait for WebSockets.
func (t *Tracker) Shutdown(ctx context.Context) error {
	t.closing.Store(true)
	t.stopOnce.Do(func() {
		close(t.stop)
		if t.unsubscribe != nil {
			t.unsubscribe()
		}
	})
	for _, c := range t.reg.snapshot() {
		c.Close(websocket.CloseGoingAway, "going away")
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for t.active.Load() > 0 || t.sweeping.Load() {
		select {
		case <-ctx.Done():
			for _, c := range t.reg.snapshot() {
				c.abort()
			}
			return fmt.Errorf("close websockets: %w", ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

// closeEach closes every distinct connection of conns except one.
func closeEach(conns []*Conn, except *Conn, code int, reason string) {
	for _, c := range unique(conns, except) {
		c.Close(code, reason)
	}
}

func unique(conns []*Conn, except *Conn) []*Conn {
	seen := make(map[*Conn]struct{}, len(conns))
	out := conns[:0:0]
	for _, c := range conns {
		if _, dup := seen[c]; dup || c == except {
			continue
		}
		seen[c] = struct{}{}
		out = append(out, c)
	}
	return out
}

// clip bounds a client-supplied string before it is logged or echoed.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
