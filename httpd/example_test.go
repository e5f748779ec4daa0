package httpd_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gorilla/websocket"

	"cookiestore/config"
	"cookiestore/httpd"
	"cookiestore/memstore"
	"cookiestore/record"
)

// An application mounts a Tracker on its own mux, next to its own
// handlers, and follows the tracked browsers through hooks. The tracker is
// given an opened store and a description of the service, whose zero
// fields are the secure defaults (HttpOnly, SameSite=Lax, a day's
// lifetime). The cookie ID is a bearer secret, so the application names a
// browser by its visitor digest.
func Example() {
	store := memstore.New(memstore.Options{})
	defer store.Close()

	events := make(chan string, 4)
	svc := &config.WebSocket{
		Cookie: &config.Cookie{Name: "visitor_id"},
		Auth: &config.Auth{Cookie: true, Ticket: &config.Ticket{Principals: map[string]config.Principal{
			"alice": {Ticket: "open sesame", Role: "editor"},
		}}},
	}
	tracker, err := httpd.NewTracker(svc, store, httpd.TrackerOptions{Logger: slog.New(slog.DiscardHandler), Hooks: httpd.Hooks{
		OnConnect: func(c *httpd.Conn) {
			events <- fmt.Sprintf("connect: visitor of %d digits, new cookie %v", len(c.Visitor()), c.IsNew())
		},
		OnAuth: func(c *httpd.Conn, a record.Auth) {
			// The stored cookie carries the login too, and so does the
			// connection's context.
			fromCtx, _ := httpd.FromContext(c.Context())
			events <- fmt.Sprintf("auth: %s as %s, on the cookie: %s", a.AuthID, a.AuthRole, fromCtx.Cookie().Auth.AuthID)
		},
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer tracker.Shutdown(context.Background())

	mux := http.NewServeMux()
	mux.Handle("/ws", tracker)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "the application") })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// A client: the handshake sets the cookie, the server says hello.
	ws, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer ws.Close()
	cookie := resp.Cookies()[0]
	fmt.Println("cookie:", cookie.Name, "HttpOnly:", cookie.HttpOnly, "SameSite Lax:", cookie.SameSite == http.SameSiteLaxMode)
	var msg struct {
		Type        string `json:"type"`
		New         bool   `json:"new"`
		Connections int    `json:"connections"`
	}
	if err := ws.ReadJSON(&msg); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-events)
	fmt.Println(msg.Type, "new:", msg.New, "connections:", msg.Connections)

	if err := ws.WriteJSON(map[string]string{"type": "login", "authid": "alice", "ticket": "open sesame"}); err != nil {
		log.Fatal(err)
	}
	if err := ws.ReadJSON(&msg); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-events)
	fmt.Println(msg.Type)
	// Output:
	// cookie: visitor_id HttpOnly: true SameSite Lax: true
	// connect: visitor of 16 digits, new cookie true
	// hello new: true connections: 1
	// auth: alice as editor, on the cookie: alice
	// welcome
}
