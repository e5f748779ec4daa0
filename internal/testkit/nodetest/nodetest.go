// Package nodetest holds what the tests of a running node need, whether
// they run it in process (package node) or as `cookiestore serve` (the
// command's tests): a config with two stores, a journal seeded with
// cookies, and WebSocket clients. It stands apart from package testkit
// because it uses package filestore, whose own tests use testkit.
package nodetest

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"cookiestore/config"
	"cookiestore/filestore"
	"cookiestore/record"
)

// Config serves /ws with a file store on cookies.dat in the node directory,
// with cookie and ticket login for alice and bob, and /mem with a memory
// store, with ticket login for alice. Its port is 8080: a test serves it on
// a port of its own.
const Config = `{"transports": [{"type": "web", "endpoint": {"type": "tcp", "interface": "127.0.0.1", "port": 8080},
	"paths": {
		"ws": {"type": "websocket", "cookie": {"name": "cbtid", "store": {"type": "file", "filename": "cookies.dat"}}, "auth": {
			"cookie": {}, "ticket": {"type": "static", "principals": {"alice": {"ticket": "a", "role": "user"}, "bob": {"ticket": "b", "role": "user"}}}}},
		"mem": {"type": "websocket", "cookie": {"name": "cbmem", "store": {"type": "memory"}}, "auth": {
			"ticket": {"type": "static", "principals": {"alice": {"ticket": "a", "role": "user"}}}}}
	}}]}`

// Seed writes cookies into the journal at path before a node opens it, as
// a node would have: one for each authid ("" for nobody), created at now()
// with an hour to live, and returns their IDs. A node in process runs on
// the test's clock; `cookiestore serve` runs on the wall clock, time.Now.
func Seed(t testing.TB, path string, now func() time.Time, authids ...string) []string {
	t.Helper()
	st, err := filestore.Open(path, filestore.Options{Clock: now, JanitorInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var ids []string
	for _, a := range authids {
		id, err := record.NewID(nil, record.DefaultIDLength)
		if err != nil {
			t.Fatal(err)
		}
		c := record.Cookie{Digest: record.DigestOf(id), Created: now(), MaxAge: time.Hour}
		if a != "" {
			c.Auth = record.Auth{AuthID: a, AuthRole: "user", AuthMethod: "ticket", AuthRealm: config.DefaultRealm}
		}
		if err := st.Create(c); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// Conn is one WebSocket connection of a test to a node.
type Conn struct {
	t     testing.TB
	WS    *websocket.Conn
	Hello map[string]any // the node's first message
}

// Dial connects to path on the node at addr (host:port) with the cookie
// name=value (none if value is ""), reads the hello, and closes the
// connection when the test ends.
func Dial(t testing.TB, addr, path, name, value string) *Conn {
	t.Helper()
	h := http.Header{"Origin": {"http://" + addr}}
	if value != "" {
		h.Set("Cookie", name+"="+value)
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	ws, _, err := d.Dial("ws://"+addr+path, h)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	t.Cleanup(func() { ws.Close() })
	c := &Conn{t: t, WS: ws}
	c.Hello = c.Read()
	return c
}

// Read returns the next message, waiting 5 s at the most.
func (c *Conn) Read() map[string]any {
	c.t.Helper()
	_ = c.WS.SetReadDeadline(time.Now().Add(5 * time.Second))
	var m map[string]any
	if err := c.WS.ReadJSON(&m); err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return m
}

// Reply sends v and returns the message that answers it.
func (c *Conn) Reply(v any) map[string]any {
	c.t.Helper()
	if err := c.WS.WriteJSON(v); err != nil {
		c.t.Fatalf("write: %v", err)
	}
	return c.Read()
}

// Closed waits for the node's close frame and returns its code and text.
func (c *Conn) Closed() (int, string) {
	c.t.Helper()
	_ = c.WS.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.WS.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Text
		}
		if err != nil {
			c.t.Fatalf("want a close frame, got %v", err)
		}
	}
}

// AuthID returns the authid of a hello or welcome, "" for none.
func AuthID(m map[string]any) string {
	a, _ := m["auth"].(map[string]any)
	id, _ := a["authid"].(string)
	return id
}
