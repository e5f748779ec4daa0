package natsstore

import (
	"sync/atomic"
	"time"
)

// Stats is what a Store reports to /status and /metrics.
type Stats struct {
	Stream     string // the stream's name
	Cookies    int    // entries in this node's index
	Ready      bool   // the node has caught up with the stream since it opened
	Applied    uint64 // the last stream sequence applied to the index
	LastSeq    uint64 // the highest stream sequence this node has seen
	Lag        uint64 // LastSeq - Applied: messages not applied yet
	Connection string // the NATS connection's state: CONNECTED, RECONNECTING, ...
	Server     string // the server connected to, without credentials

	Publishes     int64         // publish attempts since open
	PublishErrors int64         // attempts that failed (and were retried or reported)
	PublishTime   time.Duration // the attempts' total latency

	ReplayedFrom   uint64 // the first sequence followed at open: 1, or a snapshot's next
	SnapshotLoaded int    // cookies loaded from a snapshot at open
}

// stats counts publishes.
type stats struct {
	publishes, errors, nanos atomic.Int64
}

func (st *stats) observe(d time.Duration, err error) {
	st.publishes.Add(1)
	st.nanos.Add(int64(d))
	if err != nil {
		st.errors.Add(1)
	}
}

// Stats returns the store's figures.
func (s *Store) Stats() Stats {
	applied, last := s.applied.Load(), s.lastSeq.Load()
	st := Stats{
		Stream:         s.opts.Stream,
		Cookies:        s.idx.Len(),
		Ready:          s.ready.Load(),
		Applied:        applied,
		LastSeq:        max(last, applied),
		Connection:     s.nc.Status().String(),
		Server:         s.nc.ConnectedUrlRedacted(),
		Publishes:      s.stats.publishes.Load(),
		PublishErrors:  s.stats.errors.Load(),
		PublishTime:    time.Duration(s.stats.nanos.Load()),
		ReplayedFrom:   s.replayFrom,
		SnapshotLoaded: s.snapLoaded,
	}
	st.Lag = st.LastSeq - applied
	return st
}
