package peers

import (
	"encoding/json"
	"os"
	"runtime"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	RunChildIfAsked() // TestOpenInChild runs this test binary as the child
	os.Exit(m.Run())
}

// TestOpenInChild opens a small dataset of each engine in a child process
// and checks what the child reports.
func TestOpenInChild(t *testing.T) {
	const n = 300
	for _, eng := range Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			dir := t.TempDir()
			if err := eng.Load(dir, stream(n, eng.UsesValues)); err != nil {
				t.Fatal(err)
			}
			run, err := openInChild(eng, dir, firstKey())
			if err != nil {
				t.Fatal(err)
			}
			if run.Seconds <= 0 {
				t.Errorf("open took %v s", run.Seconds)
			}
			if eng.Name == "cookiestore" && run.HeapBytes < n*16 {
				t.Errorf("cookiestore's index of %d cookies took %v bytes of heap, less than their digests", n, run.HeapBytes)
			}
			if runtime.GOOS == "linux" && run.PeakRSS < 0 {
				t.Errorf("peak RSS unknown on Linux")
			}
		})
	}
}

func TestOpenInChildErrors(t *testing.T) {
	eng := Cookiestore()
	// A store that does not hold the probe.
	dir := t.TempDir()
	if err := eng.Load(dir, stream(10, false)); err != nil {
		t.Fatal(err)
	}
	if _, err := openInChild(eng, dir, []byte("not-a-cookie-of-the-workload")); err == nil || !strings.Contains(err.Error(), "missing after reopen") {
		t.Errorf("open without the probe: %v, want the missing cookie named", err)
	}
	// An engine the child does not know.
	if _, err := openInChild(Engine{Name: "nosuch"}, dir, firstKey()); err == nil || !strings.Contains(err.Error(), `no engine "nosuch"`) {
		t.Errorf("open of an unknown engine: %v", err)
	}
	// A request that does not decode.
	if _, err := childOpen("{"); err == nil || !strings.Contains(err.Error(), ChildEnv) {
		t.Errorf("a bad request: %v, want an error naming %s", err, ChildEnv)
	}
	req, _ := json.Marshal(openRequest{Engine: "cookiestore", Dir: t.TempDir() + "/missing/\x00", Probe: "x"})
	if _, err := childOpen(string(req)); err == nil {
		t.Error("an open of a folder that cannot exist succeeded")
	}
}
