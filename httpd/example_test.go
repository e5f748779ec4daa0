package httpd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"cookiestore/config"
	"cookiestore/filestore"
	"cookiestore/httpd"
	"cookiestore/record"
)

// An application mounts a Tracker on its own mux, next to its own
// handlers, with a file store that keeps the cookies across restarts, and
// follows the tracked browsers through hooks. The tracker is given an
// opened store and a description of the service, whose zero fields are the
// secure defaults (HttpOnly, SameSite=Lax, a day's lifetime). The cookie ID
// is a bearer secret, so the application names a browser by its visitor
// digest.
//
// A login rotates the cookie: the welcome carries a token, which the
// browser posts back to the service's path with its old cookie, and gets a
// new cookie that carries the login. The shutdown closes the WebSockets
// first, then the HTTP server, then the store, which syncs the journal and
// releases its lock.
func Example() {
	dir, err := os.MkdirTemp("", "cookiestore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := filestore.Open(filepath.Join(dir, "cookies.dat"), filestore.Options{})
	if err != nil {
		log.Fatal(err)
	}

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
			fromCtx, _ := httpd.FromContext(c.Context())
			events <- fmt.Sprintf("auth: %s as %s, the same connection: %v", a.AuthID, a.AuthRole, fromCtx == c)
		},
	}})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", tracker)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "the application") })
	srv := httptest.NewServer(mux)

	// A browser: the handshake sets the cookie, the server says hello.
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	ws, resp, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		log.Fatal(err)
	}
	cookie := resp.Cookies()[0]
	fmt.Println("cookie:", cookie.Name, "HttpOnly:", cookie.HttpOnly, "SameSite Lax:", cookie.SameSite == http.SameSiteLaxMode)
	var msg struct {
		Type        string   `json:"type"`
		New         bool     `json:"new"`
		Connections int      `json:"connections"`
		Methods     []string `json:"methods"`
		Rotate      string   `json:"rotate"`
		Auth        *struct {
			AuthID       string `json:"authid"`
			AuthProvider string `json:"authprovider"`
		} `json:"auth"`
	}
	if err := ws.ReadJSON(&msg); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-events)
	fmt.Println(msg.Type, "new:", msg.New, "connections:", msg.Connections, "methods:", msg.Methods)

	// A login, and the rotation of the cookie that it asks for.
	if err := ws.WriteJSON(map[string]string{"type": "login", "authid": "alice", "ticket": "open sesame"}); err != nil {
		log.Fatal(err)
	}
	if err := ws.ReadJSON(&msg); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-events)
	fmt.Println(msg.Type, "with a rotation token:", msg.Rotate != "")
	body, _ := json.Marshal(map[string]string{"rotate": msg.Rotate})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/ws", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(cookie)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	rotated := resp.Cookies()[0]
	fmt.Println("rotation:", resp.Status, "new cookie:", rotated.Value != cookie.Value)

	// The browser's next connection is logged in by its new cookie.
	again, _, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Cookie": {rotated.String()}})
	if err != nil {
		log.Fatal(err)
	}
	if err := again.ReadJSON(&msg); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-events)
	fmt.Println(<-events)
	fmt.Println(msg.Type, "new:", msg.New, "auth:", msg.Auth.AuthID, "by", msg.Auth.AuthProvider)

	// A clean shutdown.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tracker.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	ws.Close()
	again.Close()
	srv.Close()
	if err := store.Close(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// cookie: visitor_id HttpOnly: true SameSite Lax: true
	// connect: visitor of 16 digits, new cookie true
	// hello new: true connections: 1 methods: [ticket]
	// auth: alice as editor, the same connection: true
	// welcome with a rotation token: true
	// rotation: 204 No Content new cookie: true
	// connect: visitor of 16 digits, new cookie false
	// auth: alice as editor, the same connection: true
	// hello new: false auth: alice by cookie
}
