package policy

import (
	"slices"

	"github.com/turnpike-dev/turnpike/shared/model"
)

// mergeACL merges the ACL part of a policy's access definition src into the
// accumulated entry dst (Tyk 5.9+/latest 5.8.x rules): everything is a union,
// in first-seen order. dst's slices belong to the engine and are extended in
// place; nothing of src is ever aliased, so the stored policy stays untouched.
//
// api_id, api_name, limit and allowance_scope of src are deliberately not
// copied (5.7+): with non-per-API policies only policy-level values count.
func mergeACL(dst *model.AccessDefinition, src *model.AccessDefinition) {
	if src.DisableIntrospection {
		dst.DisableIntrospection = true
	}
	dst.Versions = appendMissing(dst.Versions, src.Versions...)
	dst.AllowedURLs = mergeAllowedURLs(dst.AllowedURLs, src.AllowedURLs)
	dst.RestrictedTypes = mergeTypes(dst.RestrictedTypes, src.RestrictedTypes)
	dst.AllowedTypes = mergeTypes(dst.AllowedTypes, src.AllowedTypes)
	dst.FieldAccessRights = mergeFieldAccess(dst.FieldAccessRights, src.FieldAccessRights)
}

// appendMissing appends each of in that dst does not hold yet.
func appendMissing(dst []string, in ...string) []string {
	for _, v := range in {
		if !slices.Contains(dst, v) {
			dst = append(dst, v)
		}
	}
	return dst
}

// mergeAllowedURLs joins entries by their exact url string: the methods of a
// repeated url are unioned, a new url is appended. This also folds repeated
// urls inside src. The first occurrence of a url keeps its method list as
// written (repeats included), like Tyk.
func mergeAllowedURLs(dst, src []model.AccessSpec) []model.AccessSpec {
	for _, spec := range src {
		i := slices.IndexFunc(dst, func(d model.AccessSpec) bool { return d.URL == spec.URL })
		if i < 0 {
			dst = append(dst, spec.Clone())
			continue
		}
		dst[i].Methods = appendMissing(dst[i].Methods, spec.Methods...)
	}
	return dst
}

// mergeTypes unions GraphQL types by name, and the fields of same-named types.
// (≤5.8.x-early intersected restricted_types; the latest patches union both.)
// Into an empty dst src is copied as written, repeated names included.
func mergeTypes(dst, src []model.GraphQLType) []model.GraphQLType {
	if len(dst) == 0 {
		return cloneAll(src, model.GraphQLType.Clone)
	}
	for _, t := range src {
		i := slices.IndexFunc(dst, func(d model.GraphQLType) bool { return d.Name == t.Name })
		if i < 0 {
			dst = append(dst, t.Clone())
			continue
		}
		dst[i].Fields = appendMissing(dst[i].Fields, t.Fields...)
	}
	return dst
}

// mergeFieldAccess unions field-level depth limits by (type, field); for a
// pair present in both the greater depth wins, -1 meaning unlimited.
func mergeFieldAccess(dst, src []model.FieldAccessDefinition) []model.FieldAccessDefinition {
	if len(dst) == 0 {
		return slices.Clone(src)
	}
	for _, f := range src {
		found := false
		for i := range dst {
			if dst[i].TypeName == f.TypeName && dst[i].FieldName == f.FieldName {
				found = true
				if greater(f.Limits.MaxQueryDepth, dst[i].Limits.MaxQueryDepth) {
					dst[i].Limits.MaxQueryDepth = f.Limits.MaxQueryDepth
				}
			}
		}
		if !found {
			dst = append(dst, f)
		}
	}
	return dst
}
