package model

// AppendJSON appends the policy in Tyk's classic form (every field present).
func (p *Policy) AppendJSON(dst []byte) []byte {
	o := policy(beginObject(dst, classic), p)
	return o.end()
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (p *Policy) MarshalJSON() ([]byte, error) {
	return p.AppendJSON(nil), nil
}
