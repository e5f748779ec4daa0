package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file holds the machinery of the walk: the parser that collects
// problems, the block (a table of what each key of a JSON object means),
// and the rules that read one value into its destination.

// maxProblems stops the list of problems, as a compiler does: past it, the
// rest is noise.
const maxProblems = 100

// envPattern is Crossbar's way to take a secret or a port from the
// environment: the whole value is "$NAME".
var envPattern = regexp.MustCompile(`^\$([A-Z0-9_]+)$`)

// parser collects problems, warnings and the claims that span the whole
// config while it walks one document.
type parser struct {
	nodeDir string
	errs    Errors
	warns   []string
	advice  []string

	listeners   []listener        // endpoints seen, to find two transports on one port
	storeFiles  map[string]string // journal file -> JSON path of the store using it
	natsStreams []natsClaim       // NATS streams seen, to find two stores on one
	cookieNames map[string]string // cookie name -> JSON path of the first cookie block using it
	statics     []static          // static folders, fenced at the end
	guarded     []guarded         // files no static folder may hold

	// met, when not nil, gathers every key of every block the walk meets,
	// so that a test can hold docs/CONFIG.md to the tables.
	met map[string]bool
}

func (p *parser) errorf(path, format string, args ...any) {
	switch {
	case len(p.errs) < maxProblems:
		p.errs = append(p.errs, &Error{Path: shorten(path), Msg: fmt.Sprintf(format, args...)})
	case len(p.errs) == maxProblems:
		p.errs = append(p.errs, &Error{Msg: fmt.Sprintf("too many problems; only the first %d are listed", maxProblems)})
	}
}

// full reports whether the problem list is complete, so that a problem's
// path need not be built.
func (p *parser) full() bool { return len(p.errs) > maxProblems }

func (p *parser) warnf(path, format string, args ...any) {
	p.warns = append(p.warns, path+": "+fmt.Sprintf(format, args...))
}

func (p *parser) recommend(path, format string, args ...any) {
	p.advice = append(p.advice, path+": "+fmt.Sprintf(format, args...))
}

// A rule reads the value v, found at path, into the destination it was
// made for, or reports why it cannot.
type rule func(p *parser, path string, v *node)

// keys maps each key of a JSON object to the rule for its value.
type keys map[string]rule

// block is what a JSON object may hold.
type block struct {
	keys     keys     // the keys it takes, and what each means
	required []string // keys it must have, reported in this order when missing
	// refused are keys that mean something, but not here (a file store's
	// key on a memory store), with the reason.
	refused map[string]string
	// unknown handles any other key; nil reports an error that lists the
	// valid keys.
	unknown func(p *parser, path, key string)
}

// object reads the object n at path through b: every key in document order
// through its rule, then the missing required keys. It reports false, and a
// problem, when n is not an object.
func (p *parser) object(path string, n *node, b block) bool {
	if !p.isObject(path, n) {
		return false
	}
	if p.met != nil {
		for k := range b.keys {
			p.met[k] = true
		}
		for k := range b.refused {
			p.met[k] = true
		}
	}
	for i, k := range n.keys {
		kp := join(path, k)
		if r, ok := b.keys[k]; ok {
			r(p, kp, n.vals[i])
			continue
		}
		if why, ok := b.refused[k]; ok {
			p.errorf(kp, "%s", why)
			continue
		}
		if b.unknown != nil {
			b.unknown(p, kp, k)
			continue
		}
		p.unknownKey(kp, k, b.keys)
	}
	for _, k := range b.required {
		if n.get(k) == nil {
			p.errorf(join(path, k), "is required")
		}
	}
	return true
}

func (p *parser) unknownKey(path, key string, valid keys) {
	switch {
	case key == "cookie":
		p.errorf(path, "cookie tracking needs a WebSocket transport or a websocket path service")
	case len(valid) == 0:
		p.errorf(path, "unknown key (this block takes no keys)")
	default:
		names := make([]string, 0, len(valid))
		for k := range valid {
			names = append(names, k)
		}
		slices.Sort(names)
		p.errorf(path, "unknown key (valid keys: %s)", strings.Join(names, ", "))
	}
}

// isObject reports a problem unless n is an object.
func (p *parser) isObject(path string, n *node) bool {
	if n.kind != jsonObject {
		p.errorf(path, "must be an object, got %s", n.kind)
		return false
	}
	return true
}

// isArray reports a problem unless n is an array.
func (p *parser) isArray(path string, n *node) bool {
	if n.kind != jsonArray {
		p.errorf(path, "must be an array, got %s", n.kind)
		return false
	}
	return true
}

// typed checks that n is an object with a string "type", reporting what is
// wrong otherwise, and returns the type. The caller's block takes "type"
// with the rule known.
func (p *parser) typed(path string, n *node) (string, bool) {
	if !p.isObject(path, n) {
		return "", false
	}
	tn := n.get("type")
	if tn == nil {
		p.errorf(join(path, "type"), "is required")
		return "", false
	}
	return p.str(join(path, "type"), tn)
}

// The rules. Each returns a rule that writes to dst only when the value
// passes.

// known takes a key that the caller has read already, such as "type".
func known(*parser, string, *node) {}

// ignored takes a Crossbar setting that cookiestore does not act on, with a
// warning.
func ignored(p *parser, path string, _ *node) {
	p.warnf(path, "ignored: Crossbar setting not used by cookiestore")
}

// str takes any string.
func str(dst *string) rule {
	return func(p *parser, path string, v *node) {
		if s, ok := p.str(path, v); ok {
			*dst = s
		}
	}
}

// nonEmpty takes a string other than "".
func nonEmpty(dst *string) rule {
	return func(p *parser, path string, v *node) {
		if s, ok := p.nonEmpty(path, v); ok {
			*dst = s
		}
	}
}

// flag takes a boolean.
func flag(dst *bool) rule {
	return func(p *parser, path string, v *node) {
		if b, ok := p.boolean(path, v); ok {
			*dst = b
		}
	}
}

// inverse takes a boolean and stores its negation: for a setting that is
// on by default, kept in an opt-out field so that the zero value is safe.
func inverse(dst *bool) rule {
	return func(p *parser, path string, v *node) {
		if b, ok := p.boolean(path, v); ok {
			*dst = !b
		}
	}
}

// integer takes an integer in [lo, hi].
func integer(dst *int, lo, hi int64) rule {
	return func(p *parser, path string, v *node) {
		if n, ok := p.integer(path, v, lo, hi); ok {
			*dst = int(n)
		}
	}
}

// limit takes an integer in [0, hi], where 0 turns the limit off: it is
// stored as Unlimited, because a zero field means the default.
func limit(dst *int, hi int64) rule {
	return func(p *parser, path string, v *node) {
		if n, ok := p.integer(path, v, 0, hi); ok {
			*dst = int(n)
			if n == 0 {
				*dst = Unlimited
			}
		}
	}
}

// duration takes an integer count of unit in [lo, hi].
func duration(dst *time.Duration, unit time.Duration, lo, hi int64) rule {
	return func(p *parser, path string, v *node) {
		if n, ok := p.integer(path, v, lo, hi); ok {
			*dst = time.Duration(n) * unit
		}
	}
}

// oneOf takes one of the strings choices.
func oneOf(dst *string, choices ...string) rule {
	return func(p *parser, path string, v *node) {
		if s, ok := p.oneOf(path, v, choices...); ok {
			*dst = s
		}
	}
}

// list takes an array, reading each element with the rule each, which
// appends what passes.
func list(each rule) rule {
	return func(p *parser, path string, v *node) {
		if !p.isArray(path, v) {
			return
		}
		for i, e := range v.elems {
			each(p, index(path, i), e)
		}
	}
}

// existing takes the name of an existing folder (dir) or regular file,
// resolved against the node directory.
func existing(dst *string, dir bool) rule {
	return func(p *parser, path string, v *node) {
		if name, ok := p.nonEmpty(path, v); ok {
			if resolved, ok := p.existing(path, name, dir); ok {
				*dst = resolved
			}
		}
	}
}

// The value checks behind the rules. Each reports a problem and returns
// false when the value breaks its rule.

// str returns the string value at path.
func (p *parser) str(path string, n *node) (s string, ok bool) {
	if n.kind != jsonString {
		p.errorf(path, "must be a string, got %s", n.kind)
		return "", false
	}
	return n.s, true
}

// nonEmpty is str that also refuses "".
func (p *parser) nonEmpty(path string, n *node) (string, bool) {
	s, ok := p.str(path, n)
	if ok && s == "" {
		p.errorf(path, "must not be empty")
		return "", false
	}
	return s, ok
}

// boolean returns the boolean value at path.
func (p *parser) boolean(path string, n *node) (b, ok bool) {
	if n.kind != jsonBool {
		p.errorf(path, "must be a boolean, got %s", n.kind)
		return false, false
	}
	return n.b, true
}

// integer returns the integer value at path if it lies in [lo, hi]. A
// fraction or an exponent is not an integer, as in Crossbar (Python's JSON
// makes them floats).
func (p *parser) integer(path string, n *node, lo, hi int64) (int64, bool) {
	if n.kind != jsonNumber {
		p.errorf(path, "must be an integer, got %s", n.kind)
		return 0, false
	}
	v, err := strconv.ParseInt(n.s, 10, 64)
	if err != nil {
		if strings.ContainsAny(n.s, ".eE") {
			p.errorf(path, "must be an integer, got %s", n.s)
		} else {
			p.errorf(path, "must be between %d and %d, got %s", lo, hi, n.s)
		}
		return 0, false
	}
	if v < lo || v > hi {
		p.errorf(path, "must be between %d and %d, got %d", lo, hi, v)
		return 0, false
	}
	return v, true
}

// oneOf returns the string at path if it is one of choices.
func (p *parser) oneOf(path string, n *node, choices ...string) (string, bool) {
	s, ok := p.str(path, n)
	if !ok {
		return "", false
	}
	if !slices.Contains(choices, s) {
		p.errorf(path, "must be %s, got %q", quoteList(choices), s)
		return "", false
	}
	return s, true
}

// quoteList renders choices as `"a", "b" or "c"`.
func quoteList(choices []string) string {
	q := make([]string, len(choices))
	for i, c := range choices {
		q[i] = strconv.Quote(c)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// env resolves Crossbar's "$NAME" form, which takes a value from the
// environment so that secrets stay out of config files.
func (p *parser) env(path, s string) (string, bool) {
	m := envPattern.FindStringSubmatch(s)
	if m == nil {
		return s, true
	}
	v, ok := os.LookupEnv(m[1])
	if !ok {
		p.errorf(path, "environment variable %s is not set", m[1])
		return "", false
	}
	return v, true
}

// resolve makes a file name from the config relative to the node directory.
func (p *parser) resolve(name string) string {
	if filepath.IsAbs(name) {
		return filepath.Clean(name)
	}
	return filepath.Join(p.nodeDir, name)
}

// showPath names a file for a message: as written, and as resolved when
// that differs, because "../web does not exist" is ambiguous.
func showPath(given, resolved string) string {
	if given == resolved {
		return strconv.Quote(given)
	}
	return fmt.Sprintf("%q (resolved to %q)", given, resolved)
}

// existing resolves name and checks that it exists and is a folder (dir) or
// a regular file (!dir).
func (p *parser) existing(path, name string, dir bool) (string, bool) {
	resolved := p.resolve(name)
	fi, err := os.Stat(resolved)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		p.errorf(path, "%s does not exist", showPath(name, resolved))
		return "", false
	case err != nil:
		p.errorf(path, "cannot use %s: %v", showPath(name, resolved), err)
		return "", false
	case dir && !fi.IsDir():
		p.errorf(path, "%s is not a directory", showPath(name, resolved))
		return "", false
	case !dir && !fi.Mode().IsRegular():
		p.errorf(path, "%s is not a regular file", showPath(name, resolved))
		return "", false
	}
	return resolved, true
}
