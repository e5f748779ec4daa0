package replay

import (
	"bytes"
	"testing"

	"cookiestore/internal/testkit"
	"cookiestore/record"
)

// The batch of docs/FORMAT.md holds the Create and the Cookie of its other
// examples, in that order, as its table of contents says.
func TestFormatDocBatch(t *testing.T) {
	doc := testkit.ReadDoc(t, testkit.FormatDoc)
	batch, _ := testkit.DocExample(t, doc, "batch")
	var want [][]byte
	for _, title := range []string{"create", "cookie"} {
		p, _ := testkit.DocExample(t, doc, title)
		want = append(want, p)
	}
	var got [][]byte
	err := ParsePayload(batch, record.V2, func(v *record.View) error {
		e, err := v.Event()
		if err != nil {
			return err
		}
		p, err := record.AppendEvent(nil, &e)
		got = append(got, p)
		return err
	})
	if err != nil || len(got) != len(want) {
		t.Fatalf("the page's batch: %d events, %v; want %d", len(got), err, len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("event %d of the page's batch is % x, want % x", i, got[i], want[i])
		}
	}
	count, content, err := record.ParseBatch(batch)
	if err != nil || count != 2 || len(content) != 108 {
		t.Fatalf("the envelope says %d events in %d bytes (%v); the page says 2 in 108", count, len(content), err)
	}
}
