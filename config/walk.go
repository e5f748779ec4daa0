package config

import (
	"crypto/tls"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// This file walks Crossbar's structure down to the services: the document,
// its workers, transports, endpoints and path services. Each block is a
// table of the keys it takes: key, then the rule that reads the value, then
// where the value lands. The WebSocket service and what it holds are in
// websocket.go.

// nodeConfigVersion is the only Crossbar node config version that Crossbar
// itself still reads.
const nodeConfigVersion = 2

var (
	// pathKeyPattern is Crossbar's rule for the keys of a web transport's
	// "paths": one segment, no slashes, or "/" for the root.
	pathKeyPattern = regexp.MustCompile(`^([a-zA-Z0-9_-]+|/)$`)
	// hostPattern accepts a DNS host name.
	hostPattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`)
)

// document walks the root: a bare {"transports": [...]} or a node config
// with "workers".
func (p *parser) document(root *node) *Config {
	cfg := &Config{}
	if root.kind != jsonObject {
		p.errorf("", "the config must be a JSON object, got %s", root.kind)
		return cfg
	}
	p.object("", root, block{
		keys: keys{
			"version":    nodeVersion,
			"workers":    func(p *parser, path string, v *node) { p.workers(path, v, cfg) },
			"transports": func(p *parser, path string, v *node) { p.topTransports(path, v, cfg) },
			"controller": ignored,
		},
		// A top-level key that is not Crossbar's either ("$schema", a
		// comment) is harmless, but an operator should see that it does
		// nothing.
		unknown: func(p *parser, path, key string) {
			if key == "cookie" {
				p.unknownKey(path, key, nil)
				return
			}
			p.warnf(path, "ignored: unknown top-level key")
		},
	})
	workers, transports := root.get("workers"), root.get("transports")
	switch {
	case workers != nil && transports != nil:
		p.errorf("transports", `cannot be combined with "workers": put the transports inside a router worker`)
	case workers == nil && transports == nil:
		p.errorf("", `no transports: the config needs "transports", or "workers" with a router worker that holds them`)
	}
	p.fence()
	cfg.Warnings, cfg.Recommendations = p.warns, p.advice
	return cfg
}

// nodeVersion checks a node config's "version".
func nodeVersion(p *parser, path string, v *node) {
	if n, ok := p.integer(path, v, 0, 1<<31); ok && n != nodeConfigVersion {
		p.errorf(path, "must be %d (Crossbar node config version), got %d", nodeConfigVersion, n)
	}
}

// topTransports walks the bare form's "transports".
func (p *parser) topTransports(path string, n *node, cfg *Config) {
	if !p.isArray(path, n) {
		return
	}
	if len(n.elems) == 0 {
		p.errorf(path, "must hold at least one transport")
	}
	p.transports(path, n, cfg)
}

// workers walks a node config's "workers": the router workers hold the
// transports, between them at least one.
func (p *parser) workers(path string, n *node, cfg *Config) {
	if !p.isArray(path, n) {
		return
	}
	declared := 0
	for i, w := range n.elems {
		declared += p.worker(index(path, i), w, cfg)
	}
	if declared == 0 {
		p.errorf(path, `no transports: a worker of type "router" must hold at least one transport`)
	}
}

// worker walks workers[i] and returns how many transports it declares.
func (p *parser) worker(path string, n *node, cfg *Config) int {
	typ, ok := p.typed(path, n)
	if !ok {
		return 0
	}
	if typ != "router" {
		if n.get("transports") != nil {
			p.errorf(join(path, "type"), `worker type %q is not supported by cookiestore: only "router" workers may hold transports`, typ)
		} else {
			p.warnf(path, "ignored: worker type %q is not used by cookiestore", typ)
		}
		return 0
	}
	declared := 0
	p.object(path, n, block{keys: keys{
		"type": known,
		"transports": func(p *parser, path string, v *node) {
			if p.isArray(path, v) {
				p.transports(path, v, cfg)
				declared = len(v.elems)
			}
		},
		"id":          ignored,
		"options":     ignored,
		"manhole":     ignored,
		"realms":      ignored,
		"components":  ignored,
		"connections": ignored,
	}})
	return declared
}

func (p *parser) transports(path string, n *node, cfg *Config) {
	for i, tn := range n.elems {
		if t := p.transport(index(path, i), tn); t != nil {
			cfg.Transports = append(cfg.Transports, t)
		}
	}
}

// transport walks one transport. It returns nil for those that cannot be
// served, after reporting why.
func (p *parser) transport(path string, n *node) *Transport {
	typ, ok := p.typed(path, n)
	if !ok {
		return nil
	}
	typePath := join(path, "type")
	// The cookie rules depend on TLS, whatever the order of the keys; a
	// "tls" block counts even when it is invalid, so that its fault is not
	// reported twice.
	tlsOn := false
	if ep := n.get("endpoint"); ep != nil && ep.kind == jsonObject {
		tlsOn = ep.get("tls") != nil
	}
	t := &Transport{Path: path, Type: TransportType(typ)}
	endpoint := func(p *parser, ep string, v *node) { p.endpoint(ep, path, v, &t.Endpoint) }
	switch t.Type {
	case TransportWeb:
		p.object(path, n, block{
			keys: keys{
				"type":     known,
				"endpoint": endpoint,
				"paths":    func(p *parser, path string, v *node) { t.Paths = p.paths(path, v, tlsOn) },
				"id":       ignored,
				"options":  ignored,
			},
			required: []string{"endpoint", "paths"},
		})
		return t
	case TransportWebSocket:
		b := p.websocket(n, tlsOn, &t.WebSocket, &t.Store)
		b.keys["endpoint"] = endpoint
		b.required = []string{"endpoint"}
		p.object(path, n, b)
		return t
	case "rawsocket":
		if n.get("cookie") != nil {
			p.errorf(join(path, "cookie"), "cookie tracking needs a WebSocket transport")
		} else {
			p.errorf(typePath, "rawsocket transports are not supported by cookiestore")
		}
		return nil
	default:
		p.errorf(typePath, "transport type %q is not supported by cookiestore (supported: web, websocket)", typ)
		return nil
	}
}

// endpoint walks the "endpoint" n of the transport at owner into ep.
func (p *parser) endpoint(path, owner string, n *node, ep *Endpoint) {
	portOK := false
	p.object(path, n, block{
		keys: keys{
			"type": func(p *parser, path string, v *node) {
				switch s, ok := p.str(path, v); {
				case !ok:
				case s == "tcp":
					ep.Type = s
				case s == "unix":
					p.errorf(path, `unix socket endpoints are not supported by cookiestore (supported: "tcp")`)
				default:
					p.errorf(path, `must be "tcp", got %q`, s)
				}
			},
			"port":         func(p *parser, path string, v *node) { ep.Port, portOK = p.port(path, v) },
			"interface":    func(p *parser, path string, v *node) { p.iface(path, v, ep) },
			"tls":          func(p *parser, path string, v *node) { ep.TLS = p.tls(path, v) },
			"version":      ignored,
			"backlog":      ignored,
			"shared":       ignored,
			"user_timeout": ignored,
		},
		required: []string{"type", "port"},
	})
	if portOK {
		p.claimPort(join(path, "port"), owner, ep)
	}
}

// port reads a port: an integer, or Crossbar's "$NAME" from the
// environment.
func (p *parser) port(path string, v *node) (int, bool) {
	if v.kind == jsonString && envPattern.MatchString(v.s) {
		s, ok := p.env(path, v.s)
		if !ok {
			return 0, false
		}
		port, err := strconv.Atoi(s)
		if err != nil || port < 1 || port > 65535 {
			p.errorf(path, "environment variable %s must hold a port between 1 and 65535, got %q", v.s[1:], s)
			return 0, false
		}
		return port, true
	}
	port, ok := p.integer(path, v, 1, 65535)
	return int(port), ok
}

// iface reads the interface to listen on: an IP address or a host name.
func (p *parser) iface(path string, v *node, ep *Endpoint) {
	s, ok := p.nonEmpty(path, v)
	if !ok {
		return
	}
	if net.ParseIP(s) == nil && (len(s) > 253 || !hostPattern.MatchString(s)) {
		p.errorf(path, "must be an IP address or a host name, got %q", s)
		return
	}
	ep.Interface = s
}

// tls reads an endpoint's "tls" block. Its files are guarded: no static
// folder may hold them.
func (p *parser) tls(path string, n *node) *TLS {
	var t TLS
	if !p.object(path, n, block{
		keys: keys{
			"key":                existing(&t.Key, false),
			"certificate":        existing(&t.Certificate, false),
			"dhparam":            ignored,
			"ciphers":            ignored,
			"ca_certificates":    ignored,
			"chain_certificates": ignored,
		},
		required: []string{"key", "certificate"},
	}) {
		return nil
	}
	if t.Key != "" {
		p.guard(join(path, "key"), t.Key, "the TLS key")
	}
	if t.Certificate != "" {
		p.guard(join(path, "certificate"), t.Certificate, "the TLS certificate")
	}
	if t.Key == "" || t.Certificate == "" {
		return nil
	}
	// Fail here rather than at the first handshake: a config that passes
	// `cookiestore check` must be able to serve.
	if _, err := tls.LoadX509KeyPair(t.Certificate, t.Key); err != nil {
		p.errorf(path, "key and certificate do not form a valid PEM key pair: %v", err)
		return nil
	}
	return &t
}

// paths walks a web transport's "paths", a map from path key to service,
// and returns the services sorted by URL path.
func (p *parser) paths(path string, n *node, tlsOn bool) []*Service {
	if !p.isObject(path, n) {
		return nil
	}
	var out []*Service
	for i, key := range n.keys {
		sp := join(path, key)
		if !pathKeyPattern.MatchString(key) {
			if strings.HasPrefix(key, "/") && pathKeyPattern.MatchString(key[1:]) {
				p.errorf(sp, "path keys have no leading slash (Crossbar style): write %q, it is served at %q", key[1:], key)
			} else {
				p.errorf(sp, `path keys must be "/" or one segment of letters, digits, "_" or "-" (nested paths are not supported)`)
			}
			continue
		}
		urlPath := "/"
		if key != "/" {
			urlPath += key
		}
		if s := p.service(sp, urlPath, n.vals[i], tlsOn); s != nil {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b *Service) int { return strings.Compare(a.URLPath, b.URLPath) })
	return out
}

// service walks one path service.
func (p *parser) service(path, urlPath string, n *node, tlsOn bool) *Service {
	typ, ok := p.typed(path, n)
	if !ok {
		return nil
	}
	s := &Service{Path: path, URLPath: urlPath, Type: ServiceType(typ)}
	switch s.Type {
	case ServiceStatic:
		const python = `static files from a Python package are not supported by cookiestore; use "directory"`
		p.object(path, n, block{
			keys: keys{
				"type":      known,
				"directory": existing(&s.Directory, true),
				"id":        ignored,
				"options":   ignored,
			},
			required: []string{"directory"},
			refused:  map[string]string{"package": python, "resource": python},
		})
		if s.Directory != "" {
			p.statics = append(p.statics, static{path: join(path, "directory"), dir: s.Directory})
		}
	case ServiceWebSocket:
		p.object(path, n, p.websocket(n, tlsOn, &s.WebSocket, &s.Store))
	case ServiceStatus, ServiceMetrics, ServicePage:
		p.object(path, n, block{keys: keys{"type": known}})
	default:
		p.errorf(join(path, "type"), "service type %q is not supported by cookiestore (supported: static, websocket, status, metrics, page)", typ)
		return nil
	}
	return s
}
