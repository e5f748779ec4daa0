package httpd_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/gorilla/websocket"

	"cookiestore/config"
	"cookiestore/filestore"
	"cookiestore/httpd"
	"cookiestore/record"
)

// run is the program of the README's section "Embedding": it serves a
// tracker at /ws on ln, with the cookies in the journal file, until ctx
// ends, and then shuts down cleanly: the WebSockets first (with 1001 "going
// away"), then the HTTP server, then the store, which syncs the journal and
// releases its lock. A test holds the README's copy to this one, letter for
// letter, and another builds the README's program as a module of its own.
func run(ctx context.Context, ln net.Listener, journal string) error {
	store, err := filestore.Open(journal, filestore.Options{}) // durable before each call returns
	if err != nil {
		return err // filestore.ErrLocked: in use; filestore.ErrCorrupt: run `cookiestore repair`
	}
	defer store.Close()

	svc := &config.WebSocket{
		Cookie: &config.Cookie{Name: "cbtid"}, // zero fields are the secure defaults: HttpOnly, SameSite=Lax, a day
		Auth: &config.Auth{
			Cookie: true, // a returning browser is logged in again by its cookie
			Ticket: &config.Ticket{Principals: map[string]config.Principal{
				"alice": {Ticket: "secret", Role: "user"},
			}},
		},
	}
	tracker, err := httpd.NewTracker(svc, store, httpd.TrackerOptions{
		Hooks: httpd.Hooks{
			OnAuth: func(c *httpd.Conn, a record.Auth) { log.Printf("visitor %s is %s", c.Visitor(), a.AuthID) },
		},
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", tracker) // also takes the POST of a login's rotation token
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// http.Server.Shutdown does not wait for WebSockets: close them first.
	return errors.Join(tracker.Shutdown(shutdown), srv.Shutdown(shutdown))
}

// A program embeds the tracker on its own HTTP server with a file store,
// as the README shows, and stops cleanly: afterwards the journal opens
// again at once, its lock released, with the cookie the browser got.
func Example_embed() {
	dir, err := os.MkdirTemp("", "cookiestore-embed")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	journal := filepath.Join(dir, "cookies.dat")
	ln, err := net.Listen("tcp", "127.0.0.1:0") // the README's program listens on 127.0.0.1:8080
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, journal) }()

	ws, resp, err := websocket.DefaultDialer.Dial("ws://"+ln.Addr().String()+"/ws", nil)
	if err != nil {
		log.Fatal(err)
	}
	var hello struct {
		Type string `json:"type"`
		New  bool   `json:"new"`
	}
	if err := ws.ReadJSON(&hello); err != nil {
		log.Fatal(err)
	}
	fmt.Println(hello.Type, "new:", hello.New, "cookie:", resp.Cookies()[0].Name)

	stop() // as SIGINT or SIGTERM would
	_, _, err = ws.ReadMessage()
	fmt.Println("the browser's connection:", err)
	fmt.Println("run returned:", <-done)

	store, err := filestore.Open(journal, filestore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	fmt.Println("the journal reopens with", store.Len(), "cookie")
	// Output:
	// hello new: true cookie: cbtid
	// the browser's connection: websocket: close 1001 (going away): going away
	// run returned: <nil>
	// the journal reopens with 1 cookie
}
