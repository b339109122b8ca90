package plugin

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"time"
)

// A write through the Gateway API must be in force for the very next
// request, but the VM learns of it at its next sync poll. So a request that
// finds no API, or a session naming a policy the snapshot lacks, or a key
// whose organisation the VM has not checked since the snapshot changed,
// waits for a poll sent after it arrived, which asks the sidecar to check
// its store first (fresh=1), and is then decided on what that poll brought.
// A stale "no such policy" never becomes a 403 for a policy that exists.
//
// Load stays bounded: one poll in flight per VM, fresh polls at most one
// per refresh_min_interval_ms (requests arriving meanwhile wait for the
// next allowed one or the next tick), and each request waits at most once.

// awaitFresh makes stream id wait for a configuration fetched from now on.
// It returns false if the stream cannot wait (the poll could not be sent):
// the caller decides with what it has.
func (r *Root) awaitFresh(id uint32) bool {
	r.sync.waiting = append(r.sync.waiting, id)
	if !r.sync.inFlight && r.freshDue() {
		r.poll(id)
		if !r.sync.inFlight {
			// Not sent: this stream decides now; others that were
			// waiting are resumed by the next tick.
			r.sync.waiting = r.sync.waiting[:len(r.sync.waiting)-1]
			return false
		}
	}
	return true
}

// freshDue reports whether a fresh poll may be sent now.
func (r *Root) freshDue() bool {
	return r.now()-r.sync.lastFresh >= int64(r.cfg.RefreshMinIntervalMS)*int64(time.Millisecond)
}

// resumeRiders resumes the streams a finished poll carried, then sends the
// next fresh poll if streams are waiting and it is due. A rider being
// resumed never waits again (each step waits at most once), so this ends.
func (r *Root) resumeRiders(riders []uint32) {
	for _, id := range riders {
		h := r.streams[id]
		if h == nil || r.host.SetContext(r.contextOf(id)) != nil {
			continue // the stream ended while it waited
		}
		h.resume()
	}
	if len(riders) > 0 {
		_ = r.host.SetContext(r.id)
	}
	if len(r.sync.waiting) > 0 && !r.sync.inFlight && r.freshDue() {
		r.poll(r.id)
	}
}

// pollOnTick is the tick's poll. When it cannot be sent, the streams waiting
// for a fresh configuration are resumed now rather than held.
func (r *Root) pollOnTick() {
	if r.sync.inFlight {
		return // a slow sidecar: not doubled up
	}
	r.poll(r.id)
	if !r.sync.inFlight && len(r.sync.waiting) > 0 {
		waiting := r.sync.waiting
		r.sync.waiting = nil
		r.resumeRiders(waiting)
	}
}

// newVMID returns a random id for this VM (16 hex digits). It needs to
// be unique, not secret: it comes from the runtime's generator (ChaCha8,
// seeded from WASI random_get when the VM starts), never from crypto/rand.
// crypto/rand's first read arms a one-minute warning timer
// (crypto/internal/sysrand.Read: time.AfterFunc), and a Go timer starts the
// runtime's network poller for good (runtime.(*timers).addHeap ->
// netpollGenericInit); from then on every garbage collection's
// startTheWorldWithSema calls netpoll(0), that is WASI poll_oneoff, which
// kills the VM on Envoys without proxy-wasm-cpp-host PR #533 (ENOSYS).
// TestFilterNeverCallsPollOneoff guards it.
func newVMID() string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], rand.Uint64())
	return hex.EncodeToString(b[:])
}
