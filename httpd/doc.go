// Package httpd is cookiestore's tracking server: it recognises browsers
// that connect over WebSocket by an HTTP cookie, remembers in a [Store] who
// logged in on each cookie, and serves the static files, status and
// metrics around it. Its configuration is Crossbar.io's JSON shape, read by
// package config.
//
// A [Server] serves a whole config.Config ([New]), opening the stores it
// names through Options.OpenStore. A program that has its own mux mounts a
// [Tracker], the http.Handler of one WebSocket service, instead
// ([NewTracker], see the example, which embeds it with a file store): it
// gives the tracker an opened [Store] and a config.WebSocket, whose zero
// fields are the secure defaults.
//
// The code follows a request: handshake.go admits a WebSocket handshake,
// conn.go moves its frames, protocol.go answers its messages, rotate.go
// turns a login into a new cookie, end.go closes connections from the
// server's side (logout, revoke, expiry, shutdown), origin.go and
// limits.go hold the checks, and server.go, static.go, status.go,
// metrics.go and page.go are the rest of a Server.
//
// # Handshake
//
// A WebSocket handshake on a service with a cookie block goes:
//
//  1. The Host header must be one that options.allowed_hosts lists. Without
//     the key, a listener on a loopback address answers only "localhost",
//     "127.0.0.1" and "[::1]" with its own port, so that a page whose DNS
//     name was rebound to 127.0.0.1 cannot reach it; other listeners
//     answer any host. Otherwise the answer is 421. A [Server] checks every
//     request of a transport that has a tracked WebSocket service this way
//     (its page, status, metrics and static files too), and passes a Host
//     that one of the transport's tracked services allows.
//  2. The Origin header must be the request's own origin (scheme, host and
//     port; https when the request came over TLS, or through a proxy of
//     options.trusted_proxies that says X-Forwarded-Proto: https), or match
//     one of options.allowed_origins, where "*" matches any run of
//     characters and a pattern without "://" is matched against the host
//     alone. "null" passes only with options.allow_null_origin, whatever
//     the patterns. A request without Origin (not a browser) passes.
//     Otherwise the answer is 403, before any cookie is looked at.
//  3. A store that implements [Readiness] and is not ready gets 503.
//  4. Of the values of the cookie in the Cookie header (the name may be
//     repeated; other cookies may hold anything), the first well-formed ID
//     that the store holds unexpired is reused. Malformed values never
//     reach the store, at most 8 distinct candidates are looked up, and a
//     value repeated counts once.
//  5. If there is none, a new random ID (crypto/rand) is drawn, if the
//     client address has one left in its bucket of new cookies
//     (options.max_new_cookies_per_second, default 100, refilling
//     options.new_cookie_burst, default 1000; past it, 429), and created
//     in the store. Create returns once the cookie is as durable as
//     store.sync promises, and only then is the 101 sent with Set-Cookie:
//     the server never hands out a cookie that a crash could forget. If
//     the store fails, the answer is 503 and no cookie is set.
//  6. A cookie that already has max_connections_per_cookie connections
//     (default 100) is refused with 429.
//
// Set-Cookie is sent only with a new cookie, never refreshed:
//
//	Set-Cookie: cbtid=<id>; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax
//
// The defaults are safer than Crossbar's: HttpOnly unless "http_strict":
// false, SameSite=Lax unless "same_site" says otherwise, and Secure whenever
// the request came over TLS (to this server, or to a trusted proxy that
// says X-Forwarded-Proto: https), with "secure": true, or when the name
// starts with "__Host-" or "__Secure-". Path=/ is added,
// unlike Crossbar, and no Domain, so a "__Host-" name works.
//
// The client address, which the limits count by, is the peer's; when the
// peer is in options.trusted_proxies, it is the right-most address of
// X-Forwarded-For that is not itself a trusted proxy. An IPv6 client counts
// by its /64. The table of addresses is bounded (65,536, least recently
// seen out first).
//
// Without a cookie block, tracking is off: no cookie is read or set, and
// the protocol works per connection.
//
// # Protocol
//
// Messages are JSON text frames. The server speaks first:
//
//	{"type":"hello","visitor":"3f2a...","new":true,"connections":1,"created":"2026-11-26T12:00:00Z","auth":null,"methods":["ticket"]}
//
// visitor is a stable, non-secret name of the cookie (16 hex digits of a
// SHA-256 of it, not the digest the store keeps), new says whether this
// handshake issued the cookie, connections counts this browser's live
// connections, created is when the cookie was issued, and methods are the
// login methods the service offers: ["ticket"] when auth.ticket has a
// principal, else []. Untracked, visitor is "", new false, connections 1,
// and created is absent. The cookie value itself is never sent in a
// message nor written to a log: it is a bearer secret.
//
// auth is null or {"authid","authrole","authmethod","authrealm",
// "authprovider"}: a login on this connection, with authprovider "static";
// with auth.cookie on and a cookie that carries a login, the original
// method (say "ticket") with authprovider "cookie"; with auth.anonymous,
// the anonymous role with the visitor as authid (a random one per
// connection when untracked) and method "anonymous". Cookie auth holds a
// stored login against the configuration in force at every hello and
// whoami: a ticket login stands only while its principal exists, with the
// role and realm that the config gives it now.
//
// The client may send:
//
//	{"type":"login","authid":"alice","ticket":"..."}  → {"type":"welcome","auth":{...,"authprovider":"static"},"rotate":"<token>"} or an error
//	{"type":"logout"}                                  → {"type":"goodbye"}, then the close
//	{"type":"whoami"}                                  → a fresh hello
//
// A login is checked against auth.ticket's principals in constant time.
// After 10 failed logins from one client address within a minute, further
// logins from it get {"type":"error","error":"too many login attempts"},
// unchecked, until a minute after the first of those failures. A failed
// login is logged with the visitor and a digest of the authid, never what
// the client typed. Anything else (not JSON, no type, an unknown type, a
// binary frame) gets {"type":"error","error":"..."} and the connection
// stays open.
//
// # Login rotates the cookie
//
// A login never writes its auth onto the cookie that the browser came
// with: that value may have been planted by an attacker (session
// fixation). Until the rotation, the connection that logged in is
// authenticated, and no cookie is. With tracking on, the welcome carries
// "rotate": a random token, valid for 60 seconds and once, bound to the
// cookie of the connection that logged in. The browser trades it:
//
//	POST /ws                        (the service's own path)
//	Content-Type: application/json
//	Cookie: cbtid=<the old ID>
//	Origin: <an origin the service allows>
//
//	{"rotate":"<token>"}
//
// The answer is 204 with Set-Cookie of a new ID that carries the login
// (Store.Rotate creates it, then deletes the old one with
// record.ReasonRotated). The old cookie's other live connections move to
// the new one, so that a later logout closes them too, but they gain no
// auth: one of them may be the attacker's, on the planted cookie. The
// built-in page tells its other tabs to reconnect, and they are logged in
// by the new cookie. A bad, used or expired token, or one sent with
// another cookie, gets 403 and changes nothing; a body that is not
// application/json 415; malformed JSON 400; a store that fails or is not
// ready 503 (the token stays good for a retry). A revoke voids the pending
// tokens of its principal. Tokens live in the memory of the Tracker that
// sent the welcome: behind a load balancer, the POST must reach the same
// node.
//
// # Logout, revoke, expiry
//
// A logout collects the cookie's other connections first, then deletes the
// cookie, then closes them: Crossbar looked them up after the delete and
// closed none. The next connection of the browser gets a new cookie.
// [Tracker.Revoke] does the same for every cookie of a principal, and for
// the connections logged in as it that have not rotated yet;
// [Tracker.Logout] does it for one cookie, from Go. When a cookie's max_age
// passes, its connections are closed by a sweep on the tracker's clock. A
// store that implements [Notifier] reports deletions made elsewhere
// (another node, its own expiry), which close the cookie's connections
// here, or, for a rotation, move them.
//
// # Close codes
//
//	1000 "logout"       the connection that logged out
//	1001 "going away"   the server is shutting down
//	1008                the client does not read its answers (32 queued)
//	1009                a message over max_message_size (default 64 KiB)
//	4001 "logged out"   another connection of the browser logged out ([CloseLoggedOut])
//	4002 "revoked"      the principal was revoked ([CloseRevoked])
//	4003 "expired"      the cookie's max_age passed ([CloseExpired])
//
// The server pings every 25 seconds and drops a connection that has not
// answered for 60.
//
// # Around the WebSocket
//
// Service type "static" serves a folder through an os.Root, so that no
// path or symlink leads out of it, gzip-compressed for clients that accept
// it; a name that starts with a dot is absent (404), and a folder is served
// by its index.html or not at all, never listed. "status" serves a JSON
// document (connections, cookies, ready, and per store its journal
// figures, read_only, ready, error and, for a store shared through a
// stream, its position there; see [StoreStats]); "metrics" serves
// Prometheus metrics from a registry of the Server's own:
// cookiestore_connections, cookiestore_cookies,
// cookiestore_events_appended_total, cookiestore_journal_bytes,
// cookiestore_compactions_total, cookiestore_fsync_errors_total,
// cookiestore_store_read_only, cookiestore_stream_lag, the summary
// cookiestore_stream_publish_seconds, the histogram cookiestore_fsync_seconds and
// cookiestore_handshakes_total{result="new|returning|untracked|refused|error"},
// plus the Go runtime's. "page" is the built-in page.
//
// Every HTTP server has a read-header timeout (10 s by default), an idle
// timeout and a 64 KiB header limit. Logs go to log/slog and name a
// browser by its visitor only.
package httpd
