package plugin

import (
	"errors"

	"github.com/turnpike-dev/turnpike/filter/internal/shm"
	"github.com/turnpike-dev/turnpike/filter/proxywasm"
)

// hostStore is shm.Store over the host's shared data.
type hostStore struct{}

func (hostStore) Get(key string) ([]byte, uint32, error) {
	v, cas, err := proxywasm.GetSharedData(key)
	if errors.Is(err, proxywasm.ErrNotFound) {
		return nil, 0, shm.ErrNotFound
	}
	return v, cas, err
}

func (hostStore) Set(key string, value []byte, cas uint32) error {
	err := proxywasm.SetSharedData(key, value, cas)
	if errors.Is(err, proxywasm.ErrCasMismatch) {
		return shm.ErrCASMismatch
	}
	return err
}
