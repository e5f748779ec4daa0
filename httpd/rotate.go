package httpd

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"sync"
	"time"

	"cookiestore/memstore"
	"cookiestore/record"
)

// This file is the second half of a login: the rotation of the cookie. A
// login never writes its auth onto the cookie that the browser came with,
// since that value may have been planted by an attacker (session
// fixation). The welcome carries a one-time token instead, and the browser
// trades it, with its old cookie, for a new cookie that carries the auth:
//
//	POST /ws
//	Content-Type: application/json
//	Cookie: cbtid=<old ID>
//
//	{"rotate":"<token>"}
//
//	→ 204 No Content
//	  Set-Cookie: cbtid=<new ID>; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax
//
// Tokens live in the memory of the tracker that sent the welcome: the POST
// must reach the same process (behind a load balancer, the same node).

// Limits of a rotation. They are part of the protocol.
const (
	rotateTTL     = 60 * time.Second // a token is valid this long after the welcome
	rotateBody    = 4 << 10          // the largest request body read
	tokenBytes    = 32               // random bytes in a token: 256 bits
	sweepRotateAt = 1024             // tokens pending before an insert sweeps the expired ones
)

// rotation is a pending token: what it may turn into a new cookie.
type rotation struct {
	from    record.Digest // the cookie of the connection that logged in
	auth    record.Auth   // the login
	expires time.Time
	conn    *Conn // the connection that logged in
}

// rotations holds the pending tokens by the SHA-256 of the token, so that
// the tokens themselves are not kept and a lookup reveals nothing about
// them through timing. One token per connection: a new login replaces it.
type rotations struct {
	mu     sync.Mutex
	byKey  map[[sha256.Size]byte]*rotation
	byConn map[*Conn][sha256.Size]byte
}

func newRotations() *rotations {
	return &rotations{byKey: make(map[[sha256.Size]byte]*rotation), byConn: make(map[*Conn][sha256.Size]byte)}
}

// issue draws a token for the login a on connection c, whose cookie is from.
func (rs *rotations) issue(rand io.Reader, c *Conn, from record.Digest, a record.Auth, now time.Time) (string, error) {
	var b [tokenBytes]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(b[:])
	key := sha256.Sum256([]byte(token))
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if old, ok := rs.byConn[c]; ok {
		delete(rs.byKey, old)
	}
	if len(rs.byKey) >= sweepRotateAt {
		rs.sweepLocked(now)
	}
	rs.byKey[key] = &rotation{from: from, auth: a, expires: now.Add(rotateTTL), conn: c}
	rs.byConn[c] = key
	return token, nil
}

// take consumes the token if it is pending, unexpired and bound to one of
// the cookies the request presented. A token sent with another cookie stays
// pending: it changes nothing.
func (rs *rotations) take(token string, presented []record.Digest, now time.Time) (*rotation, bool) {
	key := sha256.Sum256([]byte(token))
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rot, ok := rs.byKey[key]
	if !ok {
		return nil, false
	}
	if !now.Before(rot.expires) {
		rs.deleteLocked(key, rot)
		return nil, false
	}
	for _, d := range presented {
		if d == rot.from {
			rs.deleteLocked(key, rot)
			return rot, true
		}
	}
	return nil, false
}

// putBack makes a taken token pending again, after a store failure, so that
// the browser can retry.
func (rs *rotations) putBack(token string, rot *rotation) {
	key := sha256.Sum256([]byte(token))
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if _, ok := rs.byConn[rot.conn]; ok {
		return // the connection logged in again meanwhile
	}
	rs.byKey[key] = rot
	rs.byConn[rot.conn] = key
}

// forget drops the token of connection c, which has closed.
func (rs *rotations) forget(c *Conn) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if key, ok := rs.byConn[c]; ok {
		delete(rs.byKey, key)
		delete(rs.byConn, c)
	}
}

// dropAuthID drops every token of principal authid, which is being revoked.
func (rs *rotations) dropAuthID(authid string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for key, rot := range rs.byKey {
		if rot.auth.AuthID == authid {
			rs.deleteLocked(key, rot)
		}
	}
}

func (rs *rotations) sweep(now time.Time) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.sweepLocked(now)
}

func (rs *rotations) sweepLocked(now time.Time) {
	for key, rot := range rs.byKey {
		if !now.Before(rot.expires) {
			rs.deleteLocked(key, rot)
		}
	}
}

func (rs *rotations) deleteLocked(key [sha256.Size]byte, rot *rotation) {
	delete(rs.byKey, key)
	if rs.byConn[rot.conn] == key {
		delete(rs.byConn, rot.conn)
	}
}

func (rs *rotations) len() int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return len(rs.byKey)
}

// serveRotate answers the POST of a rotation token: 204 with the new
// cookie, 403 for a bad, used or expired token or one sent with another
// cookie, 415 for a body that is not JSON, 400 for malformed JSON, 503 when
// the store fails or is not ready.
func (t *Tracker) serveRotate(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !t.originAllowed(r) {
		t.log.Info("rotation origin refused", "client", t.clientAddr(r), "origin", clip(r.Header.Get("Origin"), 256))
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	if !t.ready() {
		http.Error(w, "the cookie store is not ready, try again later", http.StatusServiceUnavailable)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		http.Error(w, "the body must be application/json", http.StatusUnsupportedMediaType)
		return
	}
	var body struct {
		Rotate string `json:"rotate"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, rotateBody)).Decode(&body); err != nil || body.Rotate == "" {
		http.Error(w, `the body must be {"rotate":"<token>"}`, http.StatusBadRequest)
		return
	}

	var presented []record.Digest
	for _, v := range cookieValues(r.Header.Values("Cookie"), t.cookie.Name) {
		if record.ValidID(v, t.cookie.Length) && len(presented) < maxCandidates {
			presented = append(presented, record.DigestOf(v))
		}
	}
	// A revoke waits for rotations in flight, and a rotation that starts
	// after it finds the principal's tokens gone.
	t.revoking.RLock()
	defer t.revoking.RUnlock()
	rot, ok := t.rot.take(body.Rotate, presented, t.now())
	if !ok {
		t.log.Info("rotation refused: unknown, used or expired token, or another cookie", "client", t.clientAddr(r))
		http.Error(w, "invalid rotation token", http.StatusForbidden)
		return
	}
	id, status := t.rotate(rot)
	if status != 0 {
		if status == http.StatusServiceUnavailable {
			t.rot.putBack(body.Rotate, rot)
			http.Error(w, "cannot store the new cookie, try again later", status)
		} else {
			http.Error(w, "the cookie no longer exists", status)
		}
		return
	}
	t.log.Info("cookie rotated", "visitor", visitorOf(id), "authid", rot.auth.AuthID, "client", t.clientAddr(r))
	w.Header().Set("Set-Cookie", t.setCookie(id, r))
	w.WriteHeader(http.StatusNoContent)
}

// rotate replaces rot's cookie by a new one that carries its auth, and
// moves the old cookie's connections to it. It returns the new ID, or a
// status: 403 when the old cookie is gone, 503 when the store fails.
func (t *Tracker) rotate(rot *rotation) (string, int) {
	unlock := t.lockCookie(rot.from)
	defer unlock()
	for attempt := 1; ; attempt++ {
		id, err := record.NewID(t.rand, t.cookie.Length)
		if err != nil {
			t.log.Error("cannot draw a cookie ID", "err", err)
			return "", http.StatusServiceUnavailable
		}
		next := record.Cookie{Digest: record.DigestOf(id), Created: t.now(), MaxAge: t.cookie.MaxAge, Auth: rot.auth}
		err = t.store.Rotate(rot.from, next)
		switch {
		case err == nil:
			t.moveConns(rot.from, next, rot.conn, visitorOf(id))
			return id, 0
		case errors.Is(err, memstore.ErrExists) && attempt < maxCreateAttempts:
			continue
		case errors.Is(err, memstore.ErrNotFound):
			return "", http.StatusForbidden
		}
		t.log.Error("cannot store a rotated cookie", "authid", rot.auth.AuthID, "err", err)
		return "", http.StatusServiceUnavailable
	}
}

// moveConns moves the connections of cookie from to cookie next. They
// keep their state, and in particular gain no auth: a connection of an
// attacker who planted the old cookie must not ride the rotation. Only
// keeper, the connection that logged in, now holds next as its own cookie;
// the others learn of the rotation through their page, and reconnect.
func (t *Tracker) moveConns(from record.Digest, next record.Cookie, keeper *Conn, visitor string) {
	blank := next
	blank.Auth = record.Auth{}
	for _, c := range t.reg.move(from, next.Digest) {
		if c != keeper {
			c.mu.Lock()
			c.cookie = blank
			c.mu.Unlock()
		}
	}
	// A Notifier may have moved the keeper already; it is on next either way.
	if keeper != nil && t.reg.digestOf(keeper) == next.Digest {
		t.reg.setExpiry(keeper, next.Expires().UnixNano())
		keeper.mu.Lock()
		keeper.cookie, keeper.presented, keeper.visitor = next, next.Digest, visitor
		keeper.mu.Unlock()
	}
}
