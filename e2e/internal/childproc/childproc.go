// Package childproc runs the child processes of the end-to-end tests:
// `cookiestore serve` (Serve), which they crash, restart and stop, and any
// other program (Start), such as the nats-server nodes of a cluster. A
// child is a real process, so that SIGKILL is a real crash.
package childproc

import (
	"bufio"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Proc is a child process whose standard error is kept.
type Proc struct {
	Cmd  *exec.Cmd
	Addr string        // where `cookiestore serve` listens: 127.0.0.1:PORT
	Done chan struct{} // closed once the process has exited

	mu   sync.Mutex
	logs strings.Builder
}

// Start starts cmd, keeps what it writes to standard error, and hands each
// line of it to line, if line is not nil. The process is killed, if it
// still runs, when the test ends.
func Start(t testing.TB, cmd *exec.Cmd, line func(string)) *Proc {
	t.Helper()
	p := &Proc{Cmd: cmd, Done: make(chan struct{})}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if line != nil {
				line(sc.Text())
			}
		}
		_, _ = io.Copy(io.Discard, stderr) // past a line too long to scan
		_ = cmd.Wait()
		close(p.Done)
	}()
	t.Cleanup(p.Kill)
	return p
}

// listening is the log line of a server that accepts connections.
var listening = regexp.MustCompile(`msg=listening url=http://(127\.0\.0\.1:\d+)/`)

// Serve runs the binary bin as `serve --config config --dir dir` on a free
// loopback port and waits until it listens.
func Serve(t testing.TB, bin, config, dir string) *Proc {
	t.Helper()
	ready := make(chan string, 1)
	p := Start(t, exec.Command(bin, "serve", "--config", config, "--dir", dir, "--listen", "127.0.0.1:0"), func(line string) {
		if m := listening.FindStringSubmatch(line); m != nil {
			select {
			case ready <- m[1]:
			default:
			}
		}
	})
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
		t.Fatalf("%s did not stop within 30 s of SIGTERM; logs:\n%s", p.name(), p.Stderr())
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("%s exited %d after SIGTERM; logs:\n%s", p.name(), code, p.Stderr())
	}
}

// name is the program's file name, for messages.
func (p *Proc) name() string { return filepath.Base(p.Cmd.Path) }
