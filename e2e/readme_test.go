package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The README's embedding program builds as printed, in a module of its own
// beside a checkout of this repository, with exactly the commands the
// README gives (all but the last, `go run .`, which would serve until
// stopped; go build stands in for it).
func TestREADMEProgramBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module; skipped with -short")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	repo, readme := readREADME(t)
	_, program, ok := strings.Cut(readme, "```go\npackage main\n")
	if !ok {
		t.Fatal("the README has no Go program")
	}
	program, rest, _ := strings.Cut(program, "```")
	_, commands, ok := strings.Cut(rest, "```sh\n")
	if !ok {
		t.Fatal("the README gives no commands after its Go program")
	}
	commands, _, _ = strings.Cut(commands, "```")
	lines := strings.Split(strings.TrimSpace(commands), "\n")
	if len(lines) < 3 || lines[0] != "cd myapp" || lines[len(lines)-1] != "go run ." {
		t.Fatalf("the README's commands are not cd myapp ... go run .: %q", lines)
	}

	// The layout the README describes: the checkout in cookiestore, and
	// myapp/main.go beside it.
	dir := t.TempDir()
	if err := os.Symlink(repo, filepath.Join(dir, "cookiestore")); err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(dir, "myapp")
	if err := os.Mkdir(app, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "main.go"), []byte("package main\n"+program), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, line := range append(lines[1:len(lines)-1], "go build -o app .") {
		args := strings.Fields(line)
		if args[0] != "go" {
			t.Fatalf("the README runs %q, not the go command", line)
		}
		cmd := exec.Command(goTool, args[1:]...)
		cmd.Dir = app
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
	}
	if _, err := os.Stat(filepath.Join(app, "app")); err != nil {
		t.Fatalf("no program was built: %v", err)
	}
}

// The README's Layout names every package of the main module, so that a
// package added without a line there fails here instead of going unseen.
// A row may name several packages (`bench`, `bench/peers`); a package
// below one named in the table (internal/testkit/journaltest) is covered
// by its parent's row.
func TestREADMELayoutNamesEveryPackage(t *testing.T) {
	repo, readme := readREADME(t)
	_, layout, ok := strings.Cut(readme, "\n## Layout\n")
	if !ok {
		t.Fatal("the README has no Layout section")
	}
	layout, _, _ = strings.Cut(layout, "\n## ")
	named := map[string]bool{}
	for line := range strings.Lines(layout) {
		first, _, ok := strings.Cut(strings.TrimPrefix(line, "|"), "|")
		if !ok || !strings.HasPrefix(line, "|") {
			continue
		}
		for _, name := range strings.Split(first, ",") {
			if name = strings.Trim(strings.TrimSpace(name), "`"); name != "" {
				named[name] = true
			}
		}
	}
	missing := map[string]bool{}
	err := filepath.WalkDir(repo, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repo, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if name := d.Name(); rel != "." && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			if rel != "." && rel != "e2e" && fileExists(filepath.Join(path, "go.mod")) {
				return filepath.SkipDir // another module, with its own row or none
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		for dir := filepath.ToSlash(filepath.Dir(rel)); ; dir = filepath.ToSlash(filepath.Dir(dir)) {
			if named[dir] {
				return nil
			}
			if dir == "." {
				break
			}
		}
		if dir := filepath.Dir(rel); !missing[dir] {
			missing[dir] = true
			t.Errorf("the README's Layout does not name the package %s", dir)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// readREADME returns the repository's folder and its README.
func readREADME(t *testing.T) (repo, readme string) {
	t.Helper()
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(repo, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return repo, string(b)
}
