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
	}
	welcomeMsg struct {
		Type string    `json:"type"`
		Auth *authInfo `json:"auth"`
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

// initAuth sets the connection's auth at connect and reports whether it
// came from the cookie.
func (c *Conn) initAuth() (fromCookie bool) {
	a, prov := c.t.derivedAuth(c.Cookie(), c.visitor)
	c.mu.Lock()
	c.auth, c.authProv = a, prov
	c.mu.Unlock()
	return prov == providerCookie
}

// derivedAuth is the auth a connection has without a login of its own:
// the cookie's (with cookie auth on), else the anonymous role, else none.
func (t *Tracker) derivedAuth(ck record.Cookie, visitor string) (record.Auth, string) {
	a := t.auth
	switch {
	case a == nil:
		return record.Auth{}, ""
	case a.Cookie && !ck.Auth.IsZero():
		return ck.Auth, providerCookie
	case a.Anonymous != nil:
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
// again first, so that a login on another connection of the same browser
// shows through cookie auth.
func (c *Conn) sendHello(refresh bool) {
	t := c.t
	if refresh && c.tracked {
		if ck, ok := t.live(c.digest); ok {
			var a record.Auth
			gained := false
			c.mu.Lock()
			c.cookie = ck
			if c.authProv != providerStatic { // a login on this connection stands
				var prov string
				a, prov = t.derivedAuth(ck, c.visitor)
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
	h := helloMsg{Type: "hello", Visitor: c.visitor, New: c.isNew, Connections: 1, Auth: wireAuth(c.auth, c.authProv)}
	if c.tracked {
		h.Created = c.cookie.Created.UTC().Format(time.RFC3339)
	}
	c.mu.Unlock()
	if c.tracked {
		h.Connections = t.reg.count(c.digest)
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

// login checks a ticket against the static principals, stores the auth on
// the cookie and answers welcome.
func (c *Conn) login(authid, ticket string) {
	t := c.t
	if t.auth == nil || t.auth.Ticket == nil {
		c.replyError("login is not enabled on this service")
		return
	}
	p, known := t.auth.Ticket.Principals[authid]
	// Comparing digests takes the same time whatever the lengths, and an
	// unknown authid costs the same as a wrong ticket.
	got, want := sha256.Sum256([]byte(ticket)), sha256.Sum256([]byte(p.Ticket))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 || !known || p.Ticket == "" {
		c.t.log.Info("login refused", "remote", c.remote, "visitor", c.visitor, "authid", clip(authid, 64))
		c.replyError("login failed: unknown authid or wrong ticket")
		return
	}
	realm := p.Realm
	if realm == "" {
		realm = config.DefaultRealm
	}
	a := record.Auth{AuthID: authid, AuthRole: p.Role, AuthMethod: "ticket", AuthRealm: realm}
	if c.tracked {
		// The welcome is sent only once the login is as durable as the
		// store promises, like the cookie itself.
		if err := t.store.SetAuth(c.digest, a); err != nil {
			if _, live := t.live(c.digest); !live {
				c.replyError("login failed: this browser's cookie no longer exists; reconnect")
				return
			}
			c.t.log.Error("cannot store a login", "remote", c.remote, "visitor", c.visitor, "authid", authid, "err", err)
			c.replyError("login failed: the server cannot store it, try again later")
			return
		}
	}
	c.mu.Lock()
	c.auth, c.authProv = a, providerStatic
	c.cookie.Auth = a
	c.mu.Unlock()
	c.t.log.Info("login", "remote", c.remote, "visitor", c.visitor, "authid", authid, "authrole", p.Role)
	if t.hooks.OnAuth != nil {
		t.hooks.OnAuth(c, a)
	}
	_ = c.Send(welcomeMsg{Type: "welcome", Auth: wireAuth(a, providerStatic)})
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
	others, live, err := t.deleteCookie(c.digest, record.ReasonLogout)
	if live {
		c.t.log.Error("logout failed; the cookie stays", "remote", c.remote, "visitor", c.visitor, "err", err)
		c.replyError("logout failed: the server cannot store it, try again later")
		return
	}
	others = unique(others, c)
	c.t.log.Info("logout", "remote", c.remote, "visitor", c.visitor, "kicked", len(others))
	_ = c.Send(goodbyeMsg{Type: "goodbye"})
	c.Close(websocket.CloseNormalClosure, "logout")
	closeEach(others, nil, CloseLoggedOut, "logged out")
}
