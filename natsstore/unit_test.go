package natsstore

// The store's behaviour against real NATS servers is tested in the e2e
// module (e2e/cluster), which may depend on nats-server; these are the
// parts that need no server.

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"cookiestore/record"
)

func TestTTLValue(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Hour, "1"},
		{0, "1"},
		{time.Millisecond, "1"},
		{time.Second, "1"},
		{time.Second + time.Nanosecond, "2"},
		{24 * time.Hour, "86400"},
	} {
		if got := ttlValue(tc.d); got != tc.want {
			t.Errorf("ttlValue(%v) = %s, want %s", tc.d, got, tc.want)
		}
	}
}

func TestSubjectAndDigest(t *testing.T) {
	s := &Store{prefix: "site.cookies."}
	d := record.DigestOf("abcdefghijklmnopqrstuvwx")
	subj := s.subject(d)
	if want := "site.cookies." + d.String(); subj != want {
		t.Fatalf("subject = %q, want %q", subj, want)
	}
	if got, ok := s.digestOf(subj); !ok || got != d {
		t.Fatalf("digestOf(%q) = %s, %v", subj, got, ok)
	}
	for _, bad := range []string{"site.cookies", "site.cookies.xyz", "other.cookies." + d.String(), "site.cookies." + d.String() + "0", "site.cookies." + strings.Repeat("g", 32)} {
		if _, ok := s.digestOf(bad); ok {
			t.Errorf("digestOf(%q) accepted", bad)
		}
	}
}

func TestDifferences(t *testing.T) {
	s := &Store{opts: Options{Stream: "COOKIES", Replicas: 3, MarkerTTL: DefaultMarkerTTL}, prefix: "cookies."}
	want := s.streamConfig()
	if d := differences(want, want); len(d) != 0 {
		t.Fatalf("a stream as the store creates it differs: %v", d)
	}
	have := want
	have.Replicas, have.MaxMsgsPerSubject, have.MaxAge, have.AllowMsgTTL, have.SubjectDeleteMarkerTTL = 1, 0, time.Hour, false, 0
	have.Subjects, have.AllowDirect, have.MaxMsgs, have.Retention = []string{"other.*"}, true, 100, jetstream.WorkQueuePolicy
	got := strings.Join(differences(want, have), "; ")
	for _, name := range []string{"subjects", "replicas is 1, the store needs 3", "max_msgs_per_subject is 0", "retention", "max_age is 1h0m0s", "max_msgs is 100", "allow_msg_ttl", "subject_delete_marker_ttl", "allow_direct"} {
		if !strings.Contains(got, name) {
			t.Errorf("differences do not name %q: %s", name, got)
		}
	}
}

func TestAckSeq(t *testing.T) {
	for _, tc := range []struct {
		ack     string
		seq     uint64
		errCode jetstream.ErrorCode // of a *jetstream.APIError
		invalid bool                // jetstream.ErrInvalidJSAck
	}{
		{ack: `{"stream":"COOKIES","seq":1}`, seq: 1},
		{ack: `{"stream":"C","seq":18446744073709551615}`, seq: 1<<64 - 1},
		{ack: `{"stream":"COOKIES","seq":42,"duplicate":true}`, seq: 42},
		{ack: `{"stream":"COOKIES","domain":"hub","seq":7}`, seq: 7},
		{ack: `{"stream":"CO\"OK","seq":9}`, seq: 9},
		{ack: `{"stream":"COOKIES", "seq": 3}`, seq: 3},
		{ack: `{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 5"}}`, errCode: jetstream.JSErrCodeStreamWrongLastSequence},
		{ack: `{"error":{"code":503,"err_code":10039,"description":"jetstream not enabled"}}`, errCode: 10039},
		{ack: `{"stream":"COOKIES","seq":0}`, invalid: true},
		{ack: `{"stream":"","seq":5}`, invalid: true},
		{ack: `{"stream":"COOKIES","seq":-1}`, invalid: true},
		{ack: `{"stream":"COOKIES","seq":12`, invalid: true},
		{ack: ``, invalid: true},
		{ack: `not json`, invalid: true},
	} {
		seq, err := ackSeq([]byte(tc.ack))
		var apiErr *jetstream.APIError
		switch {
		case tc.invalid:
			if !errors.Is(err, jetstream.ErrInvalidJSAck) {
				t.Errorf("ackSeq(%s) = %d, %v; want an invalid ack", tc.ack, seq, err)
			}
		case tc.errCode != 0:
			if !errors.As(err, &apiErr) || apiErr.ErrorCode != tc.errCode {
				t.Errorf("ackSeq(%s) = %d, %v; want API error %d", tc.ack, seq, err, tc.errCode)
			}
		case err != nil || seq != tc.seq:
			t.Errorf("ackSeq(%s) = %d, %v; want %d", tc.ack, seq, err, tc.seq)
		}
	}
	if _, err := ackSeq([]byte(`{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 5"}}`)); !wrongLastSequence(err) {
		t.Errorf("a wrong last sequence answer is not recognised: %v", err)
	}
}

func BenchmarkAckSeq(b *testing.B) {
	ack := []byte(`{"stream":"COOKIES","seq":123456789}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ackSeq(ack); err != nil {
			b.Fatal(err)
		}
	}
}
