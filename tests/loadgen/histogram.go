package loadgen

import (
	"math/bits"
	"time"
)

// subBits sets the histogram's precision: 2^subBits buckets per power of two, so a recorded
// value is reported within 1/128 (< 0.8 %) of what was measured, over the whole int64 range,
// in a fixed 58 KiB.
const subBits = 7

const (
	subCount   = 1 << subBits
	numBuckets = subCount + (64-subBits-1)*subCount
)

// Histogram records latencies with bounded relative error (HDR-histogram style: log-linear
// buckets). The zero value is empty and ready to use; it is not safe for concurrent use, so
// each load-generating connection keeps its own and they are merged at the end.
type Histogram struct {
	counts   [numBuckets]uint64
	count    uint64
	sum      time.Duration
	min, max time.Duration
}

func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1
	return subCount + shift*subCount + int(v>>shift) - subCount
}

// bucketMid is the middle of bucket i's value range, what a quantile falling in it reports.
func bucketMid(i int) uint64 {
	if i < subCount {
		return uint64(i)
	}
	shift := (i - subCount) / subCount
	top := uint64(i-subCount-shift*subCount) + subCount
	lo := top << shift
	return lo + (uint64(1)<<shift)/2
}

// Record adds one observation; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	if h.count == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.count++
	h.sum += d
}

// Merge adds every observation of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.count == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.count == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.count += o.count
	h.sum += o.sum
}

// Count is the number of observations.
func (h *Histogram) Count() uint64 { return h.count }

// Mean is the average observation (0 when empty).
func (h *Histogram) Mean() time.Duration {
	if h.count == 0 {
		return 0
	}
	return h.sum / time.Duration(h.count)
}

// Max is the largest observation, exact.
func (h *Histogram) Max() time.Duration { return h.max }

// Quantile returns the q-quantile (0 < q <= 1; 0.5 is the median, 0.99 the p99): the smallest
// recorded value that at least q of the observations do not exceed, to within the bucket
// precision and clamped to the exact min and max. It is 0 when empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.count == 0 {
		return 0
	}
	rank := uint64(q*float64(h.count) + 0.5)
	rank = max(rank, 1)
	rank = min(rank, h.count)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := time.Duration(bucketMid(i))
			return min(max(v, h.min), h.max)
		}
	}
	return h.max
}
