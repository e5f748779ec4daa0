package config

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// This file holds the rules across the whole config: what one part claims
// (a port, a journal, a stream, a cookie name) that another may not claim
// again, and the files that no static folder may hold.

// listener is an endpoint already seen, to find two transports on one port.
type listener struct {
	iface string // normalised; "" = all interfaces
	port  int
	owner string // JSON path of the transport
}

// claimPort reports a second transport on an interface and port already in
// use: the second listen would fail at startup.
func (p *parser) claimPort(path, owner string, ep *Endpoint) {
	iface := strings.ToLower(ep.Interface)
	if ip := net.ParseIP(iface); ip != nil {
		iface = ip.String()
		if ip.IsUnspecified() {
			iface = ""
		}
	}
	for _, l := range p.listeners {
		if l.port != ep.Port {
			continue
		}
		switch {
		case l.iface == iface && iface != "":
			p.errorf(path, "%s is already used by %s", net.JoinHostPort(iface, strconv.Itoa(ep.Port)), l.owner)
			return
		case l.iface == "" || iface == "":
			p.errorf(path, "port %d is already used by %s (one of them listens on all interfaces)", ep.Port, l.owner)
			return
		}
	}
	p.listeners = append(p.listeners, listener{iface: iface, port: ep.Port, owner: owner})
}

// claimStoreFile reports two stores on one journal file (the second would
// find it locked at startup), and guards the journal from static folders.
func (p *parser) claimStoreFile(path, owner, filename string) {
	p.guard(path, filename, "the cookie journal")
	if first, taken := claim(&p.storeFiles, filename, owner); taken {
		p.errorf(path, "%q is already the store of %s", filename, first)
	}
}

// natsClaim is a NATS store already seen.
type natsClaim struct {
	urls           []string
	stream, prefix string
	owner          string // JSON path of the store
}

// claimStream reports two NATS stores on one stream and subject prefix of
// one server: two services would then share, and fight over, one set of
// cookies.
func (p *parser) claimStream(owner string, st *Store) {
	for _, c := range p.natsStreams {
		if c.stream != st.Stream || c.prefix != st.SubjectPrefix {
			continue
		}
		for _, u := range st.URLs {
			if slices.ContainsFunc(c.urls, func(v string) bool { return strings.EqualFold(u, v) }) {
				p.errorf(join(owner, "stream"), "stream %q with subject prefix %q on %s is already the store of %s", st.Stream, st.SubjectPrefix, u, c.owner)
				return
			}
		}
	}
	p.natsStreams = append(p.natsStreams, natsClaim{urls: st.URLs, stream: st.Stream, prefix: st.SubjectPrefix, owner: owner})
}

// claimCookieName warns when two cookie blocks use one name: a browser keeps
// one cookie per name and host, for every port and path, so two stores would
// keep replacing each other's cookie.
func (p *parser) claimCookieName(owner, name string) {
	if first, taken := claim(&p.cookieNames, name, owner); taken {
		p.warnf(owner, "cookie %q is also used by %s: browsers share one cookie per name across the ports and paths of a host, so the two stores will keep replacing each other's cookie", name, first)
	}
}

// claim gives key to owner in *owners, made on the first claim, unless an
// earlier owner has it: then it returns that owner and taken, and the key
// stays with the first.
func claim(owners *map[string]string, key, owner string) (first string, taken bool) {
	if first, taken := (*owners)[key]; taken {
		return first, true
	}
	if *owners == nil {
		*owners = make(map[string]string)
	}
	(*owners)[key] = owner
	return "", false
}

// static is a static folder, fenced once every guarded file is known.
type static struct {
	path string // JSON path of its "directory"
	dir  string // resolved
}

// guarded is a file that no static folder may hold, because serving it
// would hand out secrets: a cookie journal (its side files, the lock, the
// backups and the compaction's temporary files, lie beside it), the config
// file, TLS key material, NATS credentials.
type guarded struct {
	path string // JSON path of the value that names it; "" for the config file
	file string // resolved
	what string // "the cookie journal", ...
}

func (p *parser) guard(path, file, what string) {
	p.guarded = append(p.guarded, guarded{path: path, file: file, what: what})
}

// fence reports each static folder that holds a guarded file. A file need
// not exist yet (a journal is created at the first start) to be guarded,
// and symbolic links are followed as far as they exist.
func (p *parser) fence() {
	for _, s := range p.statics {
		for _, g := range p.guarded {
			if !holds(s.dir, g.file) {
				continue
			}
			named := ""
			if g.path != "" {
				named = " (" + g.path + ")"
			}
			p.errorf(s.path, "%q holds %s %q%s: a static folder must not hold store files, the config file or key material, which it would serve to anyone",
				s.dir, g.what, g.file, named)
		}
	}
}

// holds reports whether file lies in dir or below it, comparing both the
// names as written and the names with symbolic links resolved.
func holds(dir, file string) bool {
	for _, d := range spellings(dir) {
		for _, f := range spellings(file) {
			rel, err := filepath.Rel(d, f)
			if err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				return true
			}
		}
	}
	return false
}

// spellings returns name as an absolute path, and with symbolic links
// resolved in as much of it as exists.
func spellings(name string) []string {
	abs, err := filepath.Abs(name)
	if err != nil {
		return []string{name}
	}
	out := []string{abs}
	// Resolve the longest part that exists; the rest is joined on.
	rest := ""
	for cur := abs; ; {
		if _, err := os.Lstat(cur); err == nil {
			if real, err := filepath.EvalSymlinks(cur); err == nil {
				out = append(out, filepath.Join(real, rest))
			}
			break
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			break
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
	return out
}
