package wire

import (
	"errors"
	"strconv"

	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/valyala/fastjson"
)

// MaxQuotaUnits bounds the units of one quota reservation.
const MaxQuotaUnits = 10000

// QuotaRequest is the body of POST PathQuota: reserve Units of a key's
// quota (KeyHash, with the Scope of a per-API quota) or of an
// organisation's (OrgID). QuotaMax and QuotaRenewalRate are the limit the
// caller enforces: the counter is created with them and the answer is
// computed against them.
//
// With Lease the caller takes a lease: units it spends locally and gives
// back (PathQuotaRelease) when it does not. The sidecar may then grant
// fewer than asked even when more remain (shared/quota.LeaseUnits), and
// the answer names the window (QuotaResponse.WindowID, WindowMS).
//
// The same body, with KeyHash or OrgID, Scope, Units and WindowID, is a
// release (POST PathQuotaRelease).
type QuotaRequest struct {
	KeyHash          string
	OrgID            string
	Scope            string
	QuotaMax         int64
	QuotaRenewalRate int64
	Units            int64
	// Lease (added to v1, "lease"): see above. Absent means false.
	Lease bool
	// WindowID (added to v1, "window_id"), in a release: the window the
	// units were granted in. Units of an ended or reset window are not
	// given back, since they belong to no count any more.
	WindowID int64
}

// AppendQuotaRequest appends r as
// {"key_hash":…,"scope":…,"quota_max":…,"quota_renewal_rate":…,"units":…}
// (a key's quota; scope always written) or {"org_id":…,"quota_max":…,…}.
func AppendQuotaRequest(dst []byte, r QuotaRequest) []byte {
	dst = append(dst, '{')
	if r.KeyHash != "" {
		dst = append(dst, `"key_hash":`...)
		dst = model.AppendString(dst, r.KeyHash)
		dst = append(dst, ',')
	}
	if r.OrgID != "" {
		dst = append(dst, `"org_id":`...)
		dst = model.AppendString(dst, r.OrgID)
		dst = append(dst, ',')
	}
	if r.KeyHash != "" || r.Scope != "" {
		dst = append(dst, `"scope":`...)
		dst = model.AppendString(dst, r.Scope)
		dst = append(dst, ',')
	}
	dst = append(dst, `"quota_max":`...)
	dst = strconv.AppendInt(dst, r.QuotaMax, 10)
	dst = append(dst, `,"quota_renewal_rate":`...)
	dst = strconv.AppendInt(dst, r.QuotaRenewalRate, 10)
	dst = append(dst, `,"units":`...)
	dst = strconv.AppendInt(dst, r.Units, 10)
	if r.Lease {
		dst = append(dst, `,"lease":true`...)
	}
	if r.WindowID != 0 {
		dst = append(dst, `,"window_id":`...)
		dst = strconv.AppendInt(dst, r.WindowID, 10)
	}
	return append(dst, '}')
}

// DecodeQuotaRequest decodes a quota request strictly: valid JSON, one
// object, integers without fraction, and no unknown field (a misspelt
// field would otherwise charge a different counter). Missing fields and
// null are zero; of a repeated field the last wins. It does not check the
// values: see Validate.
func DecodeQuotaRequest(body []byte) (QuotaRequest, error) {
	var r QuotaRequest
	if err := fastjson.ValidateBytes(body); err != nil {
		return r, errors.New("invalid JSON: " + err.Error())
	}
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(body)
	if err != nil {
		return r, errors.New("invalid JSON: " + err.Error())
	}
	o, err := v.Object()
	if err != nil {
		return r, errors.New("not an object")
	}
	o.Visit(func(k []byte, fv *fastjson.Value) {
		if err != nil {
			return
		}
		switch name := string(k); name {
		case "key_hash":
			r.KeyHash, err = stringValue(fv, name)
		case "org_id":
			r.OrgID, err = stringValue(fv, name)
		case "scope":
			r.Scope, err = stringValue(fv, name)
		case "quota_max":
			r.QuotaMax, err = intValue(fv, name)
		case "quota_renewal_rate":
			r.QuotaRenewalRate, err = intValue(fv, name)
		case "units":
			r.Units, err = intValue(fv, name)
		case "lease":
			r.Lease, err = boolValue(fv, name)
		case "window_id":
			r.WindowID, err = intValue(fv, name)
		default:
			err = errors.New("unknown field " + strconv.Quote(name))
		}
	})
	if err != nil {
		return QuotaRequest{}, err
	}
	return r, nil
}

// Validate checks what the sidecar requires of a quota request: exactly
// one of KeyHash (a key hash) and OrgID, Scope only with KeyHash, Units
// between 1 and MaxQuotaUnits.
func (r QuotaRequest) Validate() error {
	switch {
	case (r.KeyHash == "") == (r.OrgID == ""):
		return errors.New("exactly one of key_hash and org_id is required")
	case r.KeyHash != "" && !keys.IsHash(r.KeyHash):
		return errors.New("key_hash must be 64 lower-case hex digits")
	case r.OrgID != "" && r.Scope != "":
		return errors.New("scope applies to key quotas only")
	case r.Units < 1 || r.Units > MaxQuotaUnits:
		return errors.New("units must be between 1 and " + strconv.Itoa(MaxQuotaUnits))
	}
	return nil
}

// ValidateRelease checks a release: what Validate checks, plus a WindowID.
func (r QuotaRequest) ValidateRelease() error {
	if err := r.Validate(); err != nil {
		return err
	}
	if r.WindowID <= 0 {
		return errors.New("window_id is required")
	}
	return nil
}

// QuotaResponse is the answer to a quota request: Granted units of those
// asked (fewer when fewer remain, 0 when the quota is exhausted),
// Remaining after the grant (-1: unlimited, QuotaMax <= 0), Reset the unix
// second the window ends (0: never), QuotaMax as requested.
type QuotaResponse struct {
	Granted   int64
	Remaining int64
	Reset     int64
	QuotaMax  int64
	// WindowID names the window of a lease's units, for their release (0:
	// the window never ends; such units cannot be given back). Added to
	// v1, sent for leases only.
	WindowID int64
	// WindowMS is how long the window still ran, in milliseconds, when
	// the units were granted (by Redis's clock; 0: never ends). A filter
	// counts it from when it sent the request, so it stops spending the
	// units no later than the window ends whatever the clocks say.
	WindowMS int64
}

// AppendQuotaResponse appends
// {"granted":…,"remaining":…,"reset":…,"quota_max":…}.
func AppendQuotaResponse(dst []byte, r QuotaResponse) []byte {
	dst = append(dst, `{"granted":`...)
	dst = strconv.AppendInt(dst, r.Granted, 10)
	dst = append(dst, `,"remaining":`...)
	dst = strconv.AppendInt(dst, r.Remaining, 10)
	dst = append(dst, `,"reset":`...)
	dst = strconv.AppendInt(dst, r.Reset, 10)
	dst = append(dst, `,"quota_max":`...)
	dst = strconv.AppendInt(dst, r.QuotaMax, 10)
	if r.WindowID != 0 || r.WindowMS != 0 {
		dst = append(dst, `,"window_id":`...)
		dst = strconv.AppendInt(dst, r.WindowID, 10)
		dst = append(dst, `,"window_ms":`...)
		dst = strconv.AppendInt(dst, r.WindowMS, 10)
	}
	return append(dst, '}')
}

// AppendReleaseResponse appends {"released":n}: the units given back.
func AppendReleaseResponse(dst []byte, released int64) []byte {
	dst = append(dst, `{"released":`...)
	dst = strconv.AppendInt(dst, released, 10)
	return append(dst, '}')
}

// DecodeReleaseResponse decodes {"released":n}.
func DecodeReleaseResponse(body []byte) (int64, error) {
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := parseObject(p, body, "release answer")
	if err != nil {
		return 0, err
	}
	fv := v.Get("released")
	if fv == nil {
		return 0, errors.New("release answer: no \"released\"")
	}
	return intValue(fv, "released")
}

// DecodeQuotaResponse decodes a quota answer. "granted" is required (an
// answer without it is not a quota answer); the other fields default to
// zero; unknown fields are ignored; a known field of the wrong type
// rejects the answer rather than reading as zero.
func DecodeQuotaResponse(body []byte) (QuotaResponse, error) {
	var r QuotaResponse
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := parseObject(p, body, "quota answer")
	if err != nil {
		return r, err
	}
	if v.Get("granted") == nil {
		return r, errors.New("quota answer: no \"granted\"")
	}
	for _, f := range [...]struct {
		name string
		dst  *int64
	}{{"granted", &r.Granted}, {"remaining", &r.Remaining}, {"reset", &r.Reset}, {"quota_max", &r.QuotaMax},
		{"window_id", &r.WindowID}, {"window_ms", &r.WindowMS}} {
		fv := v.Get(f.name)
		if fv == nil {
			continue
		}
		if *f.dst, err = intValue(fv, f.name); err != nil {
			return QuotaResponse{}, errors.New("quota answer: " + err.Error())
		}
	}
	return r, nil
}
