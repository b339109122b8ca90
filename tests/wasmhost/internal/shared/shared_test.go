package shared

import (
	"encoding/binary"
	"sync"
	"testing"
)

func TestSetCASRules(t *testing.T) {
	s := NewStore()
	if _, _, r := s.Get("vm", "k"); r != NotFound {
		t.Fatalf("get missing: %v", r)
	}
	// A set on a missing key succeeds whatever the cas.
	if r := s.Set("vm", []byte("k"), []byte("a"), 12345); r != OK {
		t.Fatalf("insert with cas: %v", r)
	}
	_, cas1, _ := s.Get("vm", "k")
	if cas1 == 0 {
		t.Fatal("cas must never be 0")
	}
	steps := []struct {
		name string
		cas  uint32
		want Result
	}{
		{"stale cas", cas1 + 100, CasMismatch},
		{"matching cas", cas1, OK},
		{"old cas after write", cas1, CasMismatch},
		{"cas 0 is unconditional", 0, OK},
	}
	for _, st := range steps {
		if r := s.Set("vm", []byte("k"), []byte(st.name), st.cas); r != st.want {
			t.Fatalf("%s: got %v, want %v", st.name, r, st.want)
		}
	}
	v, cas2, _ := s.Get("vm", "k")
	if string(v) != "cas 0 is unconditional" || cas2 <= cas1 {
		t.Fatalf("value %q cas %d (first %d)", v, cas2, cas1)
	}
	// vm_ids are separate namespaces.
	if _, _, r := s.Get("other", "k"); r != NotFound {
		t.Fatalf("other vm_id sees the key: %v", r)
	}
}

func TestCASWrapSkipsZero(t *testing.T) {
	s := NewStore()
	s.lastCAS = ^uint32(0) - 1
	s.Set("vm", []byte("a"), nil, 0)
	s.Set("vm", []byte("b"), nil, 0)
	_, a, _ := s.Get("vm", "a")
	_, b, _ := s.Get("vm", "b")
	if a != ^uint32(0) || b != 1 {
		t.Fatalf("cas a=%d b=%d, want max and 1", a, b)
	}
}

// Many writers doing the SDK's get/compute/set-with-cas loop must not lose an update.
func TestCASCounterContention(t *testing.T) {
	s := NewStore()
	const workers, per = 8, 500
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				for {
					v, cas, r := s.Get("vm", "n")
					var n uint64
					if r == OK {
						n = binary.LittleEndian.Uint64(v)
					}
					if s.Set("vm", []byte("n"), binary.LittleEndian.AppendUint64(nil, n+1), cas) == OK {
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	v, _, _ := s.Get("vm", "n")
	if got := binary.LittleEndian.Uint64(v); got != workers*per {
		t.Fatalf("counter = %d, want %d", got, workers*per)
	}
}

func TestQueues(t *testing.T) {
	s := NewStore()
	if _, r := s.ResolveQueue("vm", "q"); r != NotFound {
		t.Fatalf("resolve before register: %v", r)
	}
	id := s.RegisterQueue("vm", "q", "owner1")
	if got, r := s.ResolveQueue("vm", "q"); r != OK || got != id {
		t.Fatalf("resolve = %d %v", got, r)
	}
	if _, r := s.ResolveQueue("other", "q"); r != NotFound {
		t.Fatal("queue visible under another vm_id")
	}
	if _, r := s.Dequeue(id); r != Empty {
		t.Fatalf("dequeue empty: %v", r)
	}
	buf := []byte("one")
	owner, r := s.Enqueue(id, buf)
	if r != OK || owner != "owner1" {
		t.Fatalf("enqueue: %v %v", owner, r)
	}
	buf[0] = 'X' // the queue must hold a copy
	s.Enqueue(id, []byte("two"))
	if again := s.RegisterQueue("vm", "q", "owner2"); again != id {
		t.Fatalf("re-register gave new id %d", again)
	}
	if owner, _ := s.Enqueue(id, []byte("three")); owner != "owner2" {
		t.Fatalf("owner after re-register: %v", owner)
	}
	for _, want := range []string{"one", "two", "three"} {
		if got, r := s.Dequeue(id); r != OK || string(got) != want {
			t.Fatalf("dequeue = %q %v, want %q", got, r, want)
		}
	}
	if _, r := s.Dequeue(999); r != NotFound {
		t.Fatalf("dequeue unknown: %v", r)
	}
	if _, r := s.Enqueue(999, nil); r != NotFound {
		t.Fatalf("enqueue unknown: %v", r)
	}
}
