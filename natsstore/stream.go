package natsstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"cookiestore/index"
	"cookiestore/record"
)

// Header names that JetStream gives a meaning to. Part of the stream's
// format.
const (
	hdrMsgID        = "Nats-Msg-Id"
	hdrTTL          = "Nats-TTL"
	hdrExpectSubj   = "Nats-Expected-Last-Subject-Sequence"
	hdrMarkerReason = "Nats-Marker-Reason"
)

// Time budgets inside a write.
const (
	attemptTimeout = time.Second // one publish or lookup request: a request to a server that died meanwhile waits this long
	minBackoff     = 50 * time.Millisecond
	maxBackoff     = 500 * time.Millisecond
)

// errConflict says that a conditional publish found another message on the
// subject than the one it was computed from.
var errConflict = errors.New("the cookie changed meanwhile")

// streamConfig is the stream that Open creates.
func (s *Store) streamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:                   s.opts.Stream,
		Description:            "cookiestore: the state of each tracked cookie, one subject per cookie digest",
		Subjects:               []string{s.prefix + "*"},
		Retention:              jetstream.LimitsPolicy,
		MaxMsgs:                -1,
		MaxBytes:               -1,
		MaxMsgsPerSubject:      1,
		Discard:                jetstream.DiscardOld,
		Storage:                jetstream.FileStorage,
		Replicas:               s.opts.Replicas,
		AllowMsgTTL:            true,
		SubjectDeleteMarkerTTL: s.opts.MarkerTTL,
		AllowRollup:            true, // the delete markers are roll-ups
		AllowDirect:            false,
	}
}

// ensureStream creates the stream, or checks the one that exists. A
// cluster that is still electing its leaders answers with time-outs and
// "temporarily unavailable" for a while: those are retried until ctx ends.
func (s *Store) ensureStream(ctx context.Context) (*jetstream.StreamInfo, error) {
	want := s.streamConfig()
	for attempt := 0; ; attempt++ {
		st, created, err := s.streamOnce(ctx, want)
		if err == nil {
			if created {
				s.log.Info("nats store: stream created", "stream", want.Name, "replicas", want.Replicas, "subjects", want.Subjects[0])
			}
			info := st.CachedInfo()
			if diffs := differences(want, info.Config); len(diffs) > 0 {
				return nil, fmt.Errorf("nats store: stream %s: %w: %s", want.Name, ErrStreamSettings, strings.Join(diffs, "; "))
			}
			s.stream = st
			return info, nil
		}
		// Another node may have created it meanwhile.
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) && (!retryable(err) || !backoffCtx(ctx, attempt)) {
			return nil, fmt.Errorf("nats store: stream %s: %w", want.Name, err)
		}
	}
}

// streamOnce looks the stream up, and creates it if it is missing. Each
// request has its own deadline: a cluster without a meta leader may never
// answer one.
func (s *Store) streamOnce(ctx context.Context, want jetstream.StreamConfig) (jetstream.Stream, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	st, err := s.js.Stream(ctx, want.Name)
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return st, false, err
	}
	st, err = s.js.CreateStream(ctx, want)
	if err != nil {
		return nil, false, fmt.Errorf("create: %w", err)
	}
	return st, true, nil
}

// differences names each setting of have that a cookie store cannot use.
// The replicas must be what the config says; the rest is what keeps the
// stream a set of live cookies that expire by themselves.
func differences(want, have jetstream.StreamConfig) []string {
	var d []string
	add := func(name string, have, want any) {
		d = append(d, fmt.Sprintf("%s is %v, the store needs %v", name, have, want))
	}
	if !slices.Contains(have.Subjects, want.Subjects[0]) {
		add("subjects", have.Subjects, want.Subjects[0])
	}
	if have.Replicas != want.Replicas {
		add("replicas", have.Replicas, want.Replicas)
	}
	if have.MaxMsgsPerSubject != 1 {
		add("max_msgs_per_subject", have.MaxMsgsPerSubject, 1)
	}
	if have.Retention != jetstream.LimitsPolicy {
		add("retention", have.Retention, jetstream.LimitsPolicy)
	}
	if have.MaxAge != 0 {
		add("max_age", have.MaxAge, "0 (each message's Nats-TTL decides)")
	}
	if have.MaxMsgs > 0 {
		add("max_msgs", have.MaxMsgs, "unlimited")
	}
	if have.MaxBytes > 0 {
		add("max_bytes", have.MaxBytes, "unlimited")
	}
	if !have.AllowMsgTTL {
		add("allow_msg_ttl", false, true)
	}
	if have.SubjectDeleteMarkerTTL <= 0 {
		add("subject_delete_marker_ttl", have.SubjectDeleteMarkerTTL, "a duration of at least 1s")
	}
	if have.AllowDirect {
		add("allow_direct", true, "false (a lookup must read the leader)")
	}
	if have.Sealed || have.DenyDelete {
		add("sealed/deny_delete", true, false)
	}
	return d
}

// state is what the stream holds on one cookie's subject.
type state struct {
	seq    uint64        // the subject's last message; 0 = none
	cookie record.Cookie // when live
	live   bool          // a cookie that has not expired
}

// current reads the last message of cookie d's subject from the stream
// leader, retrying transient failures until the deadline.
func (s *Store) current(deadline time.Time, d record.Digest) (state, error) {
	m, err := s.lastMsg(deadline, s.subject(d))
	if err != nil {
		return state{}, err
	}
	if m == nil {
		return state{}, nil
	}
	st := state{seq: m.Sequence}
	if m.Header.Get(hdrMarkerReason) != "" {
		return st, nil
	}
	var ev record.Event
	if err := record.DecodeEvent(m.Data, record.V2, &ev); err != nil || ev.Digest != d {
		return st, fmt.Errorf("message %d on %s: not a cookie of this subject: %v", m.Sequence, m.Subject, err)
	}
	if ev.Kind == record.KindCookie {
		st.cookie = ev.Cookie()
		st.live = !st.cookie.ExpiredAt(s.now())
	}
	return st, nil
}

// lastMsg returns the last message on subject, or nil when it has none.
func (s *Store) lastMsg(deadline time.Time, subject string) (*jetstream.RawStreamMsg, error) {
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithDeadline(context.Background(), attemptDeadline(deadline))
		m, err := s.stream.GetLastMsgForSubject(actx, subject)
		cancel()
		if err == nil {
			return m, nil
		}
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, nil
		}
		if !retryable(err) || !backoff(deadline, attempt) {
			return nil, fmt.Errorf("%w: read %s: %w", ErrUnavailable, subject, err)
		}
	}
}

// change applies fn to the current state of the live cookie d until it
// publishes without a conflict, or the deadline passes.
func (s *Store) change(deadline time.Time, d record.Digest, fn func(state) (uint64, error)) (uint64, error) {
	st, err := s.current(deadline, d)
	if err != nil {
		return 0, err
	}
	return s.changeFrom(deadline, d, st, fn)
}

func (s *Store) changeFrom(deadline time.Time, d record.Digest, st state, fn func(state) (uint64, error)) (uint64, error) {
	for {
		if !st.live {
			return 0, index.ErrNotFound
		}
		seq, err := fn(st)
		if !errors.Is(err, errConflict) {
			return seq, err
		}
		if st, err = s.current(deadline, d); err != nil {
			return 0, err
		}
	}
}

// publishState publishes the whole state of c on its subject, expecting
// the subject's last sequence to be after (0: a new cookie). A conflict on
// a new cookie is index.ErrExists.
func (s *Store) publishState(deadline time.Time, c record.Cookie, after uint64) (uint64, error) {
	ev := record.State(c)
	data, err := record.AppendEvent(nil, &ev)
	if err != nil {
		return 0, err
	}
	seq, err := s.publish(deadline, s.subject(c.Digest), data, c.Expires().Sub(s.now()), after)
	if after == 0 && errors.Is(err, errConflict) {
		return 0, index.ErrExists
	}
	// A new cookie is not waited for: a read that misses it in the index
	// finds it in the stream. A change must show at once, here.
	if err == nil && after != 0 {
		s.applyLate(deadline, seq, &ev)
	}
	return seq, err
}

// publishTombstone publishes ev, a Delete, over the live state st. The
// tombstone outlives st's cookie by TombstoneGrace, so that no node can
// still hold the cookie when the tombstone expires.
func (s *Store) publishTombstone(deadline time.Time, st state, ev record.Event) (uint64, error) {
	data, err := record.AppendEvent(nil, &ev)
	if err != nil {
		return 0, err
	}
	ttl := st.cookie.Expires().Sub(s.now()) + s.opts.TombstoneGrace
	seq, err := s.publish(deadline, s.subject(ev.Digest), data, ttl, st.seq)
	if err == nil {
		s.applyLate(deadline, seq, &ev)
	}
	return seq, err
}

// publish stores data on subject with a TTL and the expected last sequence
// of the subject, retrying transient failures until the deadline. The
// condition makes a duplicate impossible: a retry after an attempt that
// was stored but whose ack was lost finds the subject moved on, and then
// reads whether the message there is this one. Retries also carry one
// Nats-Msg-Id, so that JetStream acknowledges a retry of a stored retry
// as the duplicate it is. The first attempt goes without: the stream's
// duplicate window costs a quarter of the publish rate, and the condition
// already covers that attempt.
func (s *Store) publish(deadline time.Time, subject string, data []byte, ttl time.Duration, after uint64) (uint64, error) {
	ttlHdr, afterHdr := []string{ttlValue(ttl)}, []string{strconv.FormatUint(after, 10)}
	var msgID []string
	for attempt := 0; ; attempt++ {
		// Each attempt is a message of its own: the sender may still hold
		// the last one.
		m := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{hdrTTL: ttlHdr, hdrExpectSubj: afterHdr}}
		if attempt > 0 {
			if msgID == nil {
				msgID = []string{nuid.Next()}
			}
			m.Header[hdrMsgID] = msgID
		}
		start := time.Now()
		resp, err := s.send.request(m, time.Until(attemptDeadline(deadline)))
		var seq uint64
		if err == nil {
			seq, err = ackSeq(resp.Data)
		}
		s.stats.observe(time.Since(start), err)
		if err == nil {
			s.seen(seq)
			return seq, nil
		}
		if wrongLastSequence(err) {
			if attempt == 0 {
				return 0, errConflict
			}
			// An earlier attempt may have been stored with its ack lost;
			// then the subject's last message is this one.
			if last, lerr := s.lastMsg(deadline, subject); lerr == nil && last != nil && bytes.Equal(last.Data, data) {
				s.seen(last.Sequence)
				return last.Sequence, nil
			}
			return 0, errConflict
		}
		if !retryable(err) || !backoff(deadline, attempt) {
			return 0, fmt.Errorf("%w: publish on %s: %w", ErrUnavailable, subject, err)
		}
	}
}

// pubAck is JetStream's answer to a publish.
type pubAck struct {
	Error  *jetstream.APIError `json:"error"`
	Stream string              `json:"stream"`
	Seq    uint64              `json:"seq"`
}

// ackSeq returns the stream sequence that a publish ack gives, or the
// error that it reports. A stored message is acknowledged as
// {"stream":"NAME","seq":N}, which is read here by hand; any other answer
// by encoding/json, which costs more than the rest of a publish in this
// process.
func ackSeq(data []byte) (uint64, error) {
	const head, mid = `{"stream":"`, `","seq":`
	if rest, ok := bytes.CutPrefix(data, []byte(head)); ok {
		name := bytes.IndexByte(rest, '"')
		if name > 0 && bytes.IndexByte(rest[:name], '\\') < 0 && bytes.HasPrefix(rest[name:], []byte(mid)) {
			if num, ok := bytes.CutSuffix(rest[name+len(mid):], []byte("}")); ok {
				if seq, err := strconv.ParseUint(string(num), 10, 64); err == nil && seq > 0 {
					return seq, nil
				}
			}
		}
	}
	var ack pubAck
	if err := json.Unmarshal(data, &ack); err != nil {
		return 0, fmt.Errorf("%w: %q", jetstream.ErrInvalidJSAck, data)
	}
	if ack.Error != nil {
		return 0, ack.Error
	}
	if ack.Stream == "" || ack.Seq == 0 {
		return 0, fmt.Errorf("%w: %q", jetstream.ErrInvalidJSAck, data)
	}
	return ack.Seq, nil
}

// ttlValue is a Nats-TTL header value: whole seconds, rounded up, at least
// one (JetStream's minimum).
func ttlValue(d time.Duration) string {
	secs := int64((d + time.Second - 1) / time.Second)
	return strconv.FormatInt(max(secs, 1), 10)
}

// attemptDeadline is the deadline of one request of an operation that
// must end by deadline.
func attemptDeadline(deadline time.Time) time.Time {
	if a := time.Now().Add(attemptTimeout); a.Before(deadline) {
		return a
	}
	return deadline
}

// retryWait is the pause before retry attempt+1.
func retryWait(attempt int) time.Duration {
	return min(minBackoff<<min(attempt, 8), maxBackoff)
}

// backoff sleeps before retry attempt+1 and reports whether the deadline
// leaves time for it.
func backoff(deadline time.Time, attempt int) bool {
	wait := retryWait(attempt)
	if time.Until(deadline) <= wait {
		return false
	}
	time.Sleep(wait)
	return true
}

// backoffCtx is backoff until ctx ends.
func backoffCtx(ctx context.Context, attempt int) bool {
	t := time.NewTimer(retryWait(attempt))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// wrongLastSequence reports a conditional publish refused by the stream.
func wrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// retryable reports whether err may go away by itself: a timeout, no
// responders during an election, a connection being re-established, or an
// error that JetStream itself marks as temporary.
func retryable(err error) bool {
	if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, context.Canceled) || errors.Is(err, errClosed) {
		return false
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code >= 500 || apiErr.Code == 408
	}
	return true
}
