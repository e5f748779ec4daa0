package httpd

import (
	"errors"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"cookiestore/memstore"
	"cookiestore/record"
)

// This file is the handshake, in one place and in its order: the checks
// that need no cookie, then the cookie (found or issued), then the
// connection. Nothing here runs after the 101.

// Handshake outcomes, as counted by the cookiestore_handshakes_total metric.
const (
	handshakeNew       = "new"       // a new cookie was issued
	handshakeReturning = "returning" // a known cookie was reused
	handshakeUntracked = "untracked" // tracking is off on the service
	handshakeRefused   = "refused"   // host, origin, a limit, or shutdown
	handshakeError     = "error"     // the store failed or the upgrade failed
)

// Limits of the handshake.
const (
	// maxCandidates bounds the cookie values looked up per handshake, so a
	// header that repeats the name thousands of times costs little.
	maxCandidates = 8
	// maxCreateAttempts bounds the draws of a new ID. With 144 random bits
	// a collision is already unheard of; three in a row means a broken Rand.
	maxCreateAttempts = 3
)

// admission is what a handshake resolved before any connection exists:
// the cookie the browser will be known by.
type admission struct {
	cookie  record.Cookie // zero when tracking is off
	issued  string        // the ID of a cookie issued now, for Set-Cookie; "" when reused
	visitor string        // the non-secret name of the cookie
	client  netip.Addr    // the client's address, which the limits count by
}

// refusal is an HTTP answer that ends a handshake.
type refusal struct {
	status int
	msg    string
}

// handshake serves a WebSocket upgrade request: the checks, the cookie,
// the registration, the 101, and then the connection until it closes.
func (t *Tracker) handshake(w http.ResponseWriter, r *http.Request) {
	t.active.Add(1)
	defer t.active.Add(-1)
	if t.closing.Load() {
		t.refuse(w, refusal{http.StatusServiceUnavailable, "server is shutting down"}, handshakeRefused)
		return
	}
	if !t.originAllowed(r) {
		t.log.Info("websocket origin refused", "remote", r.RemoteAddr, "origin", clip(r.Header.Get("Origin"), 256), "host", clip(r.Host, 256))
		t.refuse(w, refusal{http.StatusForbidden, "origin not allowed"}, handshakeRefused)
		return
	}
	if t.cookie != nil && !t.ready() {
		t.refuse(w, refusal{http.StatusServiceUnavailable, "the cookie store is not ready, try again later"}, handshakeRefused)
		return
	}

	c, issued, result, no := t.admit(r)
	if no != nil {
		outcome := handshakeRefused
		if no.status == http.StatusServiceUnavailable {
			outcome = handshakeError
		}
		t.refuse(w, *no, outcome)
		return
	}
	defer c.cancel()
	// Shutdown marks the tracker closing before it closes the registered
	// connections, so a handshake that registered after that sweep sees
	// the mark here.
	if t.closing.Load() {
		t.reg.remove(c)
		t.refuse(w, refusal{http.StatusServiceUnavailable, "server is shutting down"}, handshakeRefused)
		return
	}
	var header http.Header
	if issued != "" {
		// The only place an ID goes: the browser it was issued for.
		header = http.Header{"Set-Cookie": {t.setCookie(issued, r)}}
	}
	ws, err := t.upgrader.Upgrade(w, r, header)
	if err != nil {
		t.reg.remove(c)
		t.log.Info("websocket upgrade failed", "remote", c.remote, "visitor", c.Visitor(), "err", err)
		t.count(handshakeError)
		return
	}
	t.count(result)
	c.serve(ws)
}

// admit resolves the request's cookie, builds the connection and registers
// it under the cookie. It returns the ID of a cookie it issued, for
// Set-Cookie. A returning cookie is looked up again once the connection is
// registered: a logout that ran in between did not see the connection, so
// the cookie is then treated as absent.
func (t *Tracker) admit(r *http.Request) (c *Conn, issued, result string, no *refusal) {
	client := t.clientAddr(r)
	if t.cookie == nil {
		c = newConn(t, r, admission{client: client})
		t.reg.add(c, record.Digest{}, 0, 0)
		return c, "", handshakeUntracked, nil
	}
	defer func() {
		if c != nil {
			t.startSweep()
		}
	}()
	var skip []record.Digest
	for {
		adm, no := t.resolve(r, client, skip)
		if no != nil {
			return nil, "", "", no
		}
		c = newConn(t, r, adm)
		d, expires := adm.cookie.Digest, adm.cookie.Expires().UnixNano()
		if adm.issued != "" {
			t.reg.add(c, d, expires, 0)
			return c, adm.issued, handshakeNew, nil
		}
		if !t.reg.add(c, d, expires, t.maxPerCookie) {
			c.cancel()
			t.log.Info("websocket refused: too many connections on one cookie", "remote", c.remote, "visitor", c.Visitor(), "limit", t.maxPerCookie)
			return nil, "", "", &refusal{http.StatusTooManyRequests, "too many connections for this cookie"}
		}
		if ck, ok := t.live(d); ok {
			c.mu.Lock()
			c.cookie = ck // the freshest auth
			c.mu.Unlock()
			return c, "", handshakeReturning, nil
		}
		t.reg.remove(c)
		c.cancel()
		c = nil
		skip = append(skip, d)
	}
}

// resolve finds the browser's cookie among the values of the Cookie
// header, or issues a new one. skip are cookies to treat as absent.
func (t *Tracker) resolve(r *http.Request, client netip.Addr, skip []record.Digest) (admission, *refusal) {
	cc := t.cookie
	var tried [maxCandidates]record.Digest
	n := 0
	for _, v := range cookieValues(r.Header.Values("Cookie"), cc.Name) {
		// A malformed value never reaches the store, and only IDs the
		// store issued are reused: a client cannot choose its ID.
		if !record.ValidID(v, cc.Length) {
			continue
		}
		d := record.DigestOf(v)
		// A value planted many times counts once, so that copies of it
		// cannot push the browser's own cookie past the cap.
		if slices.Contains(tried[:n], d) {
			continue
		}
		if n == maxCandidates {
			break
		}
		tried[n] = d
		n++
		if slices.Contains(skip, d) {
			continue
		}
		if ck, ok := t.live(d); ok {
			return admission{cookie: ck, visitor: visitorOf(v), client: client}, nil
		}
	}
	return t.issue(r, client)
}

// issue draws a new ID and creates its cookie, if the client's address
// has a new cookie left in its bucket. Create returns once the cookie is as
// durable as store.sync promises; only then may the browser get it.
func (t *Tracker) issue(r *http.Request, client netip.Addr) (admission, *refusal) {
	cc := t.cookie
	if !t.clients.takeCookie(client, t.now()) {
		t.log.Info("websocket refused: too many new cookies for the client address", "client", client)
		return admission{}, &refusal{http.StatusTooManyRequests, "too many new cookies from this address, try again later"}
	}
	for attempt := 1; ; attempt++ {
		id, err := record.NewID(t.rand, cc.Length)
		if err != nil {
			t.log.Error("cannot draw a cookie ID", "remote", r.RemoteAddr, "err", err)
			return admission{}, &refusal{http.StatusServiceUnavailable, "cannot issue a tracking cookie"}
		}
		ck := record.Cookie{Digest: record.DigestOf(id), Created: t.now(), MaxAge: cc.MaxAge}
		err = t.store.Create(ck)
		if err == nil {
			return admission{cookie: ck, issued: id, visitor: visitorOf(id), client: client}, nil
		}
		// A live cookie under the digest is what a collision looks like.
		if errors.Is(err, memstore.ErrExists) && attempt < maxCreateAttempts {
			continue
		}
		t.log.Error("cannot store a new cookie; handshake refused", "remote", r.RemoteAddr, "err", err)
		return admission{}, &refusal{http.StatusServiceUnavailable, "cannot store a tracking cookie, try again later"}
	}
}

// live returns cookie d if the store has it and it has not expired. The
// clock check is the tracker's own, so a store that is slow to purge cannot
// revive an expired cookie.
func (t *Tracker) live(d record.Digest) (record.Cookie, bool) {
	ck, ok := t.store.Get(d)
	if !ok || ck.ExpiredAt(t.now()) {
		return record.Cookie{}, false
	}
	return ck, true
}

// setCookie returns the Set-Cookie header of a new cookie.
func (t *Tracker) setCookie(id string, r *http.Request) string {
	cc := t.cookie
	hc := http.Cookie{
		Name:     cc.Name,
		Value:    id,
		Path:     "/",
		MaxAge:   int(cc.MaxAge / time.Second),
		HttpOnly: !cc.ScriptReadable,
		// Browsers refuse a __Host- or __Secure- cookie without Secure.
		Secure:   cc.Secure || t.requestScheme(r) == "https" || strings.HasPrefix(cc.Name, "__Host-") || strings.HasPrefix(cc.Name, "__Secure-"),
		SameSite: cc.SameSite,
	}
	return hc.String()
}

// refuse answers a handshake with an HTTP error.
func (t *Tracker) refuse(w http.ResponseWriter, no refusal, result string) {
	t.count(result)
	http.Error(w, no.msg, no.status)
}

func (t *Tracker) count(result string) {
	if t.onHandshake != nil {
		t.onHandshake(result)
	}
}

// isHandshake reports whether r asks for a WebSocket upgrade at all.
func isHandshake(r *http.Request) bool {
	return r.Method == http.MethodGet && websocket.IsWebSocketUpgrade(r) &&
		r.Header.Get("Sec-Websocket-Key") != ""
}
