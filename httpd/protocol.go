package httpd

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gorilla/websocket"

	"cookiestore/config"
	"cookiestore/record"
)

// This file is the message protocol of a connection: the hello, and the
// answers to login, logout and whoami. conn.go moves the frames.

// Auth providers reported in the "authprovider" field.
const (
	providerStatic    = "static"    // a login on this connection, checked against the config
	providerCookie    = "cookie"    // taken from the cookie at connect (cookie auth)
	providerAnonymous = "anonymous" // internal marker: the anonymous role, provider "static" on the wire
)

// visitorOf is the public name of a cookie: a digest that identifies the
// browser in logs, messages and as anonymous authid without disclosing the
// cookie, which is a bearer secret.
func visitorOf(id string) string {
	if id == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("cookiestore visitor\x00" + id))
	return hex.EncodeToString(sum[:8])
}

// Messages of the protocol. Field names are part of the protocol.
type (
	authInfo struct {
		AuthID       string `json:"authid"`
		AuthRole     string `json:"authrole"`
		AuthMethod   string `json:"authmethod"`
		AuthRealm    string `json:"authrealm"`
		AuthProvider string `json:"authprovider"`
	}
	helloMsg struct {
		Type        string    `json:"type"`
		Visitor     string    `json:"visitor"`
		New         bool      `json:"new"`
		Connections int       `json:"connections"`
		Created     string    `json:"created,omitempty"`
		Auth        *authInfo `json:"auth"`
		Methods     []string  `json:"methods"`
	}
	welcomeMsg struct {
		Type   string    `json:"type"`
		Auth   *authInfo `json:"auth"`
		Rotate string    `json:"rotate,omitempty"`
	}
	errorMsg struct {
		Type  string `json:"type"`
		Error string `json:"error"`
	}
	goodbyeMsg struct {
		Type string `json:"type"`
	}
	request struct {
		Type   string `json:"type"`
		AuthID string `json:"authid"`
		Ticket string `json:"ticket"`
	}
)

// Error texts of the protocol that clients may test for.
const errTooManyLogins = "too many login attempts"

// loginMethods are the login methods that auth offers, for the hello: a
// ticket login needs at least one principal to log in as.
func loginMethods(auth *config.Auth) []string {
	methods := []string{}
	if auth != nil && auth.Ticket != nil && len(auth.Ticket.Principals) > 0 {
		methods = append(methods, "ticket")
	}
	return methods
}

// initAuth sets the connection's auth at connect and reports whether it
// came from the cookie.
func (c *Conn) initAuth() (fromCookie bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.auth, c.authProv = c.t.derivedAuth(c.cookie, c.presented, c.visitor)
	return c.authProv == providerCookie
}

// derivedAuth is the auth a connection has without a login of its own:
// the cookie's (with cookie auth on, and only for the cookie the client
// presented), else the anonymous role, else none.
func (t *Tracker) derivedAuth(ck record.Cookie, presented record.Digest, visitor string) (record.Auth, string) {
	a := t.auth
	if a == nil {
		return record.Auth{}, ""
	}
	if a.Cookie && !ck.Auth.IsZero() && ck.Digest == presented {
		if auth, ok := t.recheck(ck.Auth); ok {
			return auth, providerCookie
		}
	}
	if a.Anonymous != nil {
		authid := visitor
		if authid == "" {
			// Untracked: a name for this connection alone.
			authid, _ = record.NewID(t.rand, 16)
		}
		role := a.Anonymous.Role
		if role == "" {
			role = config.DefaultAnonymousRole
		}
		return record.Auth{AuthID: authid, AuthRole: role, AuthMethod: "anonymous", AuthRealm: config.DefaultRealm}, providerAnonymous
	}
	return record.Auth{}, ""
}

// recheck holds an auth stored on a cookie against the configuration in
// force now, at every use: a ticket login stands only while its principal
// exists, and takes its role and realm from the config as it is now. An
// auth of another method was stored by a program through the Go API; the
// config cannot vouch for it, and it stands as stored.
func (t *Tracker) recheck(stored record.Auth) (record.Auth, bool) {
	if stored.AuthMethod != "ticket" {
		return stored, true
	}
	if t.auth.Ticket == nil {
		return record.Auth{}, false
	}
	p, ok := t.auth.Ticket.Principals[stored.AuthID]
	if !ok {
		return record.Auth{}, false
	}
	stored.AuthRole, stored.AuthRealm = p.Role, realmOf(p)
	return stored, true
}

func realmOf(p config.Principal) string {
	if p.Realm == "" {
		return config.DefaultRealm
	}
	return p.Realm
}

func wireAuth(a record.Auth, prov string) *authInfo {
	if a.IsZero() {
		return nil
	}
	if prov == providerAnonymous {
		prov = providerStatic
	}
	return &authInfo{AuthID: a.AuthID, AuthRole: a.AuthRole, AuthMethod: a.AuthMethod, AuthRealm: a.AuthRealm, AuthProvider: prov}
}

// sendHello sends the hello. With refresh (whoami), the cookie is read
// again first, and a connection that is not logged in on its own takes its
// auth from it again: cookie auth, checked against the config as it is now.
func (c *Conn) sendHello(refresh bool) {
	t := c.t
	d := t.reg.digestOf(c)
	if refresh && c.tracked {
		if ck, ok := t.live(d); ok {
			var a record.Auth
			gained := false
			c.mu.Lock()
			if c.presented != ck.Digest {
				ck.Auth = record.Auth{} // moved by a rotation: not this client's login
			}
			c.cookie = ck
			if c.authProv != providerStatic { // a login on this connection stands
				var prov string
				a, prov = t.derivedAuth(ck, c.presented, c.visitor)
				gained = prov == providerCookie && (c.authProv != providerCookie || c.auth.AuthID != a.AuthID)
				c.auth, c.authProv = a, prov
			}
			c.mu.Unlock()
			if gained && t.hooks.OnAuth != nil {
				t.hooks.OnAuth(c, a)
			}
		}
	}
	c.mu.Lock()
	h := helloMsg{Type: "hello", Visitor: c.visitor, New: c.isNew, Connections: 1, Auth: wireAuth(c.auth, c.authProv), Methods: t.methods}
	if c.tracked {
		h.Created = c.cookie.Created.UTC().Format(time.RFC3339)
	}
	c.mu.Unlock()
	if c.tracked {
		h.Connections = t.reg.count(d)
	}
	_ = c.Send(h)
}

func (c *Conn) replyError(msg string) { _ = c.Send(errorMsg{Type: "error", Error: msg}) }

// handle answers one message from the client. Nothing a client sends ends
// the connection, except a logout.
func (c *Conn) handle(typ int, data []byte) {
	if typ != websocket.TextMessage {
		c.replyError("binary messages are not supported; send JSON text messages")
		return
	}
	var req request
	if err := json.Unmarshal(data, &req); err != nil {
		c.replyError("message is not a JSON object with a \"type\"")
		return
	}
	switch req.Type {
	case "login":
		c.login(req.AuthID, req.Ticket)
	case "logout":
		c.logout()
	case "whoami":
		c.sendHello(true)
	case "":
		c.replyError("message has no \"type\"")
	default:
		c.replyError(fmt.Sprintf("unknown message type %q (known: login, logout, whoami)", clip(req.Type, 32)))
	}
}

// authidDigest names an authid that a client typed, for the log: a failed
// login's authid may be a password typed into the wrong field.
func authidDigest(authid string) string {
	sum := sha256.Sum256([]byte("cookiestore authid\x00" + authid))
	return hex.EncodeToString(sum[:8])
}

// login checks a ticket against the static principals and answers
// welcome. The connection is then logged in; no cookie is. With tracking
// on, the welcome carries a rotation token, which the browser trades for a
// new cookie that carries the login (rotate.go).
func (c *Conn) login(authid, ticket string) {
	t := c.t
	if t.auth == nil || t.auth.Ticket == nil {
		c.replyError("login is not enabled on this service")
		return
	}
	if t.clients.loginBlocked(c.client, t.now()) {
		t.log.Info("login refused unchecked: too many failures from the client address", "client", c.client, "visitor", c.Visitor())
		c.replyError(errTooManyLogins)
		return
	}
	p, known := t.auth.Ticket.Principals[authid]
	// Comparing digests takes the same time whatever the lengths, and an
	// unknown authid costs the same as a wrong ticket.
	got, want := sha256.Sum256([]byte(ticket)), sha256.Sum256([]byte(p.Ticket))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 || !known || p.Ticket == "" {
		t.clients.loginFailed(c.client, t.now())
		t.log.Info("login refused", "client", c.client, "visitor", c.Visitor(), "authid_digest", authidDigest(authid))
		c.replyError("login failed: unknown authid or wrong ticket")
		return
	}
	a := record.Auth{AuthID: authid, AuthRole: p.Role, AuthMethod: "ticket", AuthRealm: realmOf(p)}
	welcome := welcomeMsg{Type: "welcome", Auth: wireAuth(a, providerStatic)}
	if c.tracked {
		token, err := t.rot.issue(t.rand, c, t.reg.digestOf(c), a, t.now())
		if err != nil {
			t.log.Error("cannot draw a rotation token", "visitor", c.Visitor(), "err", err)
			c.replyError("login failed: the server cannot issue a cookie for it, try again later")
			return
		}
		welcome.Rotate = token
	}
	c.mu.Lock()
	c.auth, c.authProv = a, providerStatic
	c.mu.Unlock()
	t.log.Info("login", "client", c.client, "visitor", c.Visitor(), "authid", authid, "authrole", p.Role)
	if t.hooks.OnAuth != nil {
		t.hooks.OnAuth(c, a)
	}
	_ = c.Send(welcome)
}

// logout deletes the cookie, says goodbye, closes this connection and then
// the cookie's others.
func (c *Conn) logout() {
	t := c.t
	if !c.tracked {
		c.mu.Lock()
		c.auth, c.authProv = record.Auth{}, ""
		c.mu.Unlock()
		_ = c.Send(goodbyeMsg{Type: "goodbye"})
		c.Close(websocket.CloseNormalClosure, "logout")
		return
	}
	c.setLeaving(true)
	d, unlock := t.lockCookieOf(c)
	c.mu.Lock()
	presented := c.presented
	c.mu.Unlock()
	if presented != d {
		// A rotation moved this connection onto a cookie it never
		// presented: a tab of the browser that has not reconnected yet,
		// or a connection that an attacker opened with a cookie planted
		// in the browser. It cannot tell which, so the logout ends this
		// connection only; the browser logs out from a tab that holds
		// the cookie.
		unlock()
		t.log.Info("logout of a connection moved by a rotation; the cookie stays", "remote", c.remote, "visitor", c.Visitor())
		_ = c.Send(goodbyeMsg{Type: "goodbye"})
		c.Close(websocket.CloseNormalClosure, "logout")
		return
	}
	others, live, err := t.deleteCookie(d, record.ReasonLogout)
	unlock()
	if live {
		c.setLeaving(false)
		t.log.Error("logout failed; the cookie stays", "remote", c.remote, "visitor", c.Visitor(), "err", err)
		c.replyError("logout failed: the server cannot store it, try again later")
		return
	}
	others = unique(others, c)
	t.log.Info("logout", "remote", c.remote, "visitor", c.Visitor(), "kicked", len(others))
	_ = c.Send(goodbyeMsg{Type: "goodbye"})
	c.Close(websocket.CloseNormalClosure, "logout")
	closeEach(others, nil, CloseLoggedOut, "logged out")
}

func (c *Conn) setLeaving(v bool) {
	c.mu.Lock()
	c.leaving = v
	c.mu.Unlock()
}

func (c *Conn) isLeaving() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leaving
}
