package config

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode"

	"cookiestore/journal"
)

// This file walks a cookie block's "store": its type chooses the table.

// Limits of the store values, in the units of the JSON keys.
const (
	maxSyncIntervalMS = 60000
	maxReplicas       = 5 // JetStream's own upper bound
)

// store walks a cookie block's "store". Its type chooses the table; the
// keys of the other types are errors that say which type takes them.
func (p *parser) store(path string, n *node) *Store {
	if !p.isObject(path, n) {
		return nil
	}
	if n.get("type") == nil {
		every := keys{"type": known}
		for _, k := range append(fileStoreKeys(), natsStoreKeys()...) {
			every[k] = known
		}
		p.object(path, n, block{keys: every, required: []string{"type"}})
		return nil
	}
	typ, ok := p.typed(path, n)
	if !ok {
		return nil
	}
	st := &Store{Type: StoreType(typ)}
	switch st.Type {
	case StoreMemory:
		p.object(path, n, block{
			keys:    keys{"type": known},
			refused: refusals(fileStoreKeys(), StoreFile, natsStoreKeys(), StoreNATS),
		})
	case StoreFile:
		p.fileStore(path, n, st)
	case StoreNATS:
		p.natsStore(path, n, st)
	case "database":
		p.errorf(join(path, "type"), `store type "database" (LMDB) is not supported; use "file"`)
		return nil
	default:
		p.errorf(join(path, "type"), `must be "memory", "file" or "nats", got %q`, typ)
		return nil
	}
	return st
}

// fileStoreKeys and natsStoreKeys are the keys that one store type takes.
func fileStoreKeys() []string {
	return []string{"filename", "purge_on_startup", "sync", "sync_interval_ms"}
}

func natsStoreKeys() []string {
	return []string{"url", "stream", "replicas", "creds", "subject_prefix"}
}

// refusals maps the keys of other store types to an error that names the
// type that takes them.
func refusals(a []string, at StoreType, b []string, bt StoreType) map[string]string {
	m := make(map[string]string, len(a)+len(b))
	for _, k := range a {
		m[k] = fmt.Sprintf("only valid for a %q store", at)
	}
	for _, k := range b {
		m[k] = fmt.Sprintf("only valid for a %q store", bt)
	}
	return m
}

func (p *parser) fileStore(path string, n *node, st *Store) {
	syncOK := true
	p.object(path, n, block{
		keys: keys{
			"type": known,
			"filename": func(p *parser, fp string, v *node) {
				if name, ok := p.nonEmpty(fp, v); ok {
					st.Filename = p.resolve(name)
					if fi, err := os.Stat(st.Filename); err == nil && fi.IsDir() {
						p.errorf(fp, "%s is a directory", showPath(name, st.Filename))
					}
					p.claimStoreFile(fp, path, st.Filename)
				}
			},
			"purge_on_startup": flag(&st.PurgeOnStartup),
			"sync": func(p *parser, path string, v *node) {
				var s string
				if s, syncOK = p.oneOf(path, v, "always", "interval", "none"); syncOK {
					st.Sync, _ = journal.ParseSyncMode(s)
				}
			},
			"sync_interval_ms": duration(&st.SyncInterval, time.Millisecond, 1, maxSyncIntervalMS),
		},
		required: []string{"filename"},
		refused:  refusals(natsStoreKeys(), StoreNATS, nil, ""),
	})
	switch {
	case st.Sync != journal.SyncInterval:
		if n.get("sync_interval_ms") != nil && st.SyncInterval != 0 && syncOK {
			// A setting that silently does nothing is a trap.
			p.errorf(join(path, "sync_interval_ms"), `only used with "sync": "interval" (sync is %q)`, st.Sync)
		}
		st.SyncInterval = 0
	case st.SyncInterval == 0:
		st.SyncInterval = DefaultSyncInterval
	}
}

func (p *parser) natsStore(path string, n *node, st *Store) {
	st.Stream, st.Replicas, st.SubjectPrefix = DefaultStream, DefaultReplicas, DefaultSubjectPrefix
	p.object(path, n, block{
		keys: keys{
			"type":     known,
			"url":      natsURLs(&st.URLs),
			"stream":   streamName(&st.Stream),
			"replicas": integer(&st.Replicas, 1, maxReplicas),
			"creds": func(p *parser, path string, v *node) {
				existing(&st.Creds, false)(p, path, v)
				if st.Creds != "" {
					p.guard(path, st.Creds, "the NATS credentials")
				}
			},
			"subject_prefix": subjectPrefix(&st.SubjectPrefix),
		},
		required: []string{"url"},
		refused:  refusals(fileStoreKeys(), StoreFile, nil, ""),
	})
	if len(st.URLs) > 0 {
		p.claimStream(path, st)
	}
}

// natsURLs takes "url": one or more NATS server URLs, comma separated.
func natsURLs(dst *[]string) rule {
	return func(p *parser, path string, v *node) {
		s, ok := p.nonEmpty(path, v)
		if !ok {
			return
		}
		var urls []string
		for i, u := range strings.Split(s, ",") {
			u = strings.TrimSpace(u)
			pu, err := url.Parse(u)
			if u == "" || err != nil || pu.Host == "" || !containsFold([]string{"nats", "tls", "ws", "wss"}, pu.Scheme) {
				p.errorf(path, `server %d, %q, is not a NATS server URL such as "nats://127.0.0.1:4222" (schemes: nats, tls, ws, wss; several servers are comma separated)`, i+1, u)
				return
			}
			urls = append(urls, u)
		}
		*dst = urls
	}
}

func containsFold(list []string, s string) bool {
	for _, e := range list {
		if strings.EqualFold(e, s) {
			return true
		}
	}
	return false
}

// streamName takes a JetStream stream name: no whitespace, ".", "*", ">",
// slashes or unprintable characters, as JetStream requires.
func streamName(dst *string) rule {
	return func(p *parser, path string, v *node) {
		s, ok := p.nonEmpty(path, v)
		if !ok {
			return
		}
		if strings.IndexFunc(s, func(r rune) bool {
			return unicode.IsSpace(r) || !unicode.IsPrint(r) || strings.ContainsRune(`.*>/\`, r)
		}) >= 0 {
			p.errorf(path, `must be a JetStream stream name, without spaces, ".", "*", ">" or slashes, got %q`, s)
			return
		}
		*dst = s
	}
}

// subjectPrefix takes the first tokens of a NATS subject: non-empty tokens
// separated by ".", without spaces or the wildcards "*" and ">".
func subjectPrefix(dst *string) rule {
	return func(p *parser, path string, v *node) {
		s, ok := p.nonEmpty(path, v)
		if !ok {
			return
		}
		for tok := range strings.SplitSeq(s, ".") {
			if tok == "" || strings.IndexFunc(tok, func(r rune) bool {
				return unicode.IsSpace(r) || !unicode.IsPrint(r) || r == '*' || r == '>'
			}) >= 0 {
				p.errorf(path, `must be NATS subject tokens separated by ".", without spaces or wildcards, e.g. "cookies" or "site.cookies", got %q`, s)
				return
			}
		}
		*dst = s
	}
}
