package shm

import (
	"encoding/binary"

	"github.com/turnpike-dev/turnpike/shared/quota"
)

// QuotaKey is the shared-data key of a locally counted quota ("open" failure
// mode: the sidecar is unreachable, requests are admitted and counted here
// so one proxy still cannot exceed the quota on its own).
func QuotaKey(keyHash, scope string) string { return "tp/q/" + keyHash + "/" + scope }

// Reserve takes one unit of a locally counted quota with the shared
// shared/quota rules, exactly once across VMs. now is unix seconds.
func Reserve(st Store, key string, quotaMax, renewalRate, now int64) (quota.Result, error) {
	var res quota.Result
	err := update(st, key, func(val []byte) ([]byte, bool) {
		var s quota.State
		if len(val) == 16 {
			s.Used = int64(binary.LittleEndian.Uint64(val[:8]))
			s.WindowEnd = int64(binary.LittleEndian.Uint64(val[8:]))
		}
		var next quota.State
		res, next = quota.Reserve(s, quotaMax, renewalRate, now, 1)
		if res.Granted == 0 || next == s {
			return nil, false
		}
		enc := binary.LittleEndian.AppendUint64(make([]byte, 0, 16), uint64(next.Used))
		return binary.LittleEndian.AppendUint64(enc, uint64(next.WindowEnd)), true
	})
	if err != nil {
		return quota.Result{}, err
	}
	return res, nil
}
