package httpd

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// statusDoc is the JSON document of a "status" service. Field names are
// part of the interface.
type statusDoc struct {
	Version       string          `json:"version"`
	Started       time.Time       `json:"started"`
	UptimeSeconds float64         `json:"uptime_seconds"`
	Connections   int             `json:"connections"` // live WebSocket connections, all services
	Cookies       int             `json:"cookies"`     // cookies in all stores
	ReadOnly      bool            `json:"read_only"`   // some store refuses writes
	Ready         bool            `json:"ready"`       // every store knows every cookie; handshakes get 503 until then
	Services      []serviceStatus `json:"services"`
}

type serviceStatus struct {
	Path        string       `json:"path"`        // JSON path in the config
	URL         string       `json:"url"`         // URL path
	Connections int          `json:"connections"` // live connections
	Visitors    int          `json:"visitors"`    // cookies with at least one live connection
	Store       *storeStatus `json:"store"`       // null when tracking is off
}

type storeStatus struct {
	Type           string  `json:"type"`
	Cookies        int     `json:"cookies"`
	EventsAppended int64   `json:"events_appended"`
	JournalBytes   int64   `json:"journal_bytes"`
	Syncs          int64   `json:"syncs"`
	SyncErrors     int64   `json:"sync_errors"`
	Compactions    int64   `json:"compactions"`
	DeadRatio      float64 `json:"dead_ratio"`
	ReadOnly       bool    `json:"read_only"`
	Error          string  `json:"error"`
	Ready          bool    `json:"ready"`
	// Stream is where a nats store stands in its stream; absent for others.
	Stream *streamStatus `json:"stream,omitempty"`
}

type streamStatus struct {
	Name       string `json:"name"`
	Seq        uint64 `json:"seq"`      // the last sequence applied to this node's index
	LastSeq    uint64 `json:"last_seq"` // the highest sequence this node has seen
	Lag        uint64 `json:"lag"`
	Connection string `json:"connection"` // e.g. "CONNECTED", "RECONNECTING"
	Server     string `json:"server"`
}

// storeStats asks a store for its figures; a store without StatsReporter
// reports its number of cookies only.
func storeStats(st Store) StoreStats {
	if r, ok := st.(StatsReporter); ok {
		return r.StoreStats()
	}
	return StoreStats{Cookies: st.Len()}
}

// storeReady reports whether st knows every cookie: a store without
// Readiness always does.
func storeReady(st Store) bool {
	r, ok := st.(Readiness)
	return !ok || r.Ready()
}

func (s *Server) status() statusDoc {
	now := s.now()
	doc := statusDoc{
		Ready:         true,
		Version:       s.version,
		Started:       s.started.UTC(),
		UptimeSeconds: now.Sub(s.started).Seconds(),
		Services:      []serviceStatus{},
	}
	for _, svc := range s.services {
		ss := serviceStatus{Path: svc.path, URL: svc.url, Connections: svc.tracker.Connections(), Visitors: svc.tracker.reg.cookies()}
		if svc.store != nil {
			st := storeStats(svc.store)
			ss.Store = &storeStatus{
				Type: svc.typ, Cookies: st.Cookies, EventsAppended: st.EventsAppended, JournalBytes: st.JournalBytes,
				Syncs: st.Syncs, SyncErrors: st.SyncErrors, Compactions: st.Compactions, DeadRatio: st.DeadRatio,
				ReadOnly: st.ReadOnly, Error: st.Err, Ready: storeReady(svc.store),
			}
			if x := st.Stream; x != nil {
				ss.Store.Stream = &streamStatus{Name: x.Stream, Seq: x.Seq, LastSeq: x.LastSeq, Lag: x.Lag, Connection: x.Connection, Server: x.Server}
			}
			doc.Cookies += st.Cookies
			doc.Ready = doc.Ready && ss.Store.Ready
			doc.ReadOnly = doc.ReadOnly || st.ReadOnly
		}
		doc.Connections += ss.Connections
		doc.Services = append(doc.Services, ss)
	}
	return doc
}

// serveStatus answers GET with the status document.
func (s *Server) serveStatus(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(s.status())
}

// metrics is a Server's Prometheus registry. It is per Server, never the
// global one, so that several servers (and tests) can live in one process.
type metrics struct {
	reg          *prometheus.Registry
	handshakes   *prometheus.CounterVec
	fsyncSeconds prometheus.Histogram
	fsyncErrors  prometheus.Counter
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cookiestore_handshakes_total",
			Help: "WebSocket handshakes by result: new (cookie issued), returning (cookie reused), untracked (no cookie block), refused (origin, connection cap, shutdown), error (store or upgrade failure).",
		}, []string{"result"}),
		fsyncSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cookiestore_fsync_seconds",
			Help:    "Latency of the cookie journals' fdatasyncs.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16), // 50µs .. 1.6s
		}),
		fsyncErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cookiestore_fsync_errors_total",
			Help: "Failed fdatasyncs of the cookie journals; a store turns read-only after one.",
		}),
	}
	for _, r := range []string{handshakeNew, handshakeReturning, handshakeUntracked, handshakeRefused, handshakeError} {
		m.handshakes.WithLabelValues(r) // every series exists from the start, at 0
	}
	sum := func(f func(StoreStats) float64) func() float64 {
		return func() float64 {
			total := 0.0
			for _, svc := range s.services {
				if svc.store != nil {
					total += f(storeStats(svc.store))
				}
			}
			return total
		}
	}
	m.reg.MustRegister(
		m.handshakes, m.fsyncSeconds, m.fsyncErrors,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cookiestore_connections",
			Help: "Live WebSocket connections.",
		}, func() float64 {
			n := 0
			for _, svc := range s.services {
				if svc.tracker != nil {
					n += svc.tracker.Connections()
				}
			}
			return float64(n)
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cookiestore_cookies",
			Help: "Cookies in the stores.",
		}, sum(func(st StoreStats) float64 { return float64(st.Cookies) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "cookiestore_events_appended_total",
			Help: "Events appended to the cookie journals since they were opened.",
		}, sum(func(st StoreStats) float64 { return float64(st.EventsAppended) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cookiestore_journal_bytes",
			Help: "Size of the cookie journals.",
		}, sum(func(st StoreStats) float64 { return float64(st.JournalBytes) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "cookiestore_compactions_total",
			Help: "Journal compactions since the stores were opened.",
		}, sum(func(st StoreStats) float64 { return float64(st.Compactions) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cookiestore_stream_lag",
			Help: "Messages of the shared cookie streams that this node has not applied yet.",
		}, sum(func(st StoreStats) float64 {
			if st.Stream == nil {
				return 0
			}
			return float64(st.Stream.Lag)
		})),
		publishCollector{s},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cookiestore_store_read_only",
			Help: "Stores that refuse writes after a failed write or fdatasync.",
		}, sum(func(st StoreStats) float64 {
			if st.ReadOnly {
				return 1
			}
			return 0
		})),
	)
	return m
}

// publishCollector reports the publish latency of the shared cookie
// streams as a summary: its count and its sum.
type publishCollector struct{ s *Server }

var publishDesc = prometheus.NewDesc("cookiestore_stream_publish_seconds",
	"Latency of the publishes to the shared cookie streams, each attempt counted.", nil, nil)

func (c publishCollector) Describe(ch chan<- *prometheus.Desc) { ch <- publishDesc }

func (c publishCollector) Collect(ch chan<- prometheus.Metric) {
	var n uint64
	var sum float64
	for _, svc := range c.s.services {
		if svc.store == nil {
			continue
		}
		if st := storeStats(svc.store).Stream; st != nil {
			n += uint64(st.Publishes)
			sum += st.PublishSeconds
		}
	}
	ch <- prometheus.MustNewConstSummary(publishDesc, n, sum, nil)
}

func (m *metrics) handshake(result string) { m.handshakes.WithLabelValues(result).Inc() }

// observeSync is the onSync callback handed to file stores.
func (m *metrics) observeSync(d time.Duration, err error) {
	m.fsyncSeconds.Observe(d.Seconds())
	if err != nil {
		m.fsyncErrors.Inc()
	}
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
