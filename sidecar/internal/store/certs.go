package store

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"
)

// The certificate store of /tyk/certs: PEM documents by certificate id
// (org id + SHA-256 fingerprint, as Tyk names them), in one hash.

// AddCert stores a certificate unless its id exists; added is false then.
func (s *Store) AddCert(ctx context.Context, id string, pem []byte) (added bool, err error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	return s.c.HSetNX(ctx, certsKey, id, pem).Result()
}

// Cert returns a certificate's PEM; ErrNotFound when there is none.
func (s *Store) Cert(ctx context.Context, id string) ([]byte, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	b, err := s.c.HGet(ctx, certsKey, id).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	return b, err
}

// Certs returns every certificate, id -> PEM.
func (s *Store) Certs(ctx context.Context) (map[string][]byte, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	m, err := s.c.HGetAll(ctx, certsKey).Result()
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(m))
	for id, v := range m {
		out[id] = []byte(v)
	}
	return out, nil
}

// DeleteCert removes a certificate; it reports whether it existed.
func (s *Store) DeleteCert(ctx context.Context, id string) (bool, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	n, err := s.c.HDel(ctx, certsKey, id).Result()
	return n > 0, err
}
