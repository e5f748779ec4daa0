package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file is the generic half of the parser: a JSON tree that keeps the
// order of keys, finds duplicate keys, names every value by its JSON path
// and turns a syntax error into a line and a column. It knows nothing of
// Crossbar.

// kind is the type of a JSON value, named as in error messages.
type kind uint8

const (
	jsonNull kind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

func (k kind) String() string {
	return [...]string{"null", "boolean", "number", "string", "array", "object"}[k]
}

// node is a decoded JSON value. Objects keep their keys in document order,
// so that problems are reported in the order a reader meets them.
type node struct {
	kind  kind
	b     bool     // jsonBool
	s     string   // jsonString: the value; jsonNumber: the literal
	keys  []string // jsonObject: keys in document order, without duplicates
	vals  []*node  // jsonObject: values, parallel to keys
	elems []*node  // jsonArray
}

// get returns the value of key in an object, or nil.
func (n *node) get(key string) *node {
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

// decode parses data into a tree. The standard decoder checks the syntax
// first, because it reports the offset of a fault, and bounds nesting; the
// token pass then keeps the key order and finds duplicate keys, which a map
// would hide. Duplicate keys are reported to p.
func (p *parser) decode(data []byte) (*node, error) {
	if err := json.Unmarshal(data, new(json.RawMessage)); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return p.decodeValue(dec, nil)
}

// trail is the way from the root to a value being decoded. Its string form
// is built only when a problem needs it: building every value's path up
// front costs time quadratic in the nesting depth.
type trail struct {
	up    *trail
	key   string
	index int // -1 for an object member
}

func (tr *trail) String() string {
	var steps []*trail
	for t := tr; t != nil; t = t.up {
		steps = append(steps, t)
	}
	var b strings.Builder
	for i := len(steps) - 1; i >= 0; i-- {
		if t := steps[i]; t.index >= 0 {
			writeIndex(&b, t.index)
		} else {
			writeKey(&b, t.key)
		}
	}
	return b.String()
}

func (p *parser) decodeValue(dec *json.Decoder, at *trail) (*node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			n := &node{kind: jsonArray}
			for i := 0; dec.More(); i++ {
				v, err := p.decodeValue(dec, &trail{up: at, index: i})
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, v)
			}
			_, err := dec.Token() // ']'
			return n, err
		}
		n := &node{kind: jsonObject}
		var seen map[string]bool
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key, _ := kt.(string)
			here := &trail{up: at, key: key, index: -1}
			v, err := p.decodeValue(dec, here)
			if err != nil {
				return nil, err
			}
			if seen == nil {
				seen = make(map[string]bool)
			}
			if seen[key] {
				// Crossbar (Python) silently keeps the last one.
				if !p.full() {
					p.errorf(here.String(), "duplicate key")
				}
				continue
			}
			seen[key] = true
			n.keys = append(n.keys, key)
			n.vals = append(n.vals, v)
		}
		_, err := dec.Token() // '}'
		return n, err
	case string:
		return &node{kind: jsonString, s: t}, nil
	case json.Number:
		return &node{kind: jsonNumber, s: string(t)}, nil
	case bool:
		return &node{kind: jsonBool, b: t}, nil
	default:
		return &node{kind: jsonNull}, nil
	}
}

// join returns the JSON path of key inside the object at parent: a dotted
// name when the key reads as one, a quoted index otherwise (`paths["/"]`).
func join(parent, key string) string {
	var b strings.Builder
	b.WriteString(parent)
	writeKey(&b, key)
	return b.String()
}

// index returns the JSON path of element i of the array at parent.
func index(parent string, i int) string {
	var b strings.Builder
	b.WriteString(parent)
	writeIndex(&b, i)
	return b.String()
}

// writeKey appends the step to key to the path in b.
func writeKey(b *strings.Builder, key string) {
	if !isIdent(key) {
		b.WriteByte('[')
		b.WriteString(strconv.Quote(key))
		b.WriteByte(']')
		return
	}
	if b.Len() > 0 {
		b.WriteByte('.')
	}
	b.WriteString(key)
}

// writeIndex appends the step to array element i to the path in b.
func writeIndex(b *strings.Builder, i int) {
	b.WriteByte('[')
	b.WriteString(strconv.Itoa(i))
	b.WriteByte(']')
}

// isIdent reports whether a key can be written as a dotted name.
func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// shorten elides the middle of a path too long to read, which only a
// machine-made document has; both ends still say where it is.
func shorten(path string) string {
	const head, tail = 100, 200
	if len(path) <= head+tail+10 {
		return path
	}
	i, j := head, len(path)-tail
	for i > 0 && !utf8.RuneStart(path[i]) {
		i--
	}
	for j < len(path) && !utf8.RuneStart(path[j]) {
		j++
	}
	return path[:i] + "…" + path[j:]
}

// syntaxMessage turns a JSON decoding error into a message that points at
// the line and column of the fault.
func syntaxMessage(data []byte, err error) string {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		off := int(se.Offset)
		// Offset counts the bytes read, the bad one included; point at that
		// byte unless the input simply ended.
		if off > 0 && off <= len(data) && !strings.Contains(se.Error(), "unexpected end") {
			off--
		}
		line, col := lineColumn(data, off)
		return fmt.Sprintf("invalid JSON at line %d, column %d: %v", line, col, se)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		line, col := lineColumn(data, len(data))
		return fmt.Sprintf("invalid JSON at line %d, column %d: unexpected end of JSON input", line, col)
	default:
		return fmt.Sprintf("invalid JSON: %v", err)
	}
}

// lineColumn converts a byte offset into a 1-based line and a 1-based
// column counted in characters.
func lineColumn(data []byte, off int) (line, col int) {
	off = min(max(off, 0), len(data))
	before := data[:off]
	line = 1 + bytes.Count(before, []byte{'\n'})
	start := bytes.LastIndexByte(before, '\n') + 1
	return line, 1 + utf8.RuneCount(before[start:])
}
