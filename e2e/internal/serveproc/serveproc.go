// Package serveproc runs `cookiestore serve` as a child process of a test,
// for the end-to-end tests that crash, restart and stop a real server.
package serveproc

import (
	"bufio"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Proc is a `cookiestore serve` process.
type Proc struct {
	Cmd  *exec.Cmd
	Addr string        // 127.0.0.1:PORT, where it listens
	Done chan struct{} // closed once the process has exited

	mu   sync.Mutex
	logs strings.Builder
}

// listening is the log line of a server that accepts connections.
var listening = regexp.MustCompile(`msg=listening url=http://(127\.0\.0\.1:\d+)/`)

// Start runs the binary bin as `serve --config config --dir dir` on a free
// loopback port and waits until it listens. The process is killed, if it
// still runs, when the test ends.
func Start(t testing.TB, bin, config, dir string) *Proc {
	t.Helper()
	p := &Proc{Done: make(chan struct{})}
	p.Cmd = exec.Command(bin, "serve", "--config", config, "--dir", dir, "--listen", "127.0.0.1:0")
	stderr, err := p.Cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case ready <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = p.Cmd.Wait()
		close(p.Done)
	}()
	t.Cleanup(p.Kill)
	select {
	case p.Addr = <-ready:
	case <-p.Done:
		t.Fatalf("serve exited at start; logs:\n%s", p.Stderr())
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not listen within 60 s; logs:\n%s", p.Stderr())
	}
	return p
}

// Stderr returns what the process has logged so far.
func (p *Proc) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// Kill sends SIGKILL, as a power cut or the OOM killer would, and waits
// for the process to be gone.
func (p *Proc) Kill() {
	_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.Done:
	case <-time.After(30 * time.Second):
	}
}

// Stop sends SIGTERM and waits for a clean exit: the test fails if the
// process takes more than 30 s or exits with a code other than 0.
func (p *Proc) Stop(t testing.TB) {
	t.Helper()
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.Done:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop within 30 s of SIGTERM; logs:\n%s", p.Stderr())
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("serve exited %d after SIGTERM; logs:\n%s", code, p.Stderr())
	}
}
