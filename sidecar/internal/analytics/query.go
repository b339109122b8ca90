package analytics

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Reader answers usage questions from the aggregates.
type Reader struct {
	Client  redis.UniversalClient
	Timeout time.Duration
}

// Point is one bucket of a series: its start (unix seconds) and counters
// (Fields; absent fields are zero).
type Point struct {
	T      int64            `json:"t"`
	Values map[string]int64 `json:"values"`
}

// Entry is one dimension value's counters summed over a range.
type Entry struct {
	ID     string           `json:"id"`
	Values map[string]int64 `json:"values"`
}

// Range is a question's time range: buckets of Res from From to To (unix
// seconds, both included).
type Range struct {
	Res      string
	From, To int64
}

// RangeError is a question whose range cannot be answered (400).
type RangeError string

func (e RangeError) Error() string { return string(e) }

// MaxBuckets bounds the buckets one question reads.
const MaxBuckets = 1500

// buckets lists the bucket starts of r.
func (r Range) buckets() ([]int64, error) {
	step := int64(resStep(r.Res) / time.Second)
	from := bucketStart(r.Res, time.Unix(r.From, 0))
	if r.To < r.From {
		return nil, RangeError("to is before from")
	}
	if (r.To-from)/step+1 > MaxBuckets {
		return nil, RangeError("range too long: at most " + strconv.Itoa(MaxBuckets) + " buckets; use res=hour")
	}
	var out []int64
	for b := from; b <= r.To; b += step {
		out = append(out, b)
	}
	return out, nil
}

// Series returns the counters of one dimension value (dim "all", id "":
// every request) for each bucket of r, empty buckets included.
func (q *Reader) Series(ctx context.Context, r Range, dim, id string) ([]Point, error) {
	bs, err := r.buckets()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, q.Timeout)
	defer cancel()
	pipe := q.Client.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(bs))
	for i, b := range bs {
		cmds[i] = pipe.HGetAll(ctx, HashKey(r.Res, b, dim, id))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make([]Point, len(bs))
	for i, b := range bs {
		out[i] = Point{T: b, Values: values(cmds[i].Val(), nil)}
	}
	return out, nil
}

// Top returns the n values of dim with the highest sum of field sort over
// r, highest first (ties by id).
func (q *Reader) Top(ctx context.Context, r Range, dim, sort string, n int) ([]Entry, error) {
	bs, err := r.buckets()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, q.Timeout)
	defer cancel()
	// The ids seen in the range, from each bucket's index.
	pipe := q.Client.Pipeline()
	idx := make([]*redis.StringSliceCmd, len(bs))
	for i, b := range bs {
		idx[i] = pipe.ZRange(ctx, IndexKey(r.Res, b, dim), 0, -1)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	type cell struct {
		id  string
		cmd *redis.MapStringStringCmd
	}
	var cells []cell
	pipe = q.Client.Pipeline()
	for i, b := range bs {
		for _, id := range idx[i].Val() {
			cells = append(cells, cell{id, pipe.HGetAll(ctx, HashKey(r.Res, b, dim, id))})
		}
	}
	if len(cells) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
	}
	sums := map[string]map[string]int64{}
	for _, c := range cells {
		sums[c.id] = values(c.cmd.Val(), sums[c.id])
	}
	out := make([]Entry, 0, len(sums))
	for id, v := range sums {
		out = append(out, Entry{ID: id, Values: v})
	}
	slices.SortFunc(out, func(a, b Entry) int {
		if a.Values[sort] != b.Values[sort] {
			if a.Values[sort] > b.Values[sort] {
				return -1
			}
			return 1
		}
		if a.ID < b.ID {
			return -1
		}
		return 1
	})
	if len(out) > n {
		out = out[:n]
	}
	return out, nil
}

// values adds a hash's counters to into (a new map when nil): sums add,
// maxima keep the larger.
func values(h map[string]string, into map[string]int64) map[string]int64 {
	if into == nil {
		into = map[string]int64{}
	}
	for f, s := range h {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			continue
		}
		if maxFields[f] {
			into[f] = max(into[f], v)
		} else {
			into[f] += v
		}
	}
	return into
}
