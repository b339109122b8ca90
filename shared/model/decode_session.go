package model

import (
	"strconv"

	"github.com/valyala/fastjson"
)

// zeroTime is how Go (and so Tyk ≤5.11) writes an unset date_created.
const zeroTime = "0001-01-01T00:00:00Z"

// DecodeSession decodes a Tyk session (key) in the classic or the compact
// (5.12+ omitzero) form. The rules shared by all decoders (null, numbers,
// unknown fields, errors) are listed at the top of decode.go; a wrong type
// returns a *FieldError, malformed JSON an "invalid JSON: ..." error.
func DecodeSession(data []byte) (*Session, error) {
	return decodeBytes(data, (*decoder).session)
}

// SessionFromValue decodes a session embedded in a larger parsed document.
// Error paths are relative to v; a nil v (a missing member) decodes as null.
func SessionFromValue(v *fastjson.Value) (*Session, error) {
	return decodeValue(v, (*decoder).session)
}

// UnmarshalJSON implements json.Unmarshaler with DecodeSession.
func (s *Session) UnmarshalJSON(data []byte) error {
	out, err := DecodeSession(data)
	if err == nil {
		*s = *out
	}
	return err
}

func (d *decoder) session(v *fastjson.Value) *Session {
	s := new(Session)
	d.fields(v, func(key []byte, v *fastjson.Value) {
		switch string(key) {
		case "last_check":
			s.LastCheck = d.i64(v)
		case "allowance":
			s.Allowance = d.f64(v)
		case "rate":
			s.Rate = d.f64(v)
		case "per":
			s.Per = d.f64(v)
		case "throttle_interval":
			s.ThrottleInterval = d.f64(v)
		case "throttle_retry_limit":
			s.ThrottleRetryLimit = d.int(v)
		case "max_query_depth":
			s.MaxQueryDepth = d.int(v)
		case "date_created":
			if s.DateCreated = d.str(v); s.DateCreated == zeroTime {
				s.DateCreated = ""
			}
		case "expires":
			s.Expires = d.i64(v)
		case "quota_max":
			s.QuotaMax = d.i64(v)
		case "quota_renews":
			s.QuotaRenews = d.i64(v)
		case "quota_remaining":
			s.QuotaRemaining = d.i64(v)
		case "quota_renewal_rate":
			s.QuotaRenewalRate = d.i64(v)
		case "access_rights":
			s.AccessRights = decodeMap(d, v, (*decoder).accessDefinition)
		case "org_id":
			s.OrgID = d.str(v)
		case "oauth_client_id":
			s.OauthClientID = d.str(v)
		case "oauth_keys":
			s.OauthKeys = decodeMap(d, v, (*decoder).str)
		case "certificate":
			s.Certificate = d.str(v)
		case "basic_auth_data":
			s.BasicAuthData = d.basicAuthData(v)
		case "jwt_data":
			d.fields(v, func(key []byte, v *fastjson.Value) {
				if string(key) == "secret" {
					s.JWTData.Secret = d.str(v)
				}
			})
		case "hmac_enabled":
			s.HMACEnabled = d.boolean(v)
		case "enable_http_signature_validation":
			s.EnableHTTPSignatureValidation = d.boolean(v)
		case "hmac_string":
			s.HmacSecret = d.str(v)
		case "rsa_certificate_id":
			s.RSACertificateID = d.str(v)
		case "is_inactive":
			s.IsInactive = d.boolean(v)
		case "apply_policy_id":
			s.ApplyPolicyID = d.str(v)
		case "apply_policies":
			s.ApplyPolicies = decodeSlice(d, v, (*decoder).str)
		case "data_expires":
			s.DataExpires = d.i64(v)
		case "monitor":
			d.fields(v, func(key []byte, v *fastjson.Value) {
				if string(key) == "trigger_limits" {
					s.Monitor.TriggerLimits = decodeSlice(d, v, (*decoder).f64)
				}
			})
		case "enable_detail_recording":
			s.EnableDetailRecording = d.boolean(v)
		case "enable_detailed_recording":
			s.EnableDetailedRecording = d.boolean(v)
		case "meta_data":
			s.MetaData = decodeMap(d, v, (*decoder).raw)
		case "tags":
			s.Tags = decodeSlice(d, v, (*decoder).str)
		case "alias":
			s.Alias = d.str(v)
		case "last_updated":
			s.LastUpdated = d.lastUpdated(v)
		case "id_extractor_deadline":
			s.IDExtractorDeadline = d.i64(v)
		case "session_lifetime":
			s.SessionLifetime = d.i64(v)
		case "smoothing":
			s.Smoothing = d.smoothing(v)
		}
	})
	return s
}

func (d *decoder) basicAuthData(v *fastjson.Value) (b BasicAuthData) {
	d.fields(v, func(key []byte, v *fastjson.Value) {
		switch string(key) {
		case "password":
			b.Password = d.str(v)
		case "hash_type":
			b.HashType = d.str(v)
		}
	})
	return b
}

// lastUpdated reads Tyk's last_updated, a decimal string of unix seconds that
// some writers emit as a bare number.
func (d *decoder) lastUpdated(v *fastjson.Value) string {
	if v.Type() != fastjson.TypeNumber {
		return d.str(v)
	}
	n := d.i64(v)
	if d.err != nil {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

func (d *decoder) smoothing(v *fastjson.Value) *Smoothing {
	if v.Type() == fastjson.TypeNull {
		return nil
	}
	s := new(Smoothing)
	d.fields(v, func(key []byte, v *fastjson.Value) {
		switch string(key) {
		case "enabled":
			s.Enabled = d.boolean(v)
		case "threshold":
			s.Threshold = d.i64(v)
		case "trigger":
			s.Trigger = d.f64(v)
		case "step":
			s.Step = d.i64(v)
		case "delay":
			s.Delay = d.i64(v)
		}
	})
	return s
}

func (d *decoder) accessDefinition(v *fastjson.Value) (a AccessDefinition) {
	d.fields(v, func(key []byte, v *fastjson.Value) {
		switch string(key) {
		case "api_name":
			a.APIName = d.str(v)
		case "api_id":
			a.APIID = d.str(v)
		case "versions":
			a.Versions = decodeSlice(d, v, (*decoder).str)
		case "allowed_urls":
			a.AllowedURLs = decodeSlice(d, v, (*decoder).accessSpec)
		case "restricted_types":
			a.RestrictedTypes = decodeSlice(d, v, (*decoder).graphQLType)
		case "allowed_types":
			a.AllowedTypes = decodeSlice(d, v, (*decoder).graphQLType)
		case "limit":
			a.Limit = d.apiLimit(v)
		case "field_access_rights":
			a.FieldAccessRights = decodeSlice(d, v, (*decoder).fieldAccess)
		case "disable_introspection":
			a.DisableIntrospection = d.boolean(v)
		case "allowance_scope":
			a.AllowanceScope = d.str(v)
		case "endpoints":
			// Tyk omits empty endpoints, so [] and absent must decode alike
			// for a decode/encode round trip to be exact.
			if a.Endpoints = decodeSlice(d, v, (*decoder).endpoint); len(a.Endpoints) == 0 {
				a.Endpoints = nil
			}
		}
	})
	return a
}

func (d *decoder) accessSpec(v *fastjson.Value) (a AccessSpec) {
	d.fields(v, func(key []byte, v *fastjson.Value) {
		switch string(key) {
		case "url":
			a.URL = d.str(v)
		case "methods":
			a.Methods = decodeSlice(d, v, (*decoder).str)
		}
	})
	return a
}

func (d *decoder) graphQLType(v *fastjson.Value) (t GraphQLType) {
	d.fields(v, func(key []byte, v *fastjson.Value) {
		switch string(key) {
		case "name":
			t.Name = d.str(v)
		case "fields":
			t.Fields = decodeSlice(d, v, (*decoder).str)
		}
	})
	return t
}

func (d *decoder) fieldAccess(v *fastjson.Value) (f FieldAccessDefinition) {
	d.fields(v, func(key []byte, v *fastjson.Value) {
		switch string(key) {
		case "type_name":
			f.TypeName = d.str(v)
		case "field_name":
			f.FieldName = d.str(v)
		case "limits":
			d.fields(v, func(key []byte, v *fastjson.Value) {
				if string(key) == "max_query_depth" {
					f.Limits.MaxQueryDepth = d.int(v)
				}
			})
		}
	})
	return f
}

func (d *decoder) endpoint(v *fastjson.Value) (e Endpoint) {
	d.fields(v, func(key []byte, v *fastjson.Value) {
		switch string(key) {
		case "path":
			e.Path = d.str(v)
		case "methods":
			e.Methods = decodeSlice(d, v, (*decoder).endpointMethod)
		}
	})
	return e
}

func (d *decoder) endpointMethod(v *fastjson.Value) (m EndpointMethod) {
	d.fields(v, func(key []byte, v *fastjson.Value) {
		switch string(key) {
		case "name":
			m.Name = d.str(v)
		case "limit":
			d.fields(v, func(key []byte, v *fastjson.Value) {
				switch string(key) {
				case "rate":
					m.Limit.Rate = d.f64(v)
				case "per":
					m.Limit.Per = d.f64(v)
				}
			})
		}
	})
	return m
}

// apiLimit decodes access_rights[].limit, which Tyk 4 wrote as null when
// unset; null decodes as the empty limit.
func (d *decoder) apiLimit(v *fastjson.Value) (l APILimit) {
	d.fields(v, func(key []byte, v *fastjson.Value) {
		switch string(key) {
		case "rate":
			l.Rate = d.f64(v)
		case "per":
			l.Per = d.f64(v)
		case "smoothing":
			l.Smoothing = d.smoothing(v)
		case "throttle_interval":
			l.ThrottleInterval = d.f64(v)
		case "throttle_retry_limit":
			l.ThrottleRetryLimit = d.int(v)
		case "max_query_depth":
			l.MaxQueryDepth = d.int(v)
		case "quota_max":
			l.QuotaMax = d.i64(v)
		case "quota_renews":
			l.QuotaRenews = d.i64(v)
		case "quota_remaining":
			l.QuotaRemaining = d.i64(v)
		case "quota_renewal_rate":
			l.QuotaRenewalRate = d.i64(v)
		}
	})
	return l
}
