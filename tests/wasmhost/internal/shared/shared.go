// Package shared implements the host side of proxy-wasm shared data and shared queues with
// Envoy's (proxy-wasm-cpp-host's) rules. One Store stands for one proxy process: all VMs of a
// host share it, partitioned by vm_id.
package shared

import (
	"sync"
)

// Result mirrors the proxy_status_t values these operations can produce.
type Result int

// Results.
const (
	OK Result = iota
	NotFound
	CasMismatch
	Empty
)

type entry struct {
	value []byte
	cas   uint32
}

type queue struct {
	vmID  string
	name  string
	owner any // who gets proxy_on_queue_ready; opaque to this package
	items [][]byte
}

// Store holds shared data and queues.
type Store struct {
	mu      sync.Mutex
	data    map[string]map[string]*entry // vm_id -> key -> entry
	lastCAS uint32

	queues    map[uint32]*queue
	queueIDs  map[[2]string]uint32 // (vm_id, name) -> id
	nextQueue uint32
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{
		data:     map[string]map[string]*entry{},
		queues:   map[uint32]*queue{},
		queueIDs: map[[2]string]uint32{},
	}
}

// nextCAS follows cpp-host: one counter for the whole store, starting at 1 and skipping 0 on wrap,
// because 0 means "no CAS check" to the guest.
func (s *Store) nextCAS() uint32 {
	s.lastCAS++
	if s.lastCAS == 0 {
		s.lastCAS = 1
	}
	return s.lastCAS
}

// Get returns a copy of the value under key with its CAS number.
func (s *Store) Get(vmID, key string) (value []byte, cas uint32, res Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.data[vmID][key]
	if !ok {
		return nil, 0, NotFound
	}
	return append([]byte(nil), e.value...), e.cas, OK
}

// View calls fn with the stored value without copying it; fn must not keep the slice. The key is
// a byte slice so the host can look up a key read from guest memory without allocating.
func (s *Store) View(vmID string, key []byte, fn func(value []byte, cas uint32)) Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.data[vmID][string(key)]
	if !ok {
		return NotFound
	}
	fn(e.value, e.cas)
	return OK
}

// Set stores value under key. cas 0 writes unconditionally; a non-zero cas must equal the current
// entry's CAS; a missing key is always inserted. The value is copied.
// The key is only copied when it is inserted.
func (s *Store) Set(vmID string, key []byte, value []byte, cas uint32) Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.data[vmID]
	if m == nil {
		m = map[string]*entry{}
		s.data[vmID] = m
	}
	e, ok := m[string(key)]
	if ok && cas != 0 && cas != e.cas {
		return CasMismatch
	}
	if !ok {
		e = &entry{}
		m[string(key)] = e
	}
	// Reuse the old backing array when it fits: a counter rewritten on every request should
	// not allocate on every request.
	e.value = append(e.value[:0], value...)
	e.cas = s.nextCAS()
	return OK
}

// Keys returns the keys stored for vmID, in no particular order.
func (s *Store) Keys(vmID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.data[vmID]))
	for k := range s.data[vmID] {
		keys = append(keys, k)
	}
	return keys
}

// RegisterQueue creates the queue (vmID, name) or, as cpp-host does, re-registers an existing
// one to the new owner, keeping its id and contents.
func (s *Store) RegisterQueue(vmID, name string, owner any) uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{vmID, name}
	if id, ok := s.queueIDs[k]; ok {
		s.queues[id].owner = owner
		return id
	}
	s.nextQueue++
	id := s.nextQueue
	s.queueIDs[k] = id
	s.queues[id] = &queue{vmID: vmID, name: name, owner: owner}
	return id
}

// ResolveQueue finds the id of a registered queue.
func (s *Store) ResolveQueue(vmID, name string) (uint32, Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.queueIDs[[2]string{vmID, name}]
	if !ok {
		return 0, NotFound
	}
	return id, OK
}

// Enqueue appends a copy of data and returns the queue's owner, whom the caller must notify.
func (s *Store) Enqueue(id uint32, data []byte) (owner any, res Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[id]
	if !ok {
		return nil, NotFound
	}
	q.items = append(q.items, append([]byte(nil), data...))
	return q.owner, OK
}

// Dequeue removes and returns the oldest item.
func (s *Store) Dequeue(id uint32) ([]byte, Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[id]
	if !ok {
		return nil, NotFound
	}
	if len(q.items) == 0 {
		return nil, Empty
	}
	item := q.items[0]
	q.items[0] = nil
	q.items = q.items[1:]
	return item, OK
}
