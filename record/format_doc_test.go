package record_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"cookiestore/internal/testkit"
	"cookiestore/record"
)

// docs/FORMAT.md shows every event of version 2, and a version 1 event, by
// example. Each example decodes to the event the page says it is, and that
// event encodes to the very bytes of the example: the page and the code
// cannot drift apart.
func TestFormatDocEvents(t *testing.T) {
	doc := testkit.ReadDoc(t, testkit.FormatDoc)
	abc, cap := record.DigestOf("abcdefghijklmnopqrstuvwx"), record.DigestOf("ABCDEFGHIJKLMNOPQRSTUVWX")
	for _, d := range []record.Digest{abc, cap} {
		if !strings.Contains(doc, d.String()) {
			t.Fatalf("the page does not give the digest %s", d)
		}
	}
	created := time.Unix(0, 1700000000000000000)
	alice := record.Auth{AuthID: "alice", AuthRole: "user", AuthMethod: "ticket", AuthRealm: "realm1"}
	tenant := alice
	tenant.AuthExtra = map[string]any{"tenant": "t7"}
	for _, tt := range []struct {
		title   string
		version int
		want    record.Event
	}{
		{"create", record.V2, record.Create(abc, created, 24*time.Hour)},
		{"update", record.V2, record.Update(abc, tenant)},
		{"delete", record.V2, record.Delete(abc, record.ReasonLogout)},
		{"rotated", record.V2, record.Rotated(abc, cap)},
		{"cookie", record.V2, record.State(record.Cookie{Digest: cap, Created: created, MaxAge: 24 * time.Hour, Auth: alice})},
		{"version 1 create", record.V1, record.Create(record.DigestOf("abcdef"), created, 24*time.Hour)},
	} {
		p, _ := testkit.DocExample(t, doc, tt.title)
		var got record.Event
		if err := record.DecodeEvent(p, tt.version, &got); err != nil {
			t.Fatalf("example %q: %v", tt.title, err)
		}
		if !got.Created.Equal(tt.want.Created) {
			t.Fatalf("example %q: created %v, want %v", tt.title, got.Created, tt.want.Created)
		}
		got.Created, tt.want.Created = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, tt.want) {
			t.Fatalf("example %q decodes to %+v, want %+v", tt.title, got, tt.want)
		}
		if tt.version == record.V2 {
			tt.want.Created = created
			if b, err := record.AppendEvent(nil, &tt.want); err != nil || !bytes.Equal(b, p) {
				t.Fatalf("example %q: the event encodes to % x (%v), the page shows % x", tt.title, b, err, p)
			}
		}
	}
}
