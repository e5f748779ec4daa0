// Package node runs a cookiestore node: everything that one config names.
//
// A config (package config) names transports, their WebSocket services and
// the store of each cookie block: "memory", "file" or "nats". Package httpd
// serves the transports but builds in memory stores only, since the other
// backends sit beside it, not below it. This package puts them together:
//
//   - [New] opens every store the config names (through an [Opener]) and
//     builds the server, and [Node.Serve] runs it, with a control socket in
//     the node directory, until its context ends. `cookiestore serve` is
//     exactly this, and a program that wants the whole node embeds it the
//     same way (see the example below).
//
//   - [Revoke] revokes a principal on a node, running or not: through the
//     control socket of the server that runs on the node directory, or,
//     when none runs, by opening the config's stores itself. It is
//     `cookiestore revoke`.
//
//   - An [Opener] opens one store as httpd.Options.OpenStore wants it, for a
//     program that builds its httpd.Server itself (the end-to-end tests do,
//     to inject faults through [Opener.FS]).
//
// A program runs a node so:
//
//	cfg, err := config.Load(".crossbar/config.json", ".crossbar")
//	if err != nil {
//		return err // every problem, each with its JSON path
//	}
//	n, err := node.New(cfg, node.Options{Dir: ".crossbar"})
//	if err != nil {
//		return err // e.g. "...: journal .crossbar/cookies.dat: in use by another process"
//	}
//	return n.Serve(ctx) // until ctx ends, then a graceful shutdown
//
// Every error depends on the call that returned it alone: an Opener keeps
// no state between calls, and a journal that another process holds is the
// journal's own "journal FILE: in use by another process".
//
// # The node directory
//
// The node directory (Options.Dir) is where relative names in the config
// resolve, as in a Crossbar node directory, and where the node keeps:
//
//   - cookiestore.sock ([SocketName]): the control socket, a Unix socket of
//     mode 0600, created when the node starts listening and removed at
//     shutdown. Whoever may connect to it may already read the journal
//     beside it, so the socket has no authentication of its own.
//   - cookiestore.sock.lock: held (flock) by the node that owns the socket,
//     for as long as it runs; never removed, as a journal's lock is not. A
//     second node on the same directory finds it held and refuses to start,
//     rather than take the socket of the first; a socket file whose lock is
//     free was left by a node that died, and is replaced.
//
// # Control protocol
//
// Version 1 ([ControlVersion]). A client connects to the socket, writes one
// request, reads one response and is done; the server then closes the
// connection. Each message is one JSON object on one line, ended by "\n".
// A request may hold at most [MaxControlRequest] bytes, newline included,
// and must arrive within 10 seconds of the connection, or the server
// answers with an error and closes. A response holds at most
// [MaxControlResponse] bytes.
//
// The only operation is "revoke":
//
//	→ {"v":1,"op":"revoke","authid":"alice"}
//	← {"v":1,"revoked":[{"service":"transports[0].paths.ws","store":"file","cookies":2,"connections":3}]}
//
// "revoked" has one entry per WebSocket service, in config order (a web
// transport's paths sorted by URL path, as the server builds them): the
// service's JSON path, its store type ("memory", "file", "nats", or "" when
// it tracks no cookies), the cookies deleted and the connections closed
// with 4002 "revoked". An entry whose store failed also has "error", and its
// counts say what was done before the failure. A request that the server
// cannot carry out (malformed, another version, an unknown op, an empty
// authid) gets only an error:
//
//	← {"v":1,"error":"unknown op \"list\""}
//
// A server reads "v", "op" and "authid" and ignores other fields; a
// request whose "v" is not 1 is refused, naming the versions it speaks.
package node
