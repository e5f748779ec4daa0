package record

import "encoding/binary"

// parseFast parses a version 2 payload laid out exactly as AppendEvent
// writes it, the layout of nearly every event a journal holds, with loads
// of whole fields instead of the general reader's byte at a time, and
// reports whether it could. It accepts only what parse accepts, and fills
// v as parse would; anything else it leaves to parse, which decides, by
// returning false: other headers or encodings of the same values, fields
// a later version appends, an authextra other than a flat map of strings,
// integers, floats, booleans and nils, and every error.
func parseFast(p []byte, v *View) bool {
	if len(p) < 20 || p[2] != 0xc4 || p[3] != DigestSize {
		return false
	}
	var want byte
	switch Kind(p[1]) {
	case KindCreate:
		want = createFields
	case KindUpdate:
		want = updateFields
	case KindDelete:
		want = deleteFields
	case KindCookie:
		want = cookieFields
	default:
		return false
	}
	if p[0] != 0x90|want {
		return false
	}
	*v = View{Kind: Kind(p[1]), Digest: Digest(p[4:20])}
	rest := p[20:]
	switch v.Kind {
	case KindDelete:
		if len(rest) < 2 || rest[0] > 0x7f {
			return false
		}
		v.Reason = DeleteReason(rest[0])
		switch {
		case len(rest) == 2 && rest[1] == 0xc0:
			return true
		case len(rest) == 1+2+DigestSize && rest[1] == 0xc4 && rest[2] == DigestSize:
			v.Successor = Digest(rest[3:])
			return true
		}
		return false
	case KindCreate, KindCookie:
		if len(rest) < 18 || rest[0] != 0xd3 || rest[9] != 0xd3 {
			return false
		}
		v.Created = int64(binary.BigEndian.Uint64(rest[1:]))
		v.MaxAge = int64(binary.BigEndian.Uint64(rest[10:]))
		rest = rest[18:]
		if v.Kind == KindCreate {
			return len(rest) == 0
		}
	}
	for _, f := range []*[]byte{&v.AuthID, &v.AuthRole, &v.AuthMethod, &v.AuthRealm} {
		s, n, ok := fastStr(rest)
		if !ok {
			return false
		}
		if len(s) > 0 {
			*f = s
		}
		rest = rest[n:]
	}
	if len(rest) == 1 && rest[0] == 0xc0 {
		return true
	}
	if len(rest) > MaxExtraSize || !flatExtra(rest) {
		return false
	}
	if rest[0] != 0x80 { // an empty map is no authextra
		v.Extra = rest
	}
	return true
}

// fastStr reads a fixstr, str8 or str16 at the start of p: its bytes, and
// how many bytes it takes in all.
func fastStr(p []byte) ([]byte, int, bool) {
	if len(p) == 0 {
		return nil, 0, false
	}
	var n, h int
	switch c := p[0]; {
	case c >= 0xa0 && c <= 0xbf:
		n, h = int(c&0x1f), 1
	case c == 0xd9 && len(p) >= 2:
		n, h = int(p[1]), 2
	case c == 0xda && len(p) >= 3:
		n, h = int(binary.BigEndian.Uint16(p[1:])), 3
	default:
		return nil, 0, false
	}
	if len(p)-h < n {
		return nil, 0, false
	}
	return p[h : h+n], h + n, true
}

// flatExtra reports whether p is exactly one msgpack fixmap, of at most 15
// entries, whose keys are strings and whose values are strings, integers,
// floats, booleans or nils: an authextra that checkExtra accepts, with no
// byte after it, checked without its general walk.
func flatExtra(p []byte) bool {
	if len(p) == 0 || p[0]&0xf0 != 0x80 {
		return false
	}
	n := int(p[0] & 0x0f)
	p = p[1:]
	for range n {
		_, k, ok := fastStr(p)
		if !ok {
			return false
		}
		p = p[k:]
		if len(p) == 0 {
			return false
		}
		c := p[0]
		size := 0
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
			size = 1
		case c >= 0xa0 && c <= 0xbf, c == 0xd9, c == 0xda:
			_, k, ok := fastStr(p)
			if !ok {
				return false
			}
			size = k
		case c >= 0xcc && c <= 0xcf:
			size = 1 + 1<<(c-0xcc)
		case c >= 0xd0 && c <= 0xd3:
			size = 1 + 1<<(c-0xd0)
		case c == 0xca:
			size = 5
		case c == 0xcb:
			size = 9
		default:
			return false
		}
		if len(p) < size {
			return false
		}
		p = p[size:]
	}
	return len(p) == 0
}
