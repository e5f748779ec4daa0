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
	if n > 1 {
		waitCluster(b, procs)
	}
	return procs
}

// waitCluster waits until the cluster can place a stream on all its
// servers: a stream created before then fails, the meta leader not having
// heard from every server yet.
func waitCluster(b testing.TB, procs []*proc) {
	nc, js := connect(b, procs)
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		actx, acancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := js.CreateStream(actx, jetstream.StreamConfig{Name: "PROBE", Subjects: []string{"probe"}, Replicas: len(procs)})
		if err == nil {
			err = js.DeleteStream(actx, "PROBE")
		}
		acancel()
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			b.Fatalf("the cluster cannot place a stream: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func urls(procs []*proc) []string {
	var u []string
	for _, p := range procs {
		u = append(u, p.url)
	}
	return u
}

// connect connects to procs, reconnecting for as long as it takes, with
// opts added, and returns the connection's JetStream too.
func connect(b testing.TB, procs []*proc, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	opts = append([]nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(100 * time.Millisecond)}, opts...)
	nc, err := nats.Connect(strings.Join(urls(procs), ","), opts...)
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

// openStore opens a nats store on procs with a fresh stream name, on its
// own connection or on conn.
func openStore(b testing.TB, procs []*proc, stream, prefix string, replicas int, conn ...*nats.Conn) *natsstore.Store {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts := natsstore.Options{URLs: urls(procs), Stream: stream, SubjectPrefix: prefix, Replicas: replicas}
	if len(conn) > 0 {
		opts.Conn = conn[0]
	}
	st, err := natsstore.Open(ctx, opts)
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
	// Each attempt has its own deadline: a cluster that is still
	// electing its meta leader may drop a request without an answer.
	for {
		actx, acancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := js.CreateStream(actx, cfg)
		acancel()
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

// connectFirst connects to the first of procs, and to the others only
// if it is lost: the store and the raw publisher meet the same server.
func connectFirst(b testing.TB, procs []*proc) (*nats.Conn, jetstream.JetStream) {
	return connect(b, procs, nats.DontRandomize())
}

// placeLeader moves the leader of stream to the server named leader, and
// waits until it is there. A stream of one replica is left as it is.
func placeLeader(b testing.TB, js jetstream.JetStream, nc *nats.Conn, stream, leader string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		if s, err := js.Stream(ctx, stream); err == nil {
			info := s.CachedInfo()
			if info.Cluster == nil || info.Config.Replicas == 1 || info.Cluster.Leader == leader {
				return
			}
			if info.Cluster.Leader != "" {
				req := fmt.Sprintf(`{"placement":{"preferred":%q}}`, leader)
				_, _ = nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+stream, []byte(req), 2*time.Second)
			}
		}
		if ctx.Err() != nil {
			b.Fatalf("the leader of stream %s did not move to %s", stream, leader)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Header values of the publishes that BenchmarkNATSCreate's "contract"
// side sends: those of a new cookie of 24 hours.
var contractHeader = nats.Header{"Nats-TTL": {"86400"}, "Nats-Expected-Last-Subject-Sequence": {"0"}}

// BenchmarkNATSCreate: durable creates per second through the store
// against js.Publish, at 1 and 64 writers, on 1 and 3 replicas. Each
// round has three sides, each on a fresh stream of the store's settings,
// each with its own connection to the same server, each sending the same
// cookies' payloads:
//
//   - store: Store.Create (create-only, Nats-TTL, acknowledged), the
//     stream followed by the store's follower into its index;
//   - raw: js.Publish of the payload, no headers, nobody following;
//   - contract: js.PublishMsg of the payload with the store's headers
//     (Nats-TTL, Nats-Expected-Last-Subject-Sequence 0) to a stream that
//     an ordered consumer in this process follows, counting: what the
//     contract asks of JetStream, without the store's own work.
//
// With 3 replicas, the connections go to n1 and every stream's leader is
// moved to n2, as for most nodes of a cluster. The rounds rotate the order
// of the sides; the figures are the medians over the rounds (b.N rounds),
// and ratio is the median of the rounds' store/raw.
func BenchmarkNATSCreate(b *testing.B) {
	for _, replicas := range []int{1, 3} {
		b.Run(fmt.Sprintf("replicas=%d", replicas), func(b *testing.B) {
			procs := cluster(b, replicas)
			for _, writers := range []int{1, 64} {
				b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
					per := 30000
					if writers == 1 {
						per = 1000
					}
					var store, raw, contract, ratio, ratioContract []float64
					for r := range max(b.N, 1) {
						rs := createRound(b, procs, replicas, writers, per, r)
						store, raw, contract = append(store, rs[0]), append(raw, rs[1]), append(contract, rs[2])
						ratio, ratioContract = append(ratio, rs[0]/rs[1]), append(ratioContract, rs[0]/rs[2])
					}
					b.ReportMetric(median(store), "creates/s")
					b.ReportMetric(median(raw), "raw/s")
					b.ReportMetric(median(contract), "contract/s")
					b.ReportMetric(median(ratio), "ratio")
					b.ReportMetric(median(ratioContract), "ratio_contract")
				})
			}
		})
	}
}

// sideOrders are the orders in which the rounds run the sides (0 store, 1
// raw, 2 contract): each side takes each place alike.
var sideOrders = [][3]int{{0, 1, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}, {1, 0, 2}, {0, 2, 1}}

// createRound runs one round of BenchmarkNATSCreate and returns the rates
// of the store, raw and contract sides.
func createRound(b *testing.B, procs []*proc, replicas, writers, per, round int) [3]float64 {
	ctx := context.Background()
	id := runID.Add(1)
	leader := "n2"
	// The store: its stream created, placed, then followed.
	storeNC, storeJS := connectFirst(b, procs)
	stream, prefix := fmt.Sprintf("C%d", id), fmt.Sprintf("c%d", id)
	openStore(b, procs, stream, prefix, replicas, storeNC).Close()
	placeLeader(b, storeJS, storeNC, stream, leader)
	st := openStore(b, procs, stream, prefix, replicas, storeNC)

	rawNC, rawJS := connectFirst(b, procs)
	rawStream(b, rawJS, fmt.Sprintf("R%d", id), fmt.Sprintf("r%d", id), replicas)
	placeLeader(b, rawJS, rawNC, fmt.Sprintf("R%d", id), leader)

	conNC, conJS := connectFirst(b, procs)
	rawStream(b, conJS, fmt.Sprintf("K%d", id), fmt.Sprintf("k%d", id), replicas)
	placeLeader(b, conJS, conNC, fmt.Sprintf("K%d", id), leader)
	cons, err := conJS.OrderedConsumer(ctx, fmt.Sprintf("K%d", id), jetstream.OrderedConsumerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	var followed atomic.Int64
	cc, err := cons.Consume(func(jetstream.Msg) { followed.Add(1) }, jetstream.PullMaxMessages(1024))
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Stop()

	defer storeNC.Close()
	defer st.Close()
	defer rawNC.Close()
	defer conNC.Close()

	cs, ps := cookies(b, per)
	rawSubj := make([]string, per)
	conMsg := make([]*nats.Msg, per)
	for i, c := range cs {
		rawSubj[i] = fmt.Sprintf("r%d.%x", id, c.Digest[:])
		conMsg[i] = &nats.Msg{Subject: fmt.Sprintf("k%d.%x", id, c.Digest[:]), Data: ps[i], Header: contractHeader}
	}
	sides := [3]func() float64{
		func() float64 {
			return parallel(b, per, writers, func(i int) error { return st.Create(cs[i]) })
		},
		func() float64 {
			return parallel(b, per, writers, func(i int) error {
				_, err := rawJS.Publish(ctx, rawSubj[i], ps[i])
				return err
			})
		},
		func() float64 {
			return parallel(b, per, writers, func(i int) error {
				_, err := conJS.PublishMsg(ctx, conMsg[i])
				return err
			})
		},
	}
	var rates [3]float64
	for _, side := range sideOrders[round%len(sideOrders)] {
		rates[side] = sides[side]()
	}
	return rates
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
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
