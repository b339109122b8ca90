package model

// Deep copies. The policy engine merges stored policies into a session; it
// works on copies so that a request can never change the shared policy set.
// The Clone methods are generated (clone_gen.go); these are their helpers.

func cloneMap[T any](m map[string]T, clone func(T) T) map[string]T {
	if m == nil {
		return nil
	}
	c := make(map[string]T, len(m))
	for k, v := range m {
		c[k] = clone(v)
	}
	return c
}

func cloneSlice[T any](s []T, clone func(T) T) []T {
	if s == nil {
		return nil
	}
	c := make([]T, len(s))
	for i, v := range s {
		c[i] = clone(v)
	}
	return c
}
