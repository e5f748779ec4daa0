package httpd

import (
	"encoding/json"
	"net/http"
	"runtime/debug"
	"time"
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
	Ready         bool            `json:"ready"`       // every store answers (see Readiness)
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
	Ready          bool    `json:"ready"`
	Error          string  `json:"error"`
	// Stream is where a store shared through a stream stands in it;
	// absent for the others.
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

func (s *Server) status() statusDoc {
	now := s.now()
	doc := statusDoc{
		Version:       s.version,
		Started:       s.started.UTC(),
		UptimeSeconds: now.Sub(s.started).Seconds(),
		Services:      []serviceStatus{},
		Ready:         true,
	}
	for _, svc := range s.services {
		ss := serviceStatus{Path: svc.path, URL: svc.url, Connections: svc.tracker.Connections(), Visitors: svc.tracker.reg.cookies()}
		if svc.store != nil {
			st := storeStats(svc.store)
			ss.Store = &storeStatus{
				Type: svc.typ, Cookies: st.Cookies, EventsAppended: st.EventsAppended, JournalBytes: st.JournalBytes,
				Syncs: st.Syncs, SyncErrors: st.SyncErrors, Compactions: st.Compactions, DeadRatio: st.DeadRatio,
				ReadOnly: st.ReadOnly, Error: st.Err, Ready: svc.tracker.ready(),
			}
			if x := st.Stream; x != nil {
				ss.Store.Stream = &streamStatus{Name: x.Stream, Seq: x.Seq, LastSeq: x.LastSeq, Lag: x.Lag, Connection: x.Connection, Server: x.Server}
			}
			doc.Ready = doc.Ready && ss.Store.Ready
			doc.Cookies += st.Cookies
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

// buildVersion is the version /status reports when Options.Version is
// empty: the main module's, from the build info.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
