package httpd

import (
	"errors"
	"fmt"
)

// Revocation is what Server.Revoke did on one WebSocket service.
type Revocation struct {
	Service     string // the service's JSON path in the config, e.g. "transports[0].paths.ws"
	Store       string // its store type ("memory", "file", "nats"), or "" when it tracks no cookies
	Cookies     int    // cookies deleted from its store
	Connections int    // connections closed with CloseRevoked
	Err         error  // why the store failed, if it did; the counts say what was done before
}

// Revoke revokes principal authid on every WebSocket service of the
// server, as Tracker.Revoke does on one: it deletes the cookies that authid
// is logged in on and closes their connections, and the connections that
// logged in as authid, with CloseRevoked. It returns one Revocation per
// service, in config order, and the errors of all of them joined. A failing
// store does not stop the others.
func (s *Server) Revoke(authid string) ([]Revocation, error) {
	if authid == "" {
		return nil, errors.New("revoke: empty authid")
	}
	out := make([]Revocation, 0, len(s.services))
	var errs []error
	for _, svc := range s.services {
		r := Revocation{Service: svc.path, Store: svc.typ}
		if svc.tracker != nil {
			r.Cookies, r.Connections, r.Err = svc.tracker.revoke(authid)
		}
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", svc.path, r.Err))
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}
