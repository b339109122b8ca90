package shm

import (
	"encoding/binary"
	"math"
)

// Quota leases: units of a quota the sidecar granted to this proxy, spent
// by all its VMs through one shared-data entry updated with
// compare-and-swap, so every unit is spent at most once. A unit is only
// spent while the entry's window is open (by the filter's clock, counted
// from before the sidecar granted it), for the limit it was granted
// against.
//
// "tp/l/<id>" holds
//
//	version byte (2) | 13 little-endian int64: Left, WindowID, Deadline, Max,
//	Rate, Remaining, Reset, GrantedAt, Expires, Pending, Spent, PrevSpent,
//	PrevElapsed

// LeaseKey is the shared-data key of a key's lease (per key hash and
// allowance scope).
func LeaseKey(keyHash, scope string) string { return "tp/l/" + keyHash + "/" + scope }

// OrgLeaseKey is the shared-data key of an organisation's lease.
func OrgLeaseKey(orgID string) string { return "tp/lo/" + orgID }

// Lease is the state of one lease.
type Lease struct {
	Left      int64 // units this proxy may still spend
	WindowID  int64 // the sidecar's window id (window end, unix s)
	Deadline  int64 // unix ns: the units are void from then (the window may have ended)
	Max       int64 // quota_max the units were granted against
	Rate      int64 // quota_renewal_rate they were granted against
	Remaining int64 // the sidecar's count of units left after the last grant
	Reset     int64 // window end, unix s (for headers)
	GrantedAt int64 // unix ns of the last grant
	Expires   int64 // unix ns: unspent units go back from then (last grant or spend + TTL)
	Pending   int64 // unix ns a refill was asked at by some VM; 0 = none
	Spent     int64 // units spent since GrantedAt (the rate estimate)
	// PrevSpent units were spent in the PrevElapsed ns before GrantedAt:
	// the previous period, so that the estimate right after a grant is
	// not one request over a few milliseconds.
	PrevSpent   int64
	PrevElapsed int64
}

const (
	leaseVersion = 2
	leaseFields  = 13
	leaseSize    = 1 + leaseFields*8
)

func (l *Lease) fields() [leaseFields]*int64 {
	return [leaseFields]*int64{&l.Left, &l.WindowID, &l.Deadline, &l.Max, &l.Rate, &l.Remaining, &l.Reset,
		&l.GrantedAt, &l.Expires, &l.Pending, &l.Spent, &l.PrevSpent, &l.PrevElapsed}
}

// AppendLease appends the encoding of l.
func AppendLease(dst []byte, l Lease) []byte {
	dst = append(dst, leaseVersion)
	for _, f := range l.fields() {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(*f))
	}
	return dst
}

// DecodeLease decodes an entry; junk or an empty entry is no lease.
func DecodeLease(b []byte) (Lease, bool) {
	var l Lease
	if len(b) != leaseSize || b[0] != leaseVersion {
		return Lease{}, false
	}
	for i, f := range l.fields() {
		*f = int64(binary.LittleEndian.Uint64(b[1+8*i:]))
	}
	return l, true
}

// Usable reports whether the lease's units may be spent at now for a limit
// of quotaMax per renewalRate seconds.
func (l *Lease) Usable(quotaMax, renewalRate, now int64) bool {
	return l.Left > 0 && l.Max == quotaMax && l.Rate == renewalRate && now < l.Deadline && now < l.Expires
}

// Leftover is units taken off a lease that should go back to the sidecar
// (window WindowID); Units 0 means nothing to give back.
type Leftover struct {
	Units    int64
	WindowID int64
}

// leftover returns what of l may go back at now: nothing once its window
// may have ended.
func (l *Lease) leftover(now int64) Leftover {
	if l.Left <= 0 || now >= l.Deadline {
		return Leftover{}
	}
	return Leftover{Units: l.Left, WindowID: l.WindowID}
}

// Spend is the outcome of SpendLease.
type Spend struct {
	// Spent: one unit was taken; Remaining is what the quota has left
	// after it as far as this proxy knows (the sidecar's count plus
	// this proxy's unspent units).
	Spent     bool
	Remaining int64
	Reset     int64
	WindowID  int64 // the window of the unit spent
	// Refill: the caller should ask the sidecar for Ask more units now
	// (without holding the request): the lease is running low, and no
	// other VM is already asking.
	Refill bool
	// Ask is how many units a new lease should ask for.
	Ask int64
	// Void: units that could not be spent (another limit, expired) were
	// taken off the lease; they should go back to the sidecar.
	Void Leftover
}

// LeasePolicy sizes leases: a lease asks for the units the proxy spends in
// Cover (ns) at its recent rate, between 1 and MaxUnits; a refill is asked
// when what is left lasts less than a quarter of Cover. A lease expires
// (its units go back) TTL (ns) after it was last granted or spent from.
// PendingTimeout (ns) is how long a refill asked by a VM keeps others from
// asking.
type LeasePolicy struct {
	Cover          int64
	MaxUnits       int64
	TTL            int64
	PendingTimeout int64
}

// ask is the size of the next lease at now: the units spent since the
// last grant and in the period before it, over the time they took, times
// Cover.
func (p LeasePolicy) ask(l *Lease, now int64) int64 {
	spent := l.Spent + l.PrevSpent
	if l.GrantedAt == 0 || spent == 0 {
		return 1
	}
	elapsed := max(now-l.GrantedAt+l.PrevElapsed, int64(10e6)) // at least 10 ms: no absurd rate from one burst
	if spent > math.MaxInt64/p.Cover {
		return p.MaxUnits
	}
	want := (spent*p.Cover + elapsed - 1) / elapsed
	return min(max(want, 1), p.MaxUnits)
}

// SpendLease takes one unit of the lease at key for a limit of quotaMax
// per renewalRate seconds, exactly once across VMs. When no unit can be
// spent, Spent is false and the caller must ask the sidecar (Ask units)
// while the request waits.
func SpendLease(st Store, sc *Scratch, key string, quotaMax, renewalRate, now int64, p LeasePolicy) (Spend, error) {
	var out Spend
	err := update(st, key, func(val []byte) ([]byte, bool) {
		out = Spend{}
		l, _ := DecodeLease(val)
		out.Ask = p.ask(&l, now)
		if !l.Usable(quotaMax, renewalRate, now) {
			// The request must ask. Only one asks for a full lease at a
			// time (Pending); the others ask for their own unit, so a
			// burst of waiting requests does not pile up leases this
			// proxy would hold on to.
			if l.Pending != 0 && now-l.Pending <= p.PendingTimeout {
				out.Ask = 1
			} else {
				l.Pending = now
			}
			out.Void = l.leftover(now)
			l.Left = 0
			return sc.lease(l), true
		}
		l.Left--
		l.Spent++
		l.Expires = now + p.TTL
		out.Spent, out.Remaining, out.Reset, out.WindowID = true, l.Remaining+l.Left, l.Reset, l.WindowID
		// Refill ahead when what is left lasts less than a quarter of
		// Cover at the current rate. A key used about once per Cover asks
		// one unit at a time, when it needs it: refilling ahead would
		// leave a unit to give back for every request.
		out.Ask = p.ask(&l, now)
		if out.Ask > 1 && l.Left*4 < out.Ask && (l.Pending == 0 || now-l.Pending > p.PendingTimeout) {
			l.Pending = now
			out.Refill = true
		}
		return sc.lease(l), true
	})
	return out, err
}

// Grant is a sidecar's answer to a lease request sent at SentAt (unix ns).
type Grant struct {
	Units     int64
	WindowID  int64
	WindowMS  int64
	Remaining int64
	Reset     int64
	Max       int64
	Rate      int64
	SentAt    int64
}

// MergeLease adds a grant to the lease at key. With take, one unit of it is
// spent at once (the request that waited for it); Spent says whether one
// was. Units of the stored lease that belong to another window or limit are
// taken off and returned as Void. ttl (ns) is how long unspent units stay
// before they go back.
func MergeLease(st Store, sc *Scratch, key string, g Grant, take bool, now, ttl int64) (out Spend, err error) {
	err = update(st, key, func(val []byte) ([]byte, bool) {
		out = Spend{}
		l, _ := DecodeLease(val)
		deadline := g.SentAt + g.WindowMS*1e6
		if l.WindowID != g.WindowID || l.Max != g.Max || l.Rate != g.Rate || now >= l.Deadline {
			out.Void = l.leftover(now)
			l = Lease{WindowID: g.WindowID, Max: g.Max, Rate: g.Rate}
		}
		if l.GrantedAt != 0 {
			l.PrevSpent, l.PrevElapsed = l.Spent, max(now-l.GrantedAt, 0)
		}
		l.Left += g.Units
		l.Deadline = deadline
		l.Remaining, l.Reset = g.Remaining, g.Reset
		l.GrantedAt, l.Expires, l.Pending, l.Spent = now, now+ttl, 0, 0
		if take && l.Left > 0 && now < l.Deadline {
			l.Left--
			l.Spent++
			out.Spent = true
		}
		out.Remaining, out.Reset, out.WindowID = l.Remaining+l.Left, l.Reset, l.WindowID
		return sc.lease(l), true
	})
	return out, err
}

// ClearPending forgets a refill that failed, so another can be asked.
func ClearPending(st Store, sc *Scratch, key string) error {
	return update(st, key, func(val []byte) ([]byte, bool) {
		l, ok := DecodeLease(val)
		if !ok || l.Pending == 0 {
			return nil, false
		}
		l.Pending = 0
		return sc.lease(l), true
	})
}

// DrainLease takes every unit off the lease at key when drain says so (nil:
// always) and returns what should go back to the sidecar.
func DrainLease(st Store, sc *Scratch, key string, now int64, drain func(*Lease) bool) (Leftover, error) {
	var out Leftover
	err := update(st, key, func(val []byte) ([]byte, bool) {
		out = Leftover{}
		l, ok := DecodeLease(val)
		if !ok || l.Left == 0 || (drain != nil && !drain(&l)) {
			return nil, false
		}
		out = l.leftover(now)
		l.Left = 0
		return sc.lease(l), true
	})
	return out, err
}

// GiveBack returns one unit spent from the lease at key (for a request that
// was refused after taking it), if the lease still holds units of that
// window; otherwise the unit is given back to the sidecar by the caller
// (the returned Leftover).
func GiveBack(st Store, sc *Scratch, key string, windowID, now int64) (Leftover, error) {
	back := false
	err := update(st, key, func(val []byte) ([]byte, bool) {
		l, ok := DecodeLease(val)
		back = ok && l.WindowID == windowID && now < l.Deadline
		if !back {
			return nil, false
		}
		l.Left++
		l.Spent = max(l.Spent-1, 0)
		return sc.lease(l), true
	})
	if err != nil || back {
		return Leftover{}, err
	}
	return Leftover{Units: 1, WindowID: windowID}, nil
}

// lease encodes l into the scratch buffer.
func (sc *Scratch) lease(l Lease) []byte {
	sc.buf = AppendLease(sc.buf[:0], l)
	return sc.buf
}
