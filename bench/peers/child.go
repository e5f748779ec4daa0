package peers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"time"
)

// ChildEnv names the environment variable that turns the report's binary
// into a child that opens one store and reports on it (see
// [RunChildIfAsked]). A server restart is a new process, whose memory is new
// to it: an open timed inside the process that wrote the data, or that
// opened it before, reuses memory the runtime already has and hides that
// cost. So every open is timed in a child of its own.
const ChildEnv = "COOKIESTORE_PEERS_OPEN"

// openRequest is what a child is asked to open.
type openRequest struct {
	Engine string // an Engine's Name
	Dir    string // the store's folder
	Probe  string // a cookie ID that the store holds
}

// OpenRun is what one child measured.
type OpenRun struct {
	Seconds float64 // from the call that opens the store until a get of the probe returned it
	// HeapBytes and HeapObjects are the growth of the Go heap over the
	// open, each measured after a garbage collection.
	HeapBytes, HeapObjects float64
	// PeakRSS is the process's peak resident memory after the open less its
	// resident memory before it (Linux VmHWM and VmRSS), or -1 where the
	// system does not say.
	PeakRSS float64
}

// RunChildIfAsked does nothing unless [ChildEnv] is set. If it is, it opens
// the store that the variable describes, writes an [OpenRun] as JSON to
// stdout, and exits: 0 on success, 1 with a message on stderr otherwise.
// The report's main function, and the TestMain of every package that runs
// opens, call it first.
func RunChildIfAsked() {
	spec, ok := os.LookupEnv(ChildEnv)
	if !ok {
		return
	}
	run, err := childOpen(spec)
	if err == nil {
		err = json.NewEncoder(os.Stdout).Encode(run)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "open child: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func childOpen(spec string) (OpenRun, error) {
	var req openRequest
	if err := json.Unmarshal([]byte(spec), &req); err != nil {
		return OpenRun{}, fmt.Errorf("%s: %w", ChildEnv, err)
	}
	var eng *Engine
	for _, e := range Engines() {
		if e.Name == req.Engine {
			eng = &e
			break
		}
	}
	if eng == nil {
		return OpenRun{}, fmt.Errorf("no engine %q", req.Engine)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rss0 := procStatusBytes("VmRSS")
	start := time.Now()
	s, err := eng.Open(req.Dir, Config{Durability: Durable, Writers: 1})
	if err != nil {
		return OpenRun{}, err
	}
	found, err := s.Get([]byte(req.Probe))
	elapsed := time.Since(start)
	if err == nil && !found {
		err = fmt.Errorf("%s: cookie %s missing after reopen", eng.Name, req.Probe)
	}
	if err != nil {
		s.Close()
		return OpenRun{}, err
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	run := OpenRun{
		Seconds:     elapsed.Seconds(),
		HeapBytes:   float64(after.HeapAlloc) - float64(before.HeapAlloc),
		HeapObjects: float64(after.HeapObjects) - float64(before.HeapObjects),
		PeakRSS:     -1,
	}
	if hwm := procStatusBytes("VmHWM"); hwm >= 0 && rss0 >= 0 {
		run.PeakRSS = float64(hwm - rss0)
	}
	return run, s.Close()
}

// procStatusBytes returns a memory figure of /proc/self/status in bytes,
// or -1.
func procStatusBytes(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range bytes.Lines(b) {
		v, ok := bytes.CutPrefix(line, []byte(field+":"))
		if !ok {
			continue
		}
		f := bytes.Fields(v)
		if len(f) != 2 || string(f[1]) != "kB" {
			return -1
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return -1
		}
		return kb << 10
	}
	return -1
}

// openInChild runs one open of the store of eng in dir in a fresh process:
// this program again, told what to do by ChildEnv.
func openInChild(eng Engine, dir string, probe []byte) (OpenRun, error) {
	exe, err := os.Executable()
	if err != nil {
		return OpenRun{}, fmt.Errorf("open in a child: %w", err)
	}
	spec, err := json.Marshal(openRequest{Engine: eng.Name, Dir: dir, Probe: string(probe)})
	if err != nil {
		return OpenRun{}, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), ChildEnv+"="+string(spec))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return OpenRun{}, fmt.Errorf("open %s in a child: %w: %s", eng.Name, err, bytes.TrimSpace(stderr.Bytes()))
	}
	var run OpenRun
	if err := json.Unmarshal(stdout.Bytes(), &run); err != nil {
		return OpenRun{}, fmt.Errorf("open %s in a child: its report %q: %w", eng.Name, stdout.Bytes(), err)
	}
	return run, nil
}
