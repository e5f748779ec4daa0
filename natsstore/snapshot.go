package natsstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"

	"github.com/nats-io/nats.go/jetstream"

	"cookiestore/index"
	"cookiestore/record"
)

// The snapshot file: the index of one node with the stream sequence it
// reflects. Little-endian:
//
//	magic    [8]byte  "CSNATSv1"
//	stream   u16 length, bytes   the stream's name
//	prefix   u16 length, bytes   the subject prefix
//	created  i64                 the stream's creation time, Unix nanoseconds
//	seq      u64                 every message up to seq is in the index
//	count    u64                 the number of cookies that follow
//	cookies  count × (u32 length, payload): record.State, version 2
//	crc      u32                 CRC-32C of every byte before it
//
// It is a cache: a file that fails any check is ignored and the stream is
// replayed.
var snapMagic = [8]byte{'C', 'S', 'N', 'A', 'T', 'S', 'v', '1'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errSnapshot is wrapped by the reasons a snapshot is not used.
var errSnapshot = errors.New("snapshot not usable")

// writeSnapshot writes the index to the snapshot file, through a temporary
// file and a rename, so that a crash leaves the old file or the new one.
func (s *Store) writeSnapshot() error {
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	// Read the sequence before the index: cookies changed after it are
	// applied again when the stream is followed from seq+1, which gives
	// the same index.
	seq := s.applied.Load()
	if seq == s.snapSeq {
		return nil
	}
	var buf bytes.Buffer
	buf.Write(snapMagic[:])
	putString(&buf, s.opts.Stream)
	putString(&buf, s.opts.SubjectPrefix)
	buf.Write(binary.LittleEndian.AppendUint64(nil, uint64(s.created.UnixNano())))
	buf.Write(binary.LittleEndian.AppendUint64(nil, seq))
	countAt := buf.Len()
	buf.Write(make([]byte, 8))
	var count uint64
	var payload []byte
	for c := range s.idx.All() {
		ev := record.State(c)
		var err error
		if payload, err = record.AppendEvent(payload[:0], &ev); err != nil {
			return err
		}
		buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(payload))))
		buf.Write(payload)
		count++
	}
	b := buf.Bytes()
	binary.LittleEndian.PutUint64(b[countAt:], count)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))

	dir := filepath.Dir(s.opts.Snapshot)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, filepath.Base(s.opts.Snapshot)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.opts.Snapshot)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("snapshot %s: %w", s.opts.Snapshot, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	s.snapSeq = seq
	s.log.Info("nats store: snapshot written", "file", s.opts.Snapshot, "seq", seq, "cookies", count)
	return nil
}

func putString(buf *bytes.Buffer, s string) {
	buf.Write(binary.LittleEndian.AppendUint16(nil, uint16(len(s))))
	buf.WriteString(s)
}

// loadSnapshot loads the snapshot file into the index and returns the
// sequence it reflects, or 0 (replay from the start) when there is no
// usable snapshot.
func (s *Store) loadSnapshot(info *jetstream.StreamInfo) uint64 {
	seq, n, err := s.readSnapshot(info)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("nats store: replaying the whole stream", "snapshot", s.opts.Snapshot, "reason", err)
		}
		// The index may hold part of the file: start again empty.
		for c := range s.idx.All() {
			ev := record.Delete(c.Digest, record.ReasonUnspecified)
			s.apply(&ev)
		}
		return 0
	}
	s.snapSeq, s.snapLoaded = seq, n
	s.log.Info("nats store: snapshot loaded", "file", s.opts.Snapshot, "seq", seq, "cookies", n)
	return seq
}

func (s *Store) readSnapshot(info *jetstream.StreamInfo) (seq uint64, n int, err error) {
	b, err := os.ReadFile(s.opts.Snapshot)
	if err != nil {
		return 0, 0, err
	}
	bad := func(why string) (uint64, int, error) { return 0, 0, fmt.Errorf("%w: %s", errSnapshot, why) }
	if len(b) < len(snapMagic)+4 || !bytes.Equal(b[:len(snapMagic)], snapMagic[:]) {
		return bad("not a snapshot file")
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return bad("checksum mismatch")
	}
	r := body[len(snapMagic):]
	str := func() (string, bool) {
		if len(r) < 2 {
			return "", false
		}
		l := int(binary.LittleEndian.Uint16(r))
		if len(r) < 2+l {
			return "", false
		}
		v := string(r[2 : 2+l])
		r = r[2+l:]
		return v, true
	}
	stream, ok1 := str()
	prefix, ok2 := str()
	if !ok1 || !ok2 || len(r) < 24 {
		return bad("truncated header")
	}
	created := int64(binary.LittleEndian.Uint64(r))
	seq = binary.LittleEndian.Uint64(r[8:])
	count := binary.LittleEndian.Uint64(r[16:])
	r = r[24:]
	switch {
	case stream != s.opts.Stream || prefix != s.opts.SubjectPrefix:
		return bad(fmt.Sprintf("it is of stream %s, prefix %s", stream, prefix))
	case created != info.Created.UnixNano():
		return bad("the stream was created again since")
	case seq > info.State.LastSeq:
		return bad(fmt.Sprintf("it is at sequence %d, past the stream's last, %d", seq, info.State.LastSeq))
	case count > uint64(len(r))/5:
		return bad("count larger than the file")
	}
	s.idx.Reserve(index.Size{Cookies: int(count)})
	now := s.now().UnixNano()
	// The events are parsed where they lie in the file, which the index
	// copies what it keeps from: no allocation per cookie.
	batch := make([]record.View, 0, 1024)
	for i := uint64(0); i < count; i++ {
		if len(r) < 4 {
			return bad("truncated")
		}
		l := int(binary.LittleEndian.Uint32(r))
		if len(r) < 4+l {
			return bad("truncated")
		}
		batch = batch[:len(batch)+1]
		v := &batch[len(batch)-1]
		if err := record.Parse(r[4:4+l], record.V2, v); err != nil || v.Kind != record.KindCookie {
			return bad(fmt.Sprintf("cookie %d: %v", i, err))
		}
		r = r[4+l:]
		if v.Created+v.MaxAge <= now { // expired since the snapshot
			batch = batch[:len(batch)-1]
			continue
		}
		if len(batch) == cap(batch) {
			s.idx.ApplyAll(batch)
			batch = batch[:0]
		}
		n++
	}
	s.idx.ApplyAll(batch)
	if len(r) != 0 {
		return bad("bytes after the last cookie")
	}
	s.applied.Store(seq)
	return seq, n, nil
}
