package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"cookiestore/internal/testkit/nodetest"
	"cookiestore/record"
)

// track connects to /ws of the server at addr with the cookie (if any)
// and reads the hello.
func track(t *testing.T, addr, cookie string) *nodetest.Conn {
	t.Helper()
	return nodetest.Dial(t, addr, "/ws", "cbtid", cookie)
}

// TestRevokeRunningServer revokes alice on a running server: it closes
// her connections with 4002 and deletes her cookies, leaves bob alone,
// and prints the counts of each store.
func TestRevokeRunningServer(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfgPath, []byte(nodetest.Config), 0o600); err != nil {
		t.Fatal(err)
	}
	// The server runs on the wall clock: the cookies are created now.
	ids := nodetest.Seed(t, filepath.Join(dir, "cookies.dat"), time.Now, "alice", "alice", "bob")
	s := startServe(t, freePort(t), "--config", cfgPath)

	sock := filepath.Join(dir, "cookiestore.sock")
	fi, err := os.Lstat(sock)
	if err != nil || fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("control socket: %v, mode %v; want a socket with mode 0600; logs:\n%s", err, fi.Mode(), s.stderr())
	}

	alice := []*nodetest.Conn{track(t, s.addr, ids[0]), track(t, s.addr, ids[0]), track(t, s.addr, ids[1])}
	for _, c := range alice {
		if nodetest.AuthID(c.Hello) != "alice" {
			t.Fatalf("hello %v, want alice by her cookie", c.Hello)
		}
	}
	bob := track(t, s.addr, ids[2])

	r := runCLI(t, "revoke", "--config", cfgPath, "alice")
	want := `revoked "alice": 2 cookies, 3 connections, through the server running on ` + dir + "\n" +
		"  transports[0].paths.mem (memory store): 0 cookies, 0 connections\n" +
		"  transports[0].paths.ws (file store): 2 cookies, 3 connections\n"
	if r.code != 0 || r.stdout != want || r.stderr != "" {
		t.Fatalf("revoke: exit %d, stdout %q, stderr %q\nwant stdout %q", r.code, r.stdout, r.stderr, want)
	}
	for _, c := range alice {
		if code, text := c.Closed(); code != 4002 || text != "revoked" {
			t.Errorf("alice's connection closed with %d %q, want 4002 \"revoked\"", code, text)
		}
	}
	if m := bob.Reply(map[string]string{"type": "whoami"}); nodetest.AuthID(m) != "bob" {
		t.Errorf("bob after alice's revocation: %v", m)
	}
	if again := track(t, s.addr, ids[0]); again.Hello["new"] != true {
		t.Errorf("alice's revoked cookie is known again: %v", again.Hello)
	}

	// A principal with nothing to revoke is no error; one store, one line.
	r = runCLI(t, "revoke", "--config", cfgPath, "carol")
	if r.code != 0 || !strings.HasPrefix(r.stdout, `revoked "carol": 0 cookies, 0 connections, through the server`) {
		t.Errorf("revoke carol: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	if code := s.stop(t); code != 0 {
		t.Fatalf("serve after SIGTERM: exit %d; logs:\n%s", code, s.stderr())
	}
	if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the control socket outlived the server: %v", err)
	}
}

// TestRevokeStoppedNode revokes alice with no server running: revoke
// edits the journal under its lock, and a server started afterwards does
// not know her cookie.
func TestRevokeStoppedNode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node")
	ids := nodetest.Seed(t, filepath.Join(dir, "cookies.dat"), time.Now, "alice", "bob")

	r := runCLI(t, "revoke", "--dir", dir, "alice")
	want := `revoked "alice": 1 cookie, 0 connections, in the stores, as no server runs on ` + dir + "\n"
	if r.code != 0 || r.stdout != want || r.stderr != "" {
		t.Fatalf("revoke: exit %d, stdout %q, stderr %q\nwant stdout %q", r.code, r.stdout, r.stderr, want)
	}
	if _, err := os.Lstat(filepath.Join(dir, "cookiestore.sock")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("revoke created a socket: %v", err)
	}
	var reasons []string
	for _, d := range dump(t, filepath.Join(dir, "cookies.dat")) {
		if d.Type == "delete" {
			reasons = append(reasons, d.Digest+" "+d.Reason)
		}
	}
	if want := []string{record.DigestOf(ids[0]).String() + " revoke"}; strings.Join(reasons, ",") != strings.Join(want, ",") {
		t.Errorf("deletes in the journal: %q, want %q", reasons, want)
	}

	s := startServe(t, freePort(t), "--dir", dir)
	if c := track(t, s.addr, ids[0]); c.Hello["new"] != true {
		t.Errorf("alice's revoked cookie after a restart: %v", c.Hello)
	}
	if c := track(t, s.addr, ids[1]); c.Hello["new"] != false {
		t.Errorf("bob's cookie after a restart: %v", c.Hello)
	}
}

// TestRevokeStaleSocket: a server killed with SIGKILL leaves its socket.
// revoke finds nobody behind it and edits the journal; the next server
// replaces the socket.
func TestRevokeStaleSocket(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node")
	ids := nodetest.Seed(t, filepath.Join(dir, "cookies.dat"), time.Now, "alice", "alice")
	s := startServe(t, freePort(t), "--dir", dir)
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	s.exited(t)
	sock := filepath.Join(dir, "cookiestore.sock")
	if _, err := os.Lstat(sock); err != nil {
		t.Fatalf("SIGKILL left no socket behind (%v): the test shows nothing", err)
	}

	r := runCLI(t, "revoke", "--dir", dir, "alice")
	if r.code != 0 || !strings.HasPrefix(r.stdout, `revoked "alice": 2 cookies, 0 connections, in the stores, as no server runs`) {
		t.Fatalf("revoke beside a stale socket: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	s2 := startServe(t, freePort(t), "--dir", dir)
	if !strings.Contains(s2.stderr(), "replaced a stale control socket") {
		t.Errorf("the server did not replace the stale socket; logs:\n%s", s2.stderr())
	}
	if c := track(t, s2.addr, ids[0]); c.Hello["new"] != true {
		t.Errorf("alice's revoked cookie: %v", c.Hello)
	}
	r = runCLI(t, "revoke", "--dir", dir, "alice")
	if r.code != 0 || !strings.HasPrefix(r.stdout, `revoked "alice": 0 cookies, 0 connections, through the server running on `+dir) {
		t.Fatalf("revoke through the new socket: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestRevokeErrors(t *testing.T) {
	t.Run("unknown node directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "missing")
		r := runCLI(t, "revoke", "--dir", dir, "alice")
		if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "node directory") || !strings.Contains(r.stderr, dir) ||
			!strings.Contains(r.stderr, "no such file or directory") {
			t.Errorf("exit %d, stdout %q, stderr %q: want 1 and the missing node directory", r.code, r.stdout, r.stderr)
		}
		wantOneLine(t, "stderr", r.stderr)
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("revoke created the node directory: %v", err)
		}
	})
	t.Run("journal held by a server without its socket", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "node")
		nodetest.Seed(t, filepath.Join(dir, "cookies.dat"), time.Now, "alice")
		s := startServe(t, freePort(t), "--dir", dir)
		sock := filepath.Join(dir, "cookiestore.sock")
		if err := os.Remove(sock); err != nil {
			t.Fatal(err)
		}
		r := runCLI(t, "revoke", "--dir", dir, "alice")
		if r.code != 1 || r.stdout != "" {
			t.Errorf("exit %d, stdout %q: want 1 and nothing revoked", r.code, r.stdout)
		}
		wantOneLine(t, "stderr", r.stderr)
		for _, want := range []string{
			"journal " + filepath.Join(dir, "cookies.dat") + ": in use by another process",
			"nothing answers on " + sock,
		} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr %q lacks %q", r.stderr, want)
			}
		}
		if code := s.stop(t); code != 0 {
			t.Errorf("the server without its socket stops with %d; logs:\n%s", code, s.stderr())
		}
	})
	t.Run("a store that fails", func(t *testing.T) {
		// The nats store fails (this build cannot open one yet; with one
		// that can, nothing listens on its port); the file store is
		// revoked all the same, and the output says which did what.
		port := freePort(t)
		path := writeConfig(t, `{"transports": [{"type": "web", "endpoint": {"type": "tcp", "port": 8080}, "paths": {
			"a": {"type": "websocket", "cookie": {"name": "ca", "store": {"type": "nats", "url": "nats://127.0.0.1:`+strconv.Itoa(port)+`"}}},
			"b": {"type": "websocket", "cookie": {"name": "cb", "store": {"type": "file", "filename": "cookies.dat"}}}}}]}`)
		nodetest.Seed(t, filepath.Join(filepath.Dir(path), "cookies.dat"), time.Now, "alice")
		r := runCLI(t, "revoke", "--config", path, "alice")
		want := `revoked "alice": 1 cookie, 0 connections, in the stores, as no server runs on ` + filepath.Dir(path) + "\n" +
			"  transports[0].paths.a (nats store): 0 cookies, 0 connections, then failed (see the error)\n" +
			"  transports[0].paths.b (file store): 1 cookie, 0 connections\n"
		if r.code != 1 || r.stdout != want {
			t.Errorf("exit %d, stdout %q\nwant 1 and %q", r.code, r.stdout, want)
		}
		wantOneLine(t, "stderr", r.stderr)
		if !strings.HasPrefix(r.stderr, "cookiestore: transports[0].paths.a.cookie.store: ") || !strings.Contains(r.stderr, "nats") {
			t.Errorf("stderr %q: want the nats store's error", r.stderr)
		}
	})
	t.Run("invalid config", func(t *testing.T) {
		path := writeConfig(t, `{"transports": []}`)
		r := runCLI(t, "revoke", "--config", path, "alice")
		if r.code != 2 || !strings.Contains(r.stderr, path+": ") {
			t.Errorf("exit %d, stderr %q: want 2 and the config's problems", r.code, r.stderr)
		}
	})
}
