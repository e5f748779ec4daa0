package natsstore

import (
	"errors"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// errClosed is the error of a request made or pending when the store
// closes.
var errClosed = errors.New("the store is closed")

// sender sends the store's requests to JetStream and routes the answers
// back: one subscription on an inbox of the store's own, each request a
// reply subject under it, PREFIX.<number in base 36>.
//
// The requests of concurrent writes leave together. The connection's
// flusher writes its buffer to the socket as soon as it runs, and it runs
// as soon as a publishing goroutine blocks for its answer, so that 64
// goroutines each publishing and then waiting cost a write system call
// per message, in this process and a read in the server: the largest cost
// of a publish on a small machine. Here the first of them to queue a
// request yields the processor once, for the writes that are ready to run
// to queue theirs, then publishes the whole queue, which the flusher
// then writes at once. Each write still waits for its own answer.
type sender struct {
	nc     *nats.Conn
	prefix string // the reply subjects' prefix, ending with "."
	sub    *nats.Subscription

	mu      sync.Mutex
	next    uint64                // the last request number given
	waiting map[uint64]chan reply // by request number: where its answer goes
	closed  bool

	qmu     sync.Mutex
	queue   []pending // requests to publish
	spare   []pending // the queue's other buffer
	sending bool      // a goroutine is publishing the queue
}

// reply is the answer to a request, or the error that replaces it.
type reply struct {
	msg *nats.Msg
	err error
}

// pending is a request waiting in the queue.
type pending struct {
	msg *nats.Msg
	id  uint64
}

// newSender subscribes to a fresh inbox on nc.
func newSender(nc *nats.Conn) (*sender, error) {
	sd := &sender{nc: nc, prefix: nc.NewInbox() + ".", waiting: make(map[uint64]chan reply)}
	sub, err := nc.Subscribe(sd.prefix+"*", sd.deliver)
	if err != nil {
		return nil, err
	}
	// A reply that is dropped costs a request's time-out: no limits.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		_ = sub.Unsubscribe()
		return nil, err
	}
	sd.sub = sub
	return sd, nil
}

// deliver hands an answer to its request, if that is still waiting.
func (sd *sender) deliver(m *nats.Msg) {
	id, err := strconv.ParseUint(m.Subject[len(sd.prefix):], 36, 64)
	if err != nil {
		return
	}
	sd.mu.Lock()
	ch := sd.waiting[id]
	delete(sd.waiting, id)
	sd.mu.Unlock()
	if ch == nil {
		return // timed out
	}
	// No stream listens on the subject (an election): the server says so
	// with a status instead of an ack.
	if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
		ch <- reply{err: nats.ErrNoResponders}
		return
	}
	ch <- reply{msg: m}
}

// request publishes m, whose Reply it sets, and waits for the answer for
// at most timeout. m must not be used again: it may be published after a
// time-out.
func (sd *sender) request(m *nats.Msg, timeout time.Duration) (*nats.Msg, error) {
	ch := make(chan reply, 1)
	sd.mu.Lock()
	if sd.closed {
		sd.mu.Unlock()
		return nil, errClosed
	}
	sd.next++
	id := sd.next
	sd.waiting[id] = ch
	sd.mu.Unlock()
	m.Reply = sd.prefix + strconv.FormatUint(id, 36)

	sd.qmu.Lock()
	sd.queue = append(sd.queue, pending{m, id})
	lead := !sd.sending
	sd.sending = true
	sd.qmu.Unlock()
	if lead {
		runtime.Gosched() // for the writes that are ready to run to queue theirs
		sd.publishQueue()
	}

	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.msg, r.err
	case <-t.C:
	}
	sd.mu.Lock()
	_, waiting := sd.waiting[id]
	delete(sd.waiting, id)
	sd.mu.Unlock()
	if !waiting { // answered meanwhile
		r := <-ch
		return r.msg, r.err
	}
	return nil, nats.ErrTimeout
}

// publishQueue publishes the queue until it is empty. One goroutine at a
// time runs it.
func (sd *sender) publishQueue() {
	for {
		sd.qmu.Lock()
		batch := sd.queue
		if len(batch) == 0 {
			sd.sending = false
			sd.qmu.Unlock()
			return
		}
		sd.queue, sd.spare = sd.spare[:0], batch
		sd.qmu.Unlock()
		for i, p := range batch {
			if err := sd.nc.PublishMsg(p.msg); err != nil {
				sd.fail(p.id, err)
			}
			batch[i] = pending{}
		}
	}
}

// fail gives err as the answer to request id.
func (sd *sender) fail(id uint64, err error) {
	sd.mu.Lock()
	ch := sd.waiting[id]
	delete(sd.waiting, id)
	sd.mu.Unlock()
	if ch != nil {
		ch <- reply{err: err}
	}
}

// close unsubscribes, and fails the requests still waiting.
func (sd *sender) close() {
	sd.mu.Lock()
	sd.closed = true
	waiting := sd.waiting
	sd.waiting = nil
	sd.mu.Unlock()
	for _, ch := range waiting {
		ch <- reply{err: errClosed}
	}
	_ = sd.sub.Unsubscribe()
}
