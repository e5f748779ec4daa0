// Package cluster tests cookiestore's nats store against real NATS
// servers: embedded in the test process (nats-server as a library, a
// test-only dependency of this module), and as child processes where a
// test kills one with SIGKILL. Every server listens on loopback only and
// keeps its files in a temporary folder.
package cluster

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cookiestore/e2e/internal/childproc"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// tools holds the binaries built once per test run.
var tools struct {
	dir  string
	once sync.Once
	err  error
	nats string // nats-server
	cs   string // cookiestore
}

func TestMain(m *testing.M) {
	code := m.Run()
	if tools.dir != "" {
		_ = os.RemoveAll(tools.dir)
	}
	os.Exit(code)
}

// build builds nats-server (from this module's dependency) and cookiestore,
// once.
func build(t *testing.T) {
	t.Helper()
	tools.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			tools.err = fmt.Errorf("the go command is not on PATH: %w", err)
			return
		}
		if tools.dir, err = os.MkdirTemp("", "cookiestore-cluster-"); err != nil {
			tools.err = err
			return
		}
		tools.nats = filepath.Join(tools.dir, "nats-server")
		tools.cs = filepath.Join(tools.dir, "cookiestore")
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
		defer cancel()
		for _, b := range [][2]string{{tools.nats, "github.com/nats-io/nats-server/v2"}, {tools.cs, "cookiestore/cmd/cookiestore"}} {
			out, err := exec.CommandContext(ctx, goTool, "build", "-o", b[0], b[1]).CombinedOutput()
			if err != nil {
				tools.err = fmt.Errorf("go build %s: %v\n%s", b[1], err, out)
				return
			}
		}
	})
	if tools.err != nil {
		t.Fatal(tools.err)
	}
}

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	lns := make([]net.Listener, n)
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[i] = ln
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	for _, ln := range lns {
		_ = ln.Close()
	}
	return ports
}

// embedded runs one JetStream server in the test process.
func embedded(t *testing.T) *server.Server {
	t.Helper()
	opts := &server.Options{
		ServerName: "solo",
		Host:       "127.0.0.1",
		Port:       -1,
		JetStream:  true,
		StoreDir:   t.TempDir(),
		NoLog:      true,
		NoSigs:     true,
	}
	return startEmbedded(t, opts)
}

func startEmbedded(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(20 * time.Second) {
		s.Shutdown()
		t.Fatal("the NATS server did not get ready within 20 s")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// embeddedCluster runs n JetStream servers in one cluster in the test
// process and returns their client URLs.
func embeddedCluster(t *testing.T, n int) ([]*server.Server, []string) {
	t.Helper()
	ports := freePorts(t, 2*n)
	var routes []*url.URL
	for i := range n {
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", ports[n+i])})
	}
	var servers []*server.Server
	var urls []string
	for i := range n {
		opts := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       ports[i],
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoLog:      true,
			NoSigs:     true,
			Cluster:    server.ClusterOpts{Name: "cookies", Host: "127.0.0.1", Port: ports[n+i]},
			Routes:     routes,
		}
		servers = append(servers, startEmbedded(t, opts))
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
	}
	return servers, urls
}

// natsProc is a nats-server child process of a cluster.
type natsProc struct {
	name string
	conf string
	url  string
	*childproc.Proc
}

// procCluster is a cluster of nats-server child processes.
type procCluster struct {
	t     *testing.T
	nodes []*natsProc
}

// childCluster starts n nats-server processes in one JetStream cluster.
// sync is the servers' sync_interval ("" = their default).
func childCluster(t *testing.T, n int, sync string) *procCluster {
	t.Helper()
	build(t)
	ports := freePorts(t, 2*n)
	var routes []string
	for i := range n {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[n+i]))
	}
	pc := &procCluster{t: t}
	for i := range n {
		dir := t.TempDir()
		js := fmt.Sprintf("store_dir: %q", filepath.Join(dir, "js"))
		if sync != "" {
			js += "\n  sync_interval: " + sync
		}
		conf := fmt.Sprintf(`server_name: n%d
listen: 127.0.0.1:%d
jetstream {
  %s
}
cluster {
  name: cookies
  listen: 127.0.0.1:%d
  routes: [%s]
}
`, i+1, ports[i], js, ports[n+i], strings.Join(routes, ", "))
		p := &natsProc{name: fmt.Sprintf("n%d", i+1), conf: filepath.Join(dir, "nats.conf"), url: fmt.Sprintf("nats://127.0.0.1:%d", ports[i])}
		if err := os.WriteFile(p.conf, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		pc.nodes = append(pc.nodes, p)
		pc.start(p)
	}
	t.Cleanup(func() {
		for _, p := range pc.nodes {
			p.kill()
		}
	})
	return pc
}

func (pc *procCluster) urls() []string {
	var u []string
	for _, p := range pc.nodes {
		u = append(u, p.url)
	}
	return u
}

// start runs p, and waits until it accepts connections.
func (pc *procCluster) start(p *natsProc) {
	pc.t.Helper()
	p.Proc = childproc.Start(pc.t, exec.Command(tools.nats, "-c", p.conf), nil)
	addr := strings.TrimPrefix(p.url, "nats://")
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			pc.t.Fatalf("nats-server %s did not listen within 20 s:\n%s", p.name, p.Stderr())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill sends SIGKILL, a crash, and waits for the process to be gone.
func (p *natsProc) kill() {
	if p.Proc != nil {
		p.Kill()
	}
}

// byName returns the node called name.
func (pc *procCluster) byName(name string) *natsProc {
	for _, p := range pc.nodes {
		if p.name == name {
			return p
		}
	}
	pc.t.Fatalf("no NATS node %q", name)
	return nil
}

// connect connects a client of the test's own to url (one server, or
// several separated by commas), closed when the test ends, and its
// JetStream.
func connect(t *testing.T, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}
