// Package quota holds the quota window rules as pure functions. It is the
// specification the sidecar's Redis script implements and the arithmetic
// the filter uses when it counts locally ("open mode"), so both agree on
// every edge case.
//
// Rules (Tyk semantics §5, improved where noted):
//   - quotaMax <= 0 means unlimited: everything is granted and nothing is
//     counted.
//   - Exactly quotaMax units pass per renewal window.
//   - A window opens lazily, at the first reservation after the previous
//     one ended (not at key creation), and lasts renewalRate seconds. It
//     ends at WindowEnd exclusive: a reservation at WindowEnd opens a new
//     window.
//   - renewalRate <= 0 means the quota never renews: once used up it stays
//     used up until reset by an administrator.
//   - Rejected requests do not consume quota. (Tyk increments its counter
//     before comparing, so clients that keep retrying past the limit push
//     the counter beyond quota_max; Turnpike counts only what it grants.)
//   - When more units are asked for than remain, what remains is granted
//     (a partial grant); callers that need all-or-nothing check Granted.
package quota

// State is a quota counter. The zero value is an unused quota.
type State struct {
	Used int64 // units granted in the current window
	// WindowEnd is when the current window ends, in unix seconds; 0 means
	// no window is open (or, with renewalRate <= 0, that it never ends).
	WindowEnd int64
}

// Result is the outcome of a reservation.
type Result struct {
	Granted   int64 // units granted, 0..units
	Remaining int64 // units left in the window after this grant; -1 when unlimited
	ResetAt   int64 // unix seconds when the window ends; 0 when it never does (or unlimited)
}

// Reserve asks for units of quota at now (unix seconds) and returns the
// outcome and the state to store. A reservation of units <= 0 grants
// nothing and leaves the state untouched (use Peek to inspect).
func Reserve(s State, quotaMax, renewalRate, now, units int64) (Result, State) {
	if quotaMax <= 0 {
		return Result{Granted: max(units, 0), Remaining: -1}, s
	}
	if units <= 0 {
		return Peek(s, quotaMax, renewalRate, now), s
	}
	s = current(s, renewalRate, now)
	granted := min(units, max(quotaMax-s.Used, 0))
	s.Used += granted
	return Result{Granted: granted, Remaining: max(quotaMax-s.Used, 0), ResetAt: s.WindowEnd}, s
}

// Peek reports the remaining quota at now without reserving anything. For
// a window that has ended it reports a full quota and ResetAt 0, since the
// next window has not started yet.
func Peek(s State, quotaMax, renewalRate, now int64) Result {
	if quotaMax <= 0 {
		return Result{Remaining: -1}
	}
	if renewalRate > 0 && expired(s, now) {
		return Result{Remaining: quotaMax}
	}
	if renewalRate <= 0 {
		s.WindowEnd = 0
	}
	return Result{Remaining: max(quotaMax-s.Used, 0), ResetAt: s.WindowEnd}
}

// current returns the state of the window that now falls into, opening a
// new one when needed.
func current(s State, renewalRate, now int64) State {
	if renewalRate <= 0 {
		// Never renews: keep counting, and drop any end left over from a
		// time the quota did renew.
		return State{Used: s.Used}
	}
	if expired(s, now) {
		return State{WindowEnd: satAdd(now, renewalRate)}
	}
	return s
}

// expired reports whether no window is open at now. A counter without an
// end (left by a never-renewing configuration) counts as expired once the
// quota renews, like Tyk 5.6+ resetting a counter that has no TTL.
func expired(s State, now int64) bool {
	return s.WindowEnd == 0 || now >= s.WindowEnd
}

func satAdd(a, b int64) int64 {
	const maxInt64 = 1<<63 - 1
	if b > 0 && a > maxInt64-b {
		return maxInt64
	}
	return a + b
}

// LeaseShare is the divisor of LeaseUnits: a lease takes at most
// 1/LeaseShare of what remains in the window.
const LeaseShare = 8

// LeaseUnits is how many of asked units a lease may take when remaining
// units are left in the window: at most 1/LeaseShare of them, and at least
// one. Far from the limit this is what was asked; near it, leases shrink
// to one unit, so the last units are handed out one by one and no proxy
// sits on units another proxy's clients are refused. It never exceeds
// remaining (0 when nothing remains).
func LeaseUnits(asked, remaining int64) int64 {
	if asked <= 0 || remaining <= 0 {
		return 0
	}
	return min(asked, max(remaining/LeaseShare, 1))
}
