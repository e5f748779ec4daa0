// Package natsbench measures cookiestore's nats store next to raw
// JetStream, on the same servers in the same run: durable creates against
// js.Publish of the same payloads, a replay against a raw ordered
// consumer, and the stall of writes when a NATS node is killed. The NATS
// servers are nats-server child processes (built from this module's
// dependency) on loopback, with their files in temporary folders.
//
//	cd bench/peers && go test -run '^$' -bench NATS -benchtime 1x -timeout 30m ./natsbench
package natsbench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	// The servers run as child processes, built from this module's
	// nats-server; importing it keeps it in go.mod.
	_ "github.com/nats-io/nats-server/v2/server"

	"cookiestore/natsstore"
	"cookiestore/record"
)

var natsBin struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if natsBin.dir != "" {
		_ = os.RemoveAll(natsBin.dir)
	}
	os.Exit(code)
}

func buildNATS(b testing.TB) string {
	natsBin.once.Do(func() {
		if natsBin.dir, natsBin.err = os.MkdirTemp("", "natsbench-"); natsBin.err != nil {
			return
		}
		natsBin.path = filepath.Join(natsBin.dir, "nats-server")
		out, err := exec.Command("go", "build", "-o", natsBin.path, "github.com/nats-io/nats-server/v2").CombinedOutput()
		if err != nil {
			natsBin.err = fmt.Errorf("go build nats-server: %v\n%s", err, out)
		}
	})
	if natsBin.err != nil {
		b.Fatal(natsBin.err)
	}
	return natsBin.path
}

// proc is one nats-server child process.
type proc struct {
	name, url string
	cmd       *exec.Cmd
	done      chan struct{}
}

func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// cluster starts n nats-server processes: one plain JetStream server for
// n = 1, a JetStream cluster otherwise. They are killed when b ends.
func cluster(b testing.TB, n int) []*proc {
	bin := buildNATS(b)
	ports := make([]int, 2*n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
	}
	var routes []string
	for i := range n {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[n+i]))
	}
	var procs []*proc
	for i := range n {
		dir := b.TempDir()
		conf := fmt.Sprintf("server_name: n%d\nlisten: 127.0.0.1:%d\njetstream { store_dir: %q }\n", i+1, ports[i], filepath.Join(dir, "js"))
		if n > 1 {
			conf += fmt.Sprintf("cluster { name: bench\n listen: 127.0.0.1:%d\n routes: [%s] }\n", ports[n+i], strings.Join(routes, ", "))
		}
		path := filepath.Join(dir, "nats.conf")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			b.Fatal(err)
		}
		p := &proc{name: fmt.Sprintf("n%d", i+1), url: fmt.Sprintf("nats://127.0.0.1:%d", ports[i]), done: make(chan struct{})}
		p.cmd = exec.Command(bin, "-c", path)
		stderr, err := p.cmd.StderrPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := p.cmd.Start(); err != nil {
			b.Fatal(err)
		}
		go func() {
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
			}
			_ = p.cmd.Wait()
			close(p.done)
		}()
		procs = append(procs, p)
	}
	b.Cleanup(func() {
		for _, p := range procs {
			select {
			case <-p.done:
			default:
				p.kill()
			}
		}
	})
	for _, p := range procs {
		deadline := time.Now().Add(20 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", strings.TrimPrefix(p.url, "nats://"), time.Second)
			if err == nil {
				_ = c.Close()
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("nats-server %s did not listen", p.name)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return procs
}

func urls(procs []*proc) []string {
	var u []string
	for _, p := range procs {
		u = append(u, p.url)
	}
	return u
}

func connect(b testing.TB, procs []*proc) (*nats.Conn, jetstream.JetStream) {
	nc, err := nats.Connect(strings.Join(urls(procs), ","), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	return nc, js
}

// openStore opens a nats store on procs with a fresh stream name.
func openStore(b testing.TB, procs []*proc, stream, prefix string, replicas int) *natsstore.Store {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := natsstore.Open(ctx, natsstore.Options{URLs: urls(procs), Stream: stream, SubjectPrefix: prefix, Replicas: replicas})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	if err := st.WaitReady(ctx); err != nil {
		b.Fatal(err)
	}
	return st
}

// rawStream creates a stream with the store's settings for raw publishes.
func rawStream(b testing.TB, js jetstream.JetStream, name, prefix string, replicas int) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := jetstream.StreamConfig{
		Name: name, Subjects: []string{prefix + ".*"}, MaxMsgsPerSubject: 1, MaxMsgs: -1, MaxBytes: -1,
		Storage: jetstream.FileStorage, Replicas: replicas, AllowMsgTTL: true, SubjectDeleteMarkerTTL: 15 * time.Minute, AllowRollup: true,
	}
	for {
		_, err := js.CreateStream(ctx, cfg)
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			b.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// cookies returns n fresh cookies and their version 2 payloads: what the
// store publishes, and what the raw publisher sends.
func cookies(b testing.TB, n int) ([]record.Cookie, [][]byte) {
	cs := make([]record.Cookie, n)
	ps := make([][]byte, n)
	now := time.Now()
	for i := range cs {
		id, err := record.NewID(nil, record.DefaultIDLength)
		if err != nil {
			b.Fatal(err)
		}
		cs[i] = record.Cookie{Digest: record.DigestOf(id), Created: now, MaxAge: 24 * time.Hour}
		ev := record.State(cs[i])
		if ps[i], err = record.AppendEvent(nil, &ev); err != nil {
			b.Fatal(err)
		}
	}
	return cs, ps
}

// parallel runs op(i) for i in [0, n) on w goroutines and returns the rate.
func parallel(b testing.TB, n, w int, op func(i int) error) float64 {
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range w {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := op(i); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	return float64(n) / time.Since(start).Seconds()
}

var runID atomic.Int64

// BenchmarkNATSCreate: durable creates per second through the store
// (create-only, Nats-TTL, Nats-Msg-Id, acknowledged) against raw
// js.Publish of the same payloads to a stream with the same settings, at
// 1 and 64 writers, on 1 and 3 replicas.
func BenchmarkNATSCreate(b *testing.B) {
	for _, replicas := range []int{1, 3} {
		b.Run(fmt.Sprintf("replicas=%d", replicas), func(b *testing.B) {
			procs := cluster(b, replicas)
			_, js := connect(b, procs)
			for _, writers := range []int{1, 64} {
				b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
					n := max(b.N, 1) * 2000
					if writers == 1 {
						n = max(b.N, 1) * 500
					}
					id := runID.Add(1)
					stream, prefix := fmt.Sprintf("C%d", id), fmt.Sprintf("c%d", id)
					st := openStore(b, procs, stream, prefix, replicas)
					rawStream(b, js, fmt.Sprintf("R%d", id), fmt.Sprintf("r%d", id), replicas)
					cs, ps := cookies(b, n)
					ctx := context.Background()
					// Rounds alternate which goes first, so that a drift of
					// the machine or of the servers weighs on both alike.
					const rounds = 4
					var rawT, storeT, followT time.Duration
					// A third publisher sends the same payloads raw to a
					// stream that an ordered consumer in this process
					// follows, as every node's follower does: the share of
					// the gap that following costs.
					fid := runID.Add(1)
					rawStream(b, js, fmt.Sprintf("F%d", fid), fmt.Sprintf("f%d", fid), replicas)
					fcons, err := js.OrderedConsumer(ctx, fmt.Sprintf("F%d", fid), jetstream.OrderedConsumerConfig{})
					if err != nil {
						b.Fatal(err)
					}
					fcc, err := fcons.Consume(func(m jetstream.Msg) { _, _ = m.Metadata() }, jetstream.PullMaxMessages(1024))
					if err != nil {
						b.Fatal(err)
					}
					defer fcc.Stop()
					per := n / rounds
					for r := range rounds {
						part, pay := cs[r*per:(r+1)*per], ps[r*per:(r+1)*per]
						runRaw := func() {
							start := time.Now()
							parallel(b, per, writers, func(i int) error {
								_, err := js.Publish(ctx, fmt.Sprintf("r%d.%x", id, part[i].Digest[:]), pay[i])
								return err
							})
							rawT += time.Since(start)
						}
						runStore := func() {
							start := time.Now()
							parallel(b, per, writers, func(i int) error { return st.Create(part[i]) })
							storeT += time.Since(start)
						}
						runFollowed := func() {
							start := time.Now()
							parallel(b, per, writers, func(i int) error {
								_, err := js.Publish(ctx, fmt.Sprintf("f%d.%x", fid, part[i].Digest[:]), pay[i])
								return err
							})
							followT += time.Since(start)
						}
						if r%2 == 0 {
							runRaw()
							runStore()
							runFollowed()
						} else {
							runFollowed()
							runStore()
							runRaw()
						}
					}
					b.ReportMetric(float64(rounds*per)/followT.Seconds(), "raw_followed/s")
					raw := float64(rounds*per) / rawT.Seconds()
					store := float64(rounds*per) / storeT.Seconds()
					b.ReportMetric(store, "creates/s")
					b.ReportMetric(raw, "raw/s")
					b.ReportMetric(store/raw, "ratio")
				})
			}
		})
	}
}

// BenchmarkNATSReplay: a node that opens on a stream of a million cookies,
// until it is ready, against a raw ordered consumer that reads the same
// stream to its end.
func BenchmarkNATSReplay(b *testing.B) {
	const total = 1_000_000
	b.Run(fmt.Sprintf("cookies=%d", total), func(b *testing.B) {
		procs := cluster(b, 3)
		_, js := connect(b, procs)
		seed := openStore(b, procs, "REPLAY", "replay", 3)
		_ = seed.Close()
		fill(b, js, "replay", total)
		for range max(b.N, 1) {
			// Two rounds, alternating which reader goes first, so that
			// neither alone meets the servers' cold caches.
			var rawT, storeT time.Duration
			for r := range 2 {
				if r == 0 {
					rawT += rawReplay(b, js, total)
					storeT += storeReplay(b, procs, total)
				} else {
					storeT += storeReplay(b, procs, total)
					rawT += rawReplay(b, js, total)
				}
			}
			raw := 2 * total / rawT.Seconds()
			store := 2 * total / storeT.Seconds()
			b.ReportMetric(store, "msgs/s")
			b.ReportMetric(raw, "raw_msgs/s")
			b.ReportMetric(store/raw, "ratio")
			// A restart from the snapshot that a clean stop wrote.
			snap := filepath.Join(b.TempDir(), "replay.snapshot")
			storeReplay(b, procs, total, snap)
			b.ReportMetric(storeReplay(b, procs, total, snap).Seconds(), "snapshot_restart_s")
			b.ReportMetric(float64(total)/store, "replay_restart_s")
		}
	})
}

// rawReplay reads the stream to its end with an ordered consumer that
// only counts.
func rawReplay(b *testing.B, js jetstream.JetStream, total int) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	cons, err := js.OrderedConsumer(ctx, "REPLAY", jetstream.OrderedConsumerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	var got atomic.Int64
	cc, err := cons.Consume(func(m jetstream.Msg) {
		if got.Add(1) == int64(total) {
			close(done)
		}
	}, jetstream.PullMaxMessages(1024))
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Stop()
	select {
	case <-done:
	case <-ctx.Done():
		b.Fatalf("raw replay: %d of %d in 10 minutes", got.Load(), total)
	}
	return time.Since(start)
}

// storeReplay opens a node on the stream and waits until it is ready.
func storeReplay(b *testing.B, procs []*proc, total int, snapshot ...string) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	opts := natsstore.Options{URLs: urls(procs), Stream: "REPLAY", SubjectPrefix: "replay", Replicas: 3, SnapshotInterval: -1}
	if len(snapshot) > 0 {
		opts.Snapshot = snapshot[0]
	}
	st, err := natsstore.Open(ctx, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
	}()
	if err := st.WaitReady(ctx); err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	if st.Len() != total {
		b.Fatalf("the store holds %d cookies, want %d", st.Len(), total)
	}
	return took
}

// fill publishes total cookies as the store would write them: the same
// payloads and headers.
func fill(b *testing.B, js jetstream.JetStream, prefix string, total int) {
	const chunk = 4096
	for done := 0; done < total; done += chunk {
		cs, ps := cookies(b, min(chunk, total-done))
		for i := range cs {
			m := &nats.Msg{Subject: fmt.Sprintf("%s.%x", prefix, cs[i].Digest[:]), Data: ps[i], Header: nats.Header{
				"Nats-Msg-Id": {strconv.Itoa(done + i)}, "Nats-TTL": {"86400"}, "Nats-Expected-Last-Subject-Sequence": {"0"},
			}}
			if _, err := js.PublishMsgAsync(m, jetstream.WithStallWait(time.Minute)); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(5 * time.Minute):
			b.Fatal("filling the stream took more than 5 minutes per chunk")
		}
	}
}

// BenchmarkNATSStall: 16 writers create cookies through the store on a
// three-node cluster; one node (a follower of the stream, or its leader) is
// killed with SIGKILL. Reported: the longest time without an acknowledged
// create after the kill, and the acknowledged cookies that the stream lost.
func BenchmarkNATSStall(b *testing.B) {
	for _, victim := range []string{"follower", "leader"} {
		b.Run("kill="+victim, func(b *testing.B) {
			for range max(b.N, 1) {
				stall, lost, acked := stallOnce(b, victim)
				b.ReportMetric(float64(stall.Milliseconds()), "stall_ms")
				b.ReportMetric(float64(lost), "lost")
				b.ReportMetric(float64(acked), "acked")
			}
		})
	}
}

func stallOnce(b *testing.B, victim string) (time.Duration, int, int) {
	procs := cluster(b, 3)
	_, js := connect(b, procs)
	st := openStore(b, procs, "STALL", "stall", 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "STALL")
	if err != nil {
		b.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil || info.Cluster == nil {
		b.Fatalf("stream info: %v", err)
	}
	target := info.Cluster.Leader
	if victim == "follower" {
		for _, r := range info.Cluster.Replicas {
			target = r.Name
			break
		}
	}
	var mu sync.Mutex
	var ackedAt []time.Time
	var acked []record.Digest
	stop := time.Now().Add(15 * time.Second)
	var killedAt time.Time
	go func() {
		time.Sleep(2 * time.Second)
		for _, p := range procs {
			if p.name == target {
				mu.Lock()
				killedAt = time.Now()
				mu.Unlock()
				p.kill()
			}
		}
	}()
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for time.Now().Before(stop) {
				cs, _ := cookies(b, 1)
				if err := st.Create(cs[0]); err == nil {
					mu.Lock()
					acked = append(acked, cs[0].Digest)
					ackedAt = append(ackedAt, time.Now())
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	slices.SortFunc(ackedAt, func(a, b time.Time) int { return a.Compare(b) })
	var stall time.Duration
	prev := killedAt
	for _, at := range ackedAt {
		if at.After(killedAt) {
			stall = max(stall, at.Sub(prev))
			prev = at
		}
	}
	// Every acknowledged cookie is in the stream.
	lost := 0
	for _, d := range acked {
		if _, ok := st.Get(d); !ok {
			lost++
		}
	}
	return stall, lost, len(acked)
}
