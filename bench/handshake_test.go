package bench

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"cookiestore/config"
	"cookiestore/httpd"
	"cookiestore/internal/testkit"
	"cookiestore/memstore"
)

// BenchmarkHandshake measures one WebSocket upgrade per op on loopback: a
// TCP connect, the HTTP upgrade, and the server's hello read by the client.
// tracking=off serves no cookie block; tracking=new issues a cookie into a
// memory store each time; tracking=returning presents a known cookie. The
// floor is returning within 1.3x of off: looking up a cookie must cost
// little next to the handshake itself.
func BenchmarkHandshake(b *testing.B) {
	clk := testkit.NewClock()
	store := memstore.New(memstore.Options{Clock: clk.Now})
	defer store.Close()
	opts := httpd.TrackerOptions{Logger: slog.New(slog.DiscardHandler), Clock: clk.Now}
	off, err := httpd.NewTracker(&config.WebSocket{}, nil, opts)
	if err != nil {
		b.Fatal(err)
	}
	on, err := httpd.NewTracker(&config.WebSocket{
		Cookie: &config.Cookie{},
		// Clients close without waiting, so the server may still hold many
		// connections of the returning cookie; the cap is not measured here.
		MaxConnectionsPerCookie: -1,
		// Every handshake comes from one address. The bucket is large
		// enough never to run dry, so that its cost is measured and not
		// its refusals.
		MaxNewCookiesPerSecond: 1_000_000,
		NewCookieBurst:         1_000_000,
	}, store, opts)
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/off", off)
	mux.Handle("/on", on)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	base := "ws" + strings.TrimPrefix(srv.URL, "http")

	handshake := func(b *testing.B, url string, h http.Header) *http.Response {
		ws, resp, err := websocket.DefaultDialer.Dial(url, h)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := ws.ReadMessage(); err != nil {
			b.Fatal(err)
		}
		ws.Close()
		return resp
	}
	settle := func(b *testing.B) {
		deadline := time.Now().Add(10 * time.Second)
		for off.Connections()+on.Connections() > 0 {
			if time.Now().After(deadline) {
				b.Fatal("connections of the previous run did not close")
			}
			time.Sleep(time.Millisecond)
		}
	}
	// run handshakes with the headers in turn; nil means no Cookie header.
	run := func(url string, headers []http.Header) func(b *testing.B) {
		return func(b *testing.B) {
			settle(b)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				handshake(b, url, headers[i%len(headers)])
				i++
			}
		}
	}

	b.Run("tracking=off", run(base+"/off", []http.Header{nil}))
	b.Run("tracking=new", run(base+"/on", []http.Header{nil}))
	// Returning visitors are many browsers, each back with its own cookie:
	// one cookie for every handshake would measure a single browser with
	// hundreds of connections still closing.
	returning := make([]http.Header, 1024)
	for i := range returning {
		c := handshake(b, base+"/on", nil).Cookies()[0]
		returning[i] = http.Header{"Cookie": {c.Name + "=" + c.Value}}
	}
	b.Run("tracking=returning", run(base+"/on", returning))
}
