package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The tests run the real binary, as an operator does: exit codes, stdout and
// stderr are the interface under test.

// binaryEnv names the environment variable through which TestMain hands the
// built binary to the tests.
const binaryEnv = "COOKIESTORE_TEST_BINARY"

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "cookiestore-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "cookiestore")
	// Built without -race even under `go test -race`: a race-enabled binary
	// starts slowly, and the tests run it a hundred times. The server's
	// code runs under the race detector in the httpd and e2e tests.
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build cookiestore:", err)
		return 1
	}
	os.Setenv(binaryEnv, bin)
	return m.Run()
}

// result is how one run of the binary ended.
type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs the binary with args and waits for it, for at most 30 s.
func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Getenv(binaryEnv), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("cookiestore %s: timed out", strings.Join(args, " "))
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("cookiestore %s: %v", strings.Join(args, " "), err)
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// wantOneLine fails unless s is exactly one line, with no trace of a panic.
func wantOneLine(t *testing.T, what, s string) {
	t.Helper()
	if strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") {
		t.Errorf("%s is not one line: %q", what, s)
	}
	for _, bad := range []string{"goroutine ", "panic", ".go:"} {
		if strings.Contains(s, bad) {
			t.Errorf("%s contains %q: %q", what, bad, s)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, c := range commands() {
		flags := []string{"--help"}
		for _, args := range [][]string{{c.name, "--help"}, {c.name, "-h"}, {"help", c.name}} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				r := runCLI(t, args...)
				if r.code != 0 || r.stderr != "" {
					t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
				}
				if line, _, _ := strings.Cut(r.stdout, "\n"); line != strings.TrimSpace("Usage: cookiestore "+c.name+" "+c.synopsis) {
					t.Errorf("help does not start with the usage line: %q", r.stdout)
				}
				if got, want := headings(r.stdout), []string{"Usage:", "Flags:", "Exit codes:"}; !slices.Equal(got, want) {
					t.Errorf("headings %q, want %q:\n%s", got, want, r.stdout)
				}
				for _, code := range []string{"\n  0  ", "\n  2  "} {
					if !strings.Contains(r.stdout, code) {
						t.Errorf("help does not explain the exit code %q:\n%s", strings.TrimSpace(code), r.stdout)
					}
				}
				for _, f := range append(flags, flagNames(c)...) {
					if !strings.Contains(r.stdout, "\n  "+f) {
						t.Errorf("help does not list %s:\n%s", f, r.stdout)
					}
				}
				for _, f := range flagNames(c) {
					if !strings.Contains(c.synopsis, f) {
						t.Errorf("synopsis %q lacks %s", c.synopsis, f)
					}
				}
			})
		}
	}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := runCLI(t, args...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			for _, c := range commands() {
				if !strings.Contains(r.stdout, "\n  "+c.name+" ") {
					t.Errorf("top help does not list %s:\n%s", c.name, r.stdout)
				}
			}
			if got, want := headings(r.stdout), []string{"Usage:", "Commands:", "Exit codes:"}; !slices.Equal(got, want) {
				t.Errorf("headings %q, want %q:\n%s", got, want, r.stdout)
			}
		})
	}
}

// heading is a line of a help text that starts a section: a capitalised
// word or two and a colon, at the start of the line.
var heading = regexp.MustCompile(`(?m)^([A-Z][a-z]+(?: [a-z]+)?:)`)

// headings returns the section headings of a help text, in order.
func headings(help string) []string {
	var out []string
	for _, m := range heading.FindAllStringSubmatch(help, -1) {
		out = append(out, m[1])
	}
	return out
}

// flagNames returns "--name" for each flag of c.
func flagNames(c *command) []string {
	fs, _ := c.newFlagSet()
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, "--"+f.Name) })
	return names
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string // in the one line on stderr
	}{
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"--bogus"}, "unknown flag --bogus"},
		{[]string{"help", "bogus"}, `unknown command "bogus"`},
		{[]string{"serve", "--bogus"}, "unknown flag --bogus"},
		{[]string{"serve", "-bogus"}, "unknown flag --bogus"},
		{[]string{"serve", "extra"}, `unexpected argument "extra"`},
		{[]string{"serve", "--listen", "nonsense"}, `--listen "nonsense": want host:port`},
		{[]string{"serve", "--listen", "127.0.0.1:70000"}, "port must be a number from 0 to 65535"},
		{[]string{"check"}, "--config FILE is required"},
		{[]string{"check", "--config"}, "flag needs an argument: --config"},
		{[]string{"dump"}, "missing FILE argument"},
		{[]string{"verify", "a", "b"}, "too many arguments: a b"},
		{[]string{"stats", "--json=maybe", "x"}, `invalid boolean value "maybe" for --json`},
		{[]string{"compact", "--force", "x"}, "unknown flag --force"},
		{[]string{"revoke"}, "missing AUTHID argument"},
		{[]string{"revoke", "--dir", "d"}, "missing AUTHID argument"},
		{[]string{"revoke", "alice", "bob"}, "too many arguments: alice bob"},
		{[]string{"revoke", "--config", "c.json", "--dir", "d", "alice"}, "--config and --dir exclude each other"},
		{[]string{"revoke", "--force", "alice"}, "unknown flag --force"},
		{[]string{"revoke", ""}, "AUTHID is empty"},
		{[]string{"version", "extra"}, `unexpected argument "extra"`},
		{[]string{"version", "--short"}, "unknown flag --short"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCLI(t, tt.args...)
			if r.code != 2 {
				t.Errorf("exit %d, want 2", r.code)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
			wantOneLine(t, "stderr", r.stderr)
			if !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, "--help") {
				t.Errorf("stderr %q, want %q and a pointer to --help", r.stderr, tt.want)
			}
		})
	}
	t.Run("no command", func(t *testing.T) {
		r := runCLI(t)
		if r.code != 2 || !strings.Contains(r.stderr, "Usage: cookiestore COMMAND") {
			t.Errorf("exit %d, stderr %q: want 2 and the usage", r.code, r.stderr)
		}
	})
}

// TestFlagsAfterArguments checks that flags may follow the file name and
// that "--" ends them.
func TestFlagsAfterArguments(t *testing.T) {
	r := runCLI(t, "verify", "somefile", "--help")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "Usage: cookiestore verify") {
		t.Errorf("verify FILE --help: exit %d, %q", r.code, r.stdout)
	}
	r = runCLI(t, "verify", "--", "--help")
	if r.code != 1 || !strings.Contains(r.stderr, "--help") || !strings.Contains(r.stderr, "no such file") {
		t.Errorf("verify -- --help: exit %d, stderr %q: want the file --help not found", r.code, r.stderr)
	}
}
