package model

import (
	"maps"
	"slices"
)

// Deep copies. The policy engine merges stored policies into a session; it
// works on copies so that a request can never change the shared policy set.

// Clone returns a deep copy of s.
func (s *Session) Clone() *Session {
	if s == nil {
		return nil
	}
	c := *s
	c.AccessRights = cloneRights(s.AccessRights)
	c.OauthKeys = maps.Clone(s.OauthKeys)
	c.ApplyPolicies = slices.Clone(s.ApplyPolicies)
	c.Monitor.TriggerLimits = slices.Clone(s.Monitor.TriggerLimits)
	c.MetaData = cloneMeta(s.MetaData)
	c.Tags = slices.Clone(s.Tags)
	c.Smoothing = s.Smoothing.Clone()
	return &c
}

// Clone returns a deep copy of p.
func (p *Policy) Clone() *Policy {
	if p == nil {
		return nil
	}
	c := *p
	c.AccessRights = cloneRights(p.AccessRights)
	c.Tags = slices.Clone(p.Tags)
	c.MetaData = cloneMeta(p.MetaData)
	c.Smoothing = p.Smoothing.Clone()
	return &c
}

// Clone returns a deep copy of a.
func (a AccessDefinition) Clone() AccessDefinition {
	a.Versions = slices.Clone(a.Versions)
	a.AllowedURLs = cloneSlice(a.AllowedURLs, AccessSpec.Clone)
	a.RestrictedTypes = cloneSlice(a.RestrictedTypes, GraphQLType.Clone)
	a.AllowedTypes = cloneSlice(a.AllowedTypes, GraphQLType.Clone)
	a.Limit = a.Limit.Clone()
	a.FieldAccessRights = slices.Clone(a.FieldAccessRights)
	a.Endpoints = cloneSlice(a.Endpoints, Endpoint.Clone)
	return a
}

// Clone returns a deep copy of l.
func (l APILimit) Clone() APILimit {
	l.Smoothing = l.Smoothing.Clone()
	return l
}

// Clone returns a copy of s (nil stays nil).
func (s *Smoothing) Clone() *Smoothing {
	if s == nil {
		return nil
	}
	c := *s
	return &c
}

// Clone returns a deep copy of a.
func (a AccessSpec) Clone() AccessSpec {
	a.Methods = slices.Clone(a.Methods)
	return a
}

// Clone returns a deep copy of t.
func (t GraphQLType) Clone() GraphQLType {
	t.Fields = slices.Clone(t.Fields)
	return t
}

// Clone returns a deep copy of e.
func (e Endpoint) Clone() Endpoint {
	e.Methods = slices.Clone(e.Methods)
	return e
}

// Clone returns a deep copy of a.
func (a *APIDefinition) Clone() *APIDefinition {
	if a == nil {
		return nil
	}
	c := *a
	c.VersionData.Versions = maps.Clone(a.VersionData.Versions)
	return &c
}

func cloneRights(m map[string]AccessDefinition) map[string]AccessDefinition {
	if m == nil {
		return nil
	}
	c := make(map[string]AccessDefinition, len(m))
	for k, v := range m {
		c[k] = v.Clone()
	}
	return c
}

func cloneMeta(m map[string]RawValue) map[string]RawValue {
	if m == nil {
		return nil
	}
	c := make(map[string]RawValue, len(m))
	for k, v := range m {
		c[k] = slices.Clone(v)
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
