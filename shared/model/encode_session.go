package model

// AppendJSON appends the session in Tyk's classic form (every field present),
// the form Tyk ≤5.11 stores in Redis and returns from the Gateway API.
func (s *Session) AppendJSON(dst []byte) []byte {
	return s.appendJSON(dst, classic)
}

// AppendCompactJSON appends the session in Tyk 5.12's compact (omitzero)
// form: zero fields and all-zero value structs are left out, so a typical
// key is a fifth of its classic size. DecodeSession of the result equals s
// for every s that DecodeSession produces.
func (s *Session) AppendCompactJSON(dst []byte) []byte {
	return s.appendJSON(dst, compact)
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (s *Session) MarshalJSON() ([]byte, error) {
	return s.AppendJSON(nil), nil
}

func (s *Session) appendJSON(dst []byte, f form) []byte {
	o := session(beginObject(dst, f), s)
	return o.end()
}
