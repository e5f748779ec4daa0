package httpd

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

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
			Help: "WebSocket handshakes by result: new (cookie issued), returning (cookie reused), untracked (no cookie block), refused (host, origin, connection cap, new-cookie limit, store not ready, shutdown), error (store or upgrade failure).",
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
	// storeGauge and storeCounter report f summed over the stores.
	storeGauge := func(name, help string, f func(StoreStats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, sum(f))
	}
	storeCounter := func(name, help string, f func(StoreStats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, sum(f))
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
		storeGauge("cookiestore_cookies",
			"Cookies in the stores.",
			func(st StoreStats) float64 { return float64(st.Cookies) }),
		storeCounter("cookiestore_events_appended_total",
			"Events appended to the cookie journals since they were opened.",
			func(st StoreStats) float64 { return float64(st.EventsAppended) }),
		storeGauge("cookiestore_journal_bytes",
			"Size of the cookie journals.",
			func(st StoreStats) float64 { return float64(st.JournalBytes) }),
		storeCounter("cookiestore_compactions_total",
			"Journal compactions since the stores were opened.",
			func(st StoreStats) float64 { return float64(st.Compactions) }),
		storeGauge("cookiestore_stream_lag",
			"Messages of the shared cookie streams that this node has not applied yet.",
			func(st StoreStats) float64 {
				if st.Stream == nil {
					return 0
				}
				return float64(st.Stream.Lag)
			}),
		publishCollector{s},
		storeGauge("cookiestore_store_read_only",
			"Stores that refuse writes after a failed write or fdatasync.",
			func(st StoreStats) float64 {
				if st.ReadOnly {
					return 1
				}
				return 0
			}),
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
