package wasmhost

import (
	"compress/gzip"
	"context"
	"encoding/binary"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// Profile attributes the time spent inside the VMs to guest functions and
// host calls (Config.Profile). A CPU profile of the host process shows the
// guest as one opaque block (runtime._ExternalCode); this one sees every
// call through wazero's function listeners: each guest function, each
// host import (env.proxy_*, wasi_snapshot_preview1.*) and each call the
// host makes back into the guest (proxy_on_memory_allocate under a host
// call) is a frame, with its call stack.
//
// Call counts are exact. Times include the listener's own cost (a few
// tens of ns per call, which inflates functions that make many small
// calls) and the module runs slower while profiled: compare times within
// one profile, never with an unprofiled benchmark.
//
// One Profile may serve several hosts; it is safe for concurrent use.
type Profile struct {
	mu    sync.Mutex
	root  profNode
	epoch time.Time
}

type profNode struct {
	fn       int32
	children map[int32]*profNode
	calls    int64
	self     int64 // ns, children excluded
}

// profStack is one VM's stack of open calls (a VM runs one call at a time).
type profStack struct {
	frames []profFrame
}

type profFrame struct {
	node  *profNode
	start int64 // ns since the profile's epoch
	child int64 // ns spent in calls made by this one
}

// NewProfile returns an empty profile, to set as Config.Profile.
func NewProfile() *Profile {
	return &Profile{epoch: time.Now()}
}

// Reset forgets everything recorded so far (e.g. after a warm-up), keeping
// the calls that are open.
func (p *Profile) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	var reset func(n *profNode)
	reset = func(n *profNode) {
		n.calls, n.self = 0, 0
		for _, c := range n.children {
			reset(c)
		}
	}
	reset(&p.root)
}

// FuncStat is one function's share of a profile.
type FuncStat struct {
	Name  string
	Calls int64
	Self  time.Duration // time in the function itself
}

// Functions lists every function called, most self time first.
func (p *Profile) Functions() []FuncStat {
	p.mu.Lock()
	defer p.mu.Unlock()
	by := map[int32]*FuncStat{}
	var walk func(n *profNode)
	walk = func(n *profNode) {
		for _, c := range n.children {
			s := by[c.fn]
			if s == nil {
				s = &FuncStat{Name: funcName(c.fn)}
				by[c.fn] = s
			}
			s.Calls += c.calls
			s.Self += time.Duration(c.self)
			walk(c)
		}
	}
	walk(&p.root)
	out := make([]FuncStat, 0, len(by))
	for _, s := range by {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Self != out[j].Self {
			return out[i].Self > out[j].Self
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// The listeners are compiled into the module's code, and wazero reuses compiled modules across
// runtimes that share a compilation cache (in memory, keyed by the module and the presence of
// listeners): a listener must therefore not belong to one Profile. It carries a process-wide
// function id and finds the profile through the VM it runs in.
var funcNames struct {
	mu    sync.Mutex
	names []string
	ids   map[string]int32
}

func funcID(name string) int32 {
	funcNames.mu.Lock()
	defer funcNames.mu.Unlock()
	id, ok := funcNames.ids[name]
	if !ok {
		if funcNames.ids == nil {
			funcNames.ids = map[string]int32{}
		}
		id = int32(len(funcNames.names))
		funcNames.names = append(funcNames.names, name)
		funcNames.ids[name] = id
	}
	return id
}

func funcName(id int32) string {
	funcNames.mu.Lock()
	defer funcNames.mu.Unlock()
	return funcNames.names[id]
}

var listenerFactory = experimental.FunctionListenerFactoryFunc(func(def api.FunctionDefinition) experimental.FunctionListener {
	name := def.Name()
	if name == "" {
		name = def.DebugName()
	}
	if mod, imp, ok := def.Import(); ok {
		name = mod + "." + imp
	} else if def.ModuleName() != "" {
		name = def.ModuleName() + "." + name // a host module's own function
	}
	return &profListener{fn: funcID(name)}
})

// withProfile returns ctx carrying the profiling listener factory, or ctx itself without a
// profile.
func (p *Profile) withProfile(ctx context.Context) context.Context {
	if p == nil {
		return ctx
	}
	return experimental.WithFunctionListenerFactory(ctx, listenerFactory)
}

type profListener struct {
	fn int32
}

// stack is the calling VM's open calls and the profile they go to.
func (l *profListener) stack(ctx context.Context) (*profStack, *Profile) {
	vm, _ := ctx.Value(vmKey{}).(*VM)
	if vm == nil || vm.h.cfg.Profile == nil {
		return nil, nil // a call outside any VM's context (none expected)
	}
	return &vm.prof, vm.h.cfg.Profile
}

func (l *profListener) Before(ctx context.Context, _ api.Module, _ api.FunctionDefinition, _ []uint64, _ experimental.StackIterator) {
	s, p := l.stack(ctx)
	if s == nil {
		return
	}
	p.mu.Lock()
	parent := &p.root
	if n := len(s.frames); n > 0 {
		parent = s.frames[n-1].node
	}
	node := parent.children[l.fn]
	if node == nil {
		if parent.children == nil {
			parent.children = map[int32]*profNode{}
		}
		node = &profNode{fn: l.fn}
		parent.children[l.fn] = node
	}
	p.mu.Unlock()
	s.frames = append(s.frames, profFrame{node: node, start: int64(time.Since(p.epoch))})
}

func (l *profListener) After(ctx context.Context, _ api.Module, _ api.FunctionDefinition, _ []uint64) {
	l.end(ctx)
}

func (l *profListener) Abort(ctx context.Context, _ api.Module, _ api.FunctionDefinition, _ error) {
	l.end(ctx)
}

func (l *profListener) end(ctx context.Context) {
	s, p := l.stack(ctx)
	if s == nil || len(s.frames) == 0 {
		return
	}
	now := int64(time.Since(p.epoch))
	f := s.frames[len(s.frames)-1]
	s.frames = s.frames[:len(s.frames)-1]
	elapsed := now - f.start
	if n := len(s.frames); n > 0 {
		s.frames[n-1].child += elapsed
	}
	p.mu.Lock()
	f.node.calls++
	f.node.self += elapsed - f.child
	p.mu.Unlock()
}

// WritePprof writes the profile in pprof's format (gzipped profile.proto),
// for `go tool pprof`: sample values "calls" (count) and "self"
// (nanoseconds), one sample per distinct call stack.
func (p *Profile) WritePprof(w io.Writer) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b pbuf
	strs := map[string]int64{"": 0}
	tab := []string{""}
	str := func(s string) int64 {
		if i, ok := strs[s]; ok {
			return i
		}
		strs[s] = int64(len(tab))
		tab = append(tab, s)
		return int64(len(tab) - 1)
	}
	valueType := func(field int, typ, unit string) {
		var m pbuf
		m.varintField(1, uint64(str(typ)))
		m.varintField(2, uint64(str(unit)))
		b.bytesField(field, m)
	}
	valueType(1, "calls", "count")
	valueType(1, "self", "nanoseconds")
	// Each function called gets a location and a function with the same id (its process-wide
	// id + 1).
	seen := map[int32]bool{}
	var walk func(n *profNode, stack []uint64)
	walk = func(n *profNode, stack []uint64) {
		for _, fn := range sortedChildren(n) {
			c := n.children[fn]
			seen[c.fn] = true
			st := append([]uint64{uint64(c.fn) + 1}, stack...) // leaf first
			if c.calls > 0 || c.self > 0 {
				var s, ids, vals pbuf
				for _, id := range st {
					ids.varint(id)
				}
				s.bytesField(1, ids)
				vals.varint(uint64(c.calls))
				vals.varint(uint64(c.self))
				s.bytesField(2, vals)
				b.bytesField(2, s)
			}
			walk(c, st)
		}
	}
	walk(&p.root, nil)
	fns := make([]int32, 0, len(seen))
	for fn := range seen {
		fns = append(fns, fn)
	}
	sort.Slice(fns, func(i, j int) bool { return fns[i] < fns[j] })
	for _, fn := range fns {
		id := uint64(fn) + 1
		var loc, line pbuf
		line.varintField(1, id)
		loc.varintField(1, id)
		loc.bytesField(4, line)
		b.bytesField(4, loc)
		var f pbuf
		name := uint64(str(funcName(fn)))
		f.varintField(1, id)
		f.varintField(2, name)
		f.varintField(3, name)
		b.bytesField(5, f)
	}
	for _, s := range tab {
		b.bytesField(6, pbuf(s))
	}
	b.varintField(9, uint64(p.epoch.UnixNano()))
	zw := gzip.NewWriter(w)
	if _, err := zw.Write(b); err != nil {
		return err
	}
	return zw.Close()
}

func sortedChildren(n *profNode) []int32 {
	fns := make([]int32, 0, len(n.children))
	for fn := range n.children {
		fns = append(fns, fn)
	}
	sort.Slice(fns, func(i, j int) bool { return fns[i] < fns[j] })
	return fns
}

// pbuf is the little of protobuf's wire format profile.proto needs.
type pbuf []byte

func (b *pbuf) varint(v uint64) { *b = binary.AppendUvarint(*b, v) }

func (b *pbuf) varintField(field int, v uint64) {
	b.varint(uint64(field) << 3)
	b.varint(v)
}

func (b *pbuf) bytesField(field int, v []byte) {
	b.varint(uint64(field)<<3 | 2)
	b.varint(uint64(len(v)))
	*b = append(*b, v...)
}
