package cluster

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// streamLeader returns the name of the NATS node that leads the cookie
// stream.
func streamLeader(t *testing.T, urls []string) string {
	t.Helper()
	_, js := connect(t, strings.Join(urls, ","))
	var leader string
	eventually(t, 30*time.Second, "the stream has a leader", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		st, err := js.Stream(ctx, "COOKIES")
		if err != nil {
			return false
		}
		info, err := st.Info(ctx)
		if err != nil || info.Cluster == nil {
			return false
		}
		leader = info.Cluster.Leader
		return leader != ""
	})
	return leader
}

// SIGKILL of the stream's leader under 64 concurrent handshakes on two
// nodes: no cookie that a browser got in a 101 is lost, handshakes resume
// once a new leader is elected, and the stall is reported.
func TestLeaderKilledUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a crash test of several processes")
	}
	pc := childCluster(t, 3, "")
	cfg := natsConfig(pc.urls(), 3)
	nodes := []*node{startNode(t, cfg), startNode(t, cfg)}
	for _, n := range nodes {
		n.waitReady()
	}
	leader := streamLeader(t, pc.urls())

	const (
		workers   = 64
		perWorker = 400
	)
	var (
		mu        sync.Mutex
		delivered []string
		okAt      []time.Time // when each new cookie's 101 arrived
		refused   = map[int]int{}
	)
	start := time.Now()
	killAt := start.Add(2 * time.Second)
	stopAt := killAt.Add(12 * time.Second)
	killed := make(chan time.Time, 1)
	go func() {
		time.Sleep(time.Until(killAt))
		pc.byName(leader).kill()
		killed <- time.Now()
	}()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			n := nodes[w%len(nodes)]
			for i := 0; i < perWorker && time.Now().Before(stopAt); i++ {
				c, code, err := dial(n.ws(), "")
				mu.Lock()
				if err == nil && c.isNew {
					delivered = append(delivered, c.cookie)
					okAt = append(okAt, time.Now())
				} else if err != nil {
					refused[code]++
				}
				mu.Unlock()
				if c != nil {
					c.ws.Close()
				}
				if err != nil {
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	kill := <-killed

	slices.SortFunc(okAt, func(a, b time.Time) int { return a.Compare(b) })
	var stall time.Duration
	var after int
	prev := kill
	for _, at := range okAt {
		if at.Before(kill) {
			continue
		}
		after++
		stall = max(stall, at.Sub(prev))
		prev = at
	}
	t.Logf("leader %s killed %.1fs in; %d cookies delivered (%d after the kill), refused by HTTP status %v; longest stall after the kill %v",
		leader, kill.Sub(start).Seconds(), len(delivered), after, refused, stall.Round(time.Millisecond))
	if after == 0 {
		t.Fatalf("no handshake succeeded after the leader was killed:\n%s", nodes[0].Stderr())
	}
	for code := range refused {
		if code != 503 {
			t.Errorf("handshakes refused with HTTP %d (want 503 only, during the election): %v", code, refused)
		}
	}

	// Every delivered cookie is known, on both nodes.
	var lost []string
	var lmu sync.Mutex
	ids := make(chan string)
	var vg sync.WaitGroup
	for range 8 {
		vg.Go(func() {
			for id := range ids {
				for _, n := range nodes {
					var c *wsClient
					var err error
					for try := 0; try < 5; try++ {
						if c, _, err = dial(n.ws(), id); err == nil {
							break
						}
						time.Sleep(200 * time.Millisecond)
					}
					if err != nil || c.isNew {
						lmu.Lock()
						lost = append(lost, id)
						lmu.Unlock()
					}
					if c != nil {
						c.ws.Close()
					}
				}
			}
		})
	}
	for _, id := range delivered {
		ids <- id
	}
	close(ids)
	vg.Wait()
	if len(lost) > 0 {
		t.Fatalf("%d of %d delivered cookies were not recognised after the leader's crash", len(lost), len(delivered))
	}
}
