package record

import (
	"errors"
	"fmt"
	"time"
)

// Payload versions, as the journal's header carries them. Version 1 names a
// cookie by its ID (a msgpack string); version 2 by its Digest (msgpack
// binary of 16 bytes) and adds KindCookie and the reason and successor of a
// Delete. Frames are the same in both.
const (
	V1 = 1
	V2 = 2
)

// Number of array elements each kind carries in version 2, kind included.
// Readers accept longer arrays and skip what they do not know, so that a
// later version may append fields without breaking them.
const (
	createFields = 4
	updateFields = 7
	deleteFields = 4
	cookieFields = 9
	// Version 1 Delete events had no reason and no successor.
	deleteFieldsV1 = 2
)

// View is an event as it lies in its payload: Parse fills it without
// allocating, and its byte slices point into the payload, so they are valid
// only as long as the payload is. An index that keeps what it applies
// copies them; one that does not, such as a replay that only counts, never
// pays for strings or maps.
type View struct {
	Kind    Kind   // which event: never KindBatch
	Digest  Digest // the cookie; for a version 1 payload, DigestOf its ID
	Created int64  // Create, Cookie: Unix nanoseconds
	MaxAge  int64  // Create, Cookie: nanoseconds
	// Update, Cookie: the auth tuple, and the msgpack map of its authextra
	// (nil when it has none or an empty one). All nil means no auth.
	AuthID, AuthRole, AuthMethod, AuthRealm, Extra []byte
	Reason                                         DeleteReason // Delete
	Successor                                      Digest       // Delete with ReasonRotated
}

// HasAuth reports whether the view carries a non-empty auth tuple.
func (v *View) HasAuth() bool {
	return len(v.AuthID) > 0 || len(v.AuthRole) > 0 || len(v.AuthMethod) > 0 || len(v.AuthRealm) > 0 || len(v.Extra) > 0
}

// Auth returns a copy of the view's auth tuple, with its authextra decoded.
func (v *View) Auth() (Auth, error) {
	extra, err := DecodeExtra(v.Extra)
	if err != nil {
		return Auth{}, err
	}
	return Auth{AuthID: string(v.AuthID), AuthRole: string(v.AuthRole), AuthMethod: string(v.AuthMethod),
		AuthRealm: string(v.AuthRealm), AuthExtra: extra}, nil
}

// Event returns the event that v shows, with copies of its strings.
func (v *View) Event() (Event, error) {
	e := Event{Kind: v.Kind, Digest: v.Digest, Reason: v.Reason, Successor: v.Successor}
	switch v.Kind {
	case KindCreate, KindCookie:
		e.Created, e.MaxAge = time.Unix(0, v.Created), time.Duration(v.MaxAge)
	}
	if v.Kind == KindUpdate || v.Kind == KindCookie {
		a, err := v.Auth()
		if err != nil {
			return Event{}, err
		}
		e.Auth = a
	}
	return e, nil
}

// DecodeEvent decodes one single-event payload of the given version into e.
// It never panics, and it allocates only what e holds.
func DecodeEvent(p []byte, version int, e *Event) error {
	var v View
	if err := Parse(p, version, &v); err != nil {
		return err
	}
	ev, err := v.Event()
	if err != nil {
		return err
	}
	*e = ev
	return nil
}

// PeekKind returns the kind of an encoded payload without decoding the rest.
func PeekKind(p []byte) (Kind, error) {
	r := reader{p: p}
	if _, err := r.arrayLen(); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(r.p) == 0 || r.p[0] > 0x7f {
		return 0, fmt.Errorf("%w: kind is not a small positive integer", ErrMalformed)
	}
	k := Kind(r.p[0])
	if k < KindCreate || k > KindCookie {
		return 0, fmt.Errorf("%w: unknown event kind %d", ErrMalformed, k)
	}
	return k, nil
}

// Parse reads the single-event payload p of the given version into v
// without allocating. It checks everything that decoding the event into Go
// values could meet: lengths against the bytes left, the authextra with
// checkExtra, the digest's size, and that no byte follows the event. Every
// error wraps ErrMalformed. Batch payloads are refused; see ParseBatch.
func Parse(p []byte, version int, v *View) error {
	if err := parse(p, version, v); err != nil {
		*v = View{}
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return nil
}

func parse(p []byte, version int, v *View) error {
	if version == V2 && parseFast(p, v) {
		return nil
	}
	return parseGeneral(p, version, v)
}

// parseGeneral is parse for any payload, one msgpack value at a time.
func parseGeneral(p []byte, version int, v *View) error {
	if version != V1 && version != V2 {
		return fmt.Errorf("payload version %d is not supported", version)
	}
	r := reader{p: p}
	n, err := r.arrayLen()
	if err != nil {
		return err
	}
	if n < 2 {
		return fmt.Errorf("event array has %d elements", n)
	}
	kind, err := r.uint()
	if err != nil {
		return fmt.Errorf("kind: %w", err)
	}
	*v = View{Kind: Kind(kind)}
	var want uint64
	switch {
	case kind == uint64(KindBatch):
		return errors.New("a batch payload is not a single event")
	case kind == uint64(KindCreate):
		want = createFields
	case kind == uint64(KindUpdate):
		want = updateFields
	case kind == uint64(KindDelete) && version == V1:
		want = deleteFieldsV1
	case kind == uint64(KindDelete):
		want = deleteFields
	case kind == uint64(KindCookie) && version == V2:
		want = cookieFields
	default:
		return fmt.Errorf("unknown event kind %d in a version %d payload", kind, version)
	}
	if n < want {
		return fmt.Errorf("%s event has %d elements, want %d", v.Kind, n, want)
	}
	if v.Digest, err = r.digest(version); err != nil {
		return fmt.Errorf("digest: %w", err)
	}
	switch v.Kind {
	case KindCreate:
		err = r.lifetime(v)
	case KindUpdate:
		err = r.auth(v)
	case KindDelete:
		if version == V2 {
			err = r.deletion(v)
		}
	case KindCookie:
		if err = r.lifetime(v); err == nil {
			err = r.auth(v)
		}
	}
	if err != nil {
		return err
	}
	for i := want; i < n; i++ {
		if err := r.skip(); err != nil {
			return fmt.Errorf("trailing element %d: %w", i, err)
		}
	}
	if len(r.p) != 0 {
		return fmt.Errorf("%d bytes after the event", len(r.p))
	}
	return nil
}

// digest reads the cookie's name: a digest in version 2, an ID that it
// digests in version 1.
func (r *reader) digest(version int) (Digest, error) {
	if version == V1 {
		id, err := r.str()
		if err != nil {
			return Digest{}, fmt.Errorf("id: %w", err)
		}
		return digestOf(id), nil
	}
	b, err := r.bin()
	if err != nil {
		return Digest{}, err
	}
	if len(b) != DigestSize {
		return Digest{}, fmt.Errorf("%d bytes, want %d", len(b), DigestSize)
	}
	return Digest(b), nil
}

func (r *reader) lifetime(v *View) (err error) {
	if v.Created, err = r.int(); err != nil {
		return fmt.Errorf("created: %w", err)
	}
	if v.MaxAge, err = r.int(); err != nil {
		return fmt.Errorf("max_age: %w", err)
	}
	return nil
}

func (r *reader) auth(v *View) error {
	for _, f := range []*[]byte{&v.AuthID, &v.AuthRole, &v.AuthMethod, &v.AuthRealm} {
		s, err := r.str()
		if err != nil {
			return fmt.Errorf("auth: %w", err)
		}
		if len(s) > 0 {
			*f = s
		}
	}
	n, err := checkExtra(r.p)
	if err != nil {
		return fmt.Errorf("authextra: %w", err)
	}
	if extra := r.p[:n]; !emptyExtra(extra) {
		v.Extra = extra
	}
	r.p = r.p[n:]
	return nil
}

// emptyExtra reports whether an authextra value that checkExtra accepted is
// nil or a map without entries, which an event stores as no authextra.
func emptyExtra(b []byte) bool {
	switch b[0] {
	case 0xc0, 0x80:
		return true
	case 0xde:
		return b[1] == 0 && b[2] == 0
	case 0xdf:
		return b[1] == 0 && b[2] == 0 && b[3] == 0 && b[4] == 0
	}
	return false
}

func (r *reader) deletion(v *View) error {
	// A reason this version does not know is kept as it is: a later
	// version may add reasons, and a delete is a delete whatever its cause.
	why, err := r.uint()
	if err != nil || why > 0xff {
		return fmt.Errorf("delete reason: %d %v", why, err)
	}
	v.Reason = DeleteReason(why)
	if r.nilValue() {
		return nil
	}
	b, err := r.bin()
	if err != nil || len(b) != DigestSize {
		return fmt.Errorf("successor: %d bytes %v, want %d", len(b), err, DigestSize)
	}
	v.Successor = Digest(b)
	return nil
}
