package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// server is a running `cookiestore serve`.
type server struct {
	cmd  *exec.Cmd
	addr string // host:port
	mu   sync.Mutex
	logs strings.Builder
	done chan struct{} // closed when the process has exited
	code int
}

// startServe starts `cookiestore serve --listen 127.0.0.1:PORT args...` and
// waits until it serves or exits. The process is stopped at the end of the
// test if the test has not stopped it.
func startServe(t *testing.T, port int, args ...string) *server {
	t.Helper()
	s := &server{addr: "127.0.0.1:" + strconv.Itoa(port), done: make(chan struct{})}
	s.cmd = exec.Command(os.Getenv(binaryEnv), append([]string{"serve", "--listen", s.addr}, args...)...)
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			s.mu.Lock()
			s.logs.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if strings.Contains(sc.Text(), "msg=listening url=") {
				once.Do(func() { close(ready) })
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		err := s.cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			s.code = ee.ExitCode()
		} else if err != nil {
			s.code = -1
		}
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
	select {
	case <-ready:
	case <-s.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not start in 20 s; logs:\n%s", s.stderr())
	}
	return s
}

func (s *server) stderr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

// exited waits for the process to end by itself and returns its exit code.
func (s *server) exited(t *testing.T) int {
	t.Helper()
	select {
	case <-s.done:
		return s.code
	case <-time.After(20 * time.Second):
		t.Fatalf("serve still running after 20 s; logs:\n%s", s.stderr())
		return 0
	}
}

// stop sends SIGTERM and returns the exit code.
func (s *server) stop(t *testing.T) int {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	return s.exited(t)
}

// hello is the first message of the tracking service.
type hello struct {
	Type        string `json:"type"`
	Visitor     string `json:"visitor"`
	New         bool   `json:"new"`
	Connections int    `json:"connections"`
	Created     string `json:"created"`
}

// connect opens the tracking WebSocket with cookie (if any) and returns the
// hello and the cookie the server set, if it set one.
func connect(t *testing.T, addr, cookie string) (hello, string) {
	t.Helper()
	h := http.Header{"Origin": {"http://" + addr}}
	if cookie != "" {
		h.Set("Cookie", "cbtid="+cookie)
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, res, err := d.DialContext(ctx, "ws://"+addr+"/ws", h)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer ws.Close()
	var set string
	for _, c := range res.Cookies() {
		if c.Name == "cbtid" {
			set = c.Value
			if !c.HttpOnly || c.MaxAge != 86400 || c.SameSite != http.SameSiteLaxMode {
				t.Errorf("Set-Cookie %q: want HttpOnly, Max-Age=86400, SameSite=Lax", res.Header.Get("Set-Cookie"))
			}
		}
	}
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	var m hello
	if err := ws.ReadJSON(&m); err != nil {
		t.Fatalf("read hello: %v", err)
	}
	return m, set
}

func TestServe(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node")
	port := freePort(t)
	s := startServe(t, port, "--dir", dir)
	if !strings.Contains(s.stderr(), "msg=listening url=") {
		t.Fatalf("serve did not start; exit %d, logs:\n%s", s.exited(t), s.stderr())
	}
	if !strings.Contains(s.stderr(), "url=http://"+s.addr+"/") {
		t.Errorf("logs do not show the URL http://%s/:\n%s", s.addr, s.stderr())
	}

	// The built-in page.
	res, err := http.Get("http://" + s.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `data-ws="/ws"`) || res.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("GET / = %d, CSP %q: want the page", res.StatusCode, res.Header.Get("Content-Security-Policy"))
	}

	// A new visitor gets a cookie, and is known when it comes back.
	first, cookie := connect(t, s.addr, "")
	if first.Type != "hello" || !first.New || cookie == "" || first.Visitor == "" || strings.Contains(first.Visitor, cookie) {
		t.Fatalf("first hello %+v, cookie %q: want a new visitor, a cookie, and a visitor ID that is not the cookie", first, cookie)
	}
	again, set := connect(t, s.addr, cookie)
	if again.New || again.Visitor != first.Visitor || set != "" {
		t.Errorf("second hello %+v, Set-Cookie %q: want the same visitor, not new, no new cookie", again, set)
	}

	// A second server on the same node directory finds the journal locked.
	other := startServe(t, freePort(t), "--dir", dir)
	if code := other.exited(t); code != 1 {
		t.Errorf("second serve: exit %d, want 1", code)
	}
	wantOneLine(t, "second serve stderr", lastLines(other.stderr()))
	if want := "journal " + filepath.Join(dir, "cookies.dat") + ": in use by another process"; !strings.Contains(other.stderr(), want) {
		t.Errorf("second serve: %q, want %q", other.stderr(), want)
	}

	// A server on a port in use says so in one line.
	busy := startServe(t, port, "--dir", t.TempDir())
	if code := busy.exited(t); code != 1 {
		t.Errorf("serve on a busy port: exit %d, want 1", code)
	}
	wantOneLine(t, "busy port stderr", lastLines(busy.stderr()))
	if !strings.Contains(busy.stderr(), "address already in use") || !strings.Contains(busy.stderr(), s.addr) {
		t.Errorf("busy port: %q, want the address and \"address already in use\"", busy.stderr())
	}

	// SIGTERM: a clean exit that releases the lock.
	if code := s.stop(t); code != 0 {
		t.Fatalf("serve after SIGTERM: exit %d; logs:\n%s", code, s.stderr())
	}
	if strings.Contains(s.stderr(), "panic") || strings.Contains(s.stderr(), "goroutine ") {
		t.Errorf("logs hold a panic:\n%s", s.stderr())
	}
	s2 := startServe(t, port, "--dir", dir)
	if !strings.Contains(s2.stderr(), "msg=listening url=") {
		t.Fatalf("restart on the same directory failed: exit %d, logs:\n%s", s2.exited(t), s2.stderr())
	}
	back, set := connect(t, s2.addr, cookie)
	if back.New || back.Visitor != first.Visitor || set != "" || back.Created != first.Created {
		t.Errorf("after restart: hello %+v, Set-Cookie %q: want visitor %s, created %s, not new", back, set, first.Visitor, first.Created)
	}
	if code := s2.stop(t); code != 0 {
		t.Errorf("second SIGTERM: exit %d", code)
	}
}

// lastLines returns stderr without the log lines of a normal start, which
// are logfmt lines with a time= field: what is left is the error.
func lastLines(stderr string) string {
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		if !strings.HasPrefix(l, "time=") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n") + "\n"
}

func TestServeCorruptJournal(t *testing.T) {
	path, offs := corruptJournal(t)
	flipByte(t, path, offs[1])
	s := startServe(t, freePort(t), "--dir", filepath.Dir(path))
	if code := s.exited(t); code != 1 {
		t.Fatalf("exit %d, want 1; logs:\n%s", code, s.stderr())
	}
	errLine := lastLines(s.stderr())
	wantOneLine(t, "stderr", errLine)
	if !strings.Contains(errLine, "cookiestore repair "+path) || !strings.Contains(errLine, "offset "+strconv.FormatInt(offs[1], 10)) {
		t.Errorf("error %q: want the offset and `cookiestore repair %s`", errLine, path)
	}
}

func TestServeInvalidConfig(t *testing.T) {
	path := writeConfig(t, `{"transports": [{"type": "rawsocket", "endpoint": {"type": "tcp", "port": 8080},
		"cookie": {"store": {"type": "memory"}}}]}`)
	s := startServe(t, freePort(t), "--config", path)
	if code := s.exited(t); code != 2 {
		t.Fatalf("exit %d, want 2; logs:\n%s", code, s.stderr())
	}
	if !strings.Contains(s.stderr(), path+": transports[0]") {
		t.Errorf("stderr %q: want problems naming the file and JSON path", s.stderr())
	}
}

// TestServeRefusesStaticFolderOverSecrets: serve runs check's rules, so a
// static folder that would serve the journal, or the config file (and its
// tickets) whatever the store, never starts serving.
func TestServeRefusesStaticFolderOverSecrets(t *testing.T) {
	for _, tt := range []struct {
		name, store, holds string
	}{
		{"journal", `{"type": "file", "filename": "cookies.dat"}`, "the cookie journal"},
		{"config", `{"type": "memory"}`, "the config file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, `{"transports": [{"type": "web", "endpoint": {"type": "tcp", "port": 8080},
				"paths": {"files": {"type": "static", "directory": "."},
					"ws": {"type": "websocket", "cookie": {"store": `+tt.store+`}}}}]}`)
			s := startServe(t, freePort(t), "--config", path)
			if code := s.exited(t); code != 2 {
				t.Fatalf("exit %d, want 2; logs:\n%s", code, s.stderr())
			}
			want := path + `: transports[0].paths.files.directory: "` + filepath.Dir(path) + `" holds ` + tt.holds
			if !strings.Contains(s.stderr(), want) {
				t.Errorf("stderr %q\nlacks %q", s.stderr(), want)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(path), "cookies.dat")); !os.IsNotExist(err) {
				t.Errorf("the journal was created: %v", err)
			}
		})
	}
}

// TestServeMemoryConfig serves a config of its own, with a memory store,
// which holds no lock: two servers may run side by side.
func TestServeMemoryConfig(t *testing.T) {
	path := writeConfig(t, `{"transports": [{"type": "websocket", "endpoint": {"type": "tcp", "port": 8080},
		"cookie": {"name": "cbtid", "store": {"type": "memory"}}}]}`)
	s := startServe(t, freePort(t), "--config", path)
	h := http.Header{"Origin": {"http://" + s.addr}}
	ws, res, err := websocket.DefaultDialer.Dial("ws://"+s.addr+"/", h)
	if err != nil {
		t.Fatalf("dial: %v; logs:\n%s", err, s.stderr())
	}
	defer ws.Close()
	if len(res.Cookies()) != 1 {
		t.Errorf("cookies %v, want one", res.Cookies())
	}
	if code := s.stop(t); code != 0 {
		t.Errorf("SIGTERM: exit %d", code)
	}
}
