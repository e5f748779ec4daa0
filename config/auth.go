package config

// This file walks an "auth" block, whose keys are the methods, and the
// methods' own blocks.

// auth walks an "auth" block: its keys are the methods.
func (p *parser) auth(path string, n *node, hasCookie bool) *Auth {
	if !p.isObject(path, n) {
		return nil
	}
	if len(n.keys) == 0 {
		p.errorf(path, `must enable at least one method (anonymous, ticket, cookie); leave "auth" out for no authentication`)
		return nil
	}
	a := &Auth{}
	p.object(path, n, block{
		keys: keys{
			"anonymous": func(p *parser, path string, v *node) { a.Anonymous = p.anonymous(path, v) },
			"ticket":    func(p *parser, path string, v *node) { a.Ticket = p.ticket(path, v) },
			"cookie": func(p *parser, path string, v *node) {
				a.Cookie = p.object(path, v, block{})
				if !hasCookie {
					p.errorf(path, "cookie authentication needs a cookie block on the same WebSocket service")
				}
			},
		},
		unknown: func(p *parser, path, key string) {
			p.errorf(path, "auth method %q is not supported by cookiestore (supported: anonymous, ticket, cookie)", key)
		},
	})
	return a
}

// authType checks the "type" of an auth method: only "static" is supported,
// because a "dynamic" authenticator is a WAMP procedure and there is no WAMP
// here.
func (p *parser) authType(path string, n *node, method string, required bool) bool {
	tn := n.get("type")
	if tn == nil {
		if required {
			p.errorf(join(path, "type"), "is required")
		}
		return !required
	}
	tp := join(path, "type")
	s, ok := p.str(tp, tn)
	switch {
	case !ok:
		return false
	case s == "dynamic":
		p.errorf(tp, `dynamic %s authentication is not supported by cookiestore; use "static"`, method)
		return false
	case s != "static":
		p.errorf(tp, `must be "static", got %q`, s)
		return false
	}
	return true
}

func (p *parser) anonymous(path string, n *node) *Anonymous {
	if !p.isObject(path, n) || !p.authType(path, n, "anonymous", false) {
		return nil
	}
	a := &Anonymous{Role: DefaultAnonymousRole}
	p.object(path, n, block{keys: keys{"type": known, "role": nonEmpty(&a.Role)}})
	return a
}

func (p *parser) ticket(path string, n *node) *Ticket {
	if !p.isObject(path, n) || !p.authType(path, n, "ticket", true) {
		return nil
	}
	t := &Ticket{Principals: map[string]Principal{}}
	p.object(path, n, block{
		keys: keys{
			"type":       known,
			"principals": func(p *parser, path string, v *node) { p.principals(path, v, t.Principals) },
		},
		required: []string{"principals"},
	})
	return t
}

// principals walks a map from authid to principal.
func (p *parser) principals(path string, n *node, into map[string]Principal) {
	if !p.isObject(path, n) {
		return
	}
	for i, authid := range n.keys {
		ap := join(path, authid)
		if authid == "" {
			p.errorf(ap, "an authid must not be empty")
			continue
		}
		// Crossbar lets the role default to whatever the client asks for;
		// here a principal's role is always stated.
		pr := Principal{Realm: DefaultRealm}
		if p.object(ap, n.vals[i], block{
			keys: keys{
				"ticket": secret(&pr.Ticket),
				"role":   nonEmpty(&pr.Role),
				"realm":  nonEmpty(&pr.Realm),
			},
			required: []string{"ticket", "role"},
		}) {
			into[authid] = pr
		}
	}
}

// secret takes a non-empty string, or "$NAME" from the environment.
func secret(dst *string) rule {
	return func(p *parser, path string, v *node) {
		s, ok := p.str(path, v)
		if !ok {
			return
		}
		if s, ok = p.env(path, s); !ok {
			return
		}
		if s == "" {
			p.errorf(path, "must not be empty")
			return
		}
		*dst = s
	}
}
