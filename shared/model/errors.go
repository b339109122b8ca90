package model

import "strconv"

// FieldError reports a JSON value that does not fit the model field it is
// decoded into. Tyk rejects such documents as a whole, and so do the decoders
// here: the first FieldError aborts the decode.
//
// Field is the path from the document root: object keys joined with dots,
// array indexes in brackets, e.g. "access_rights.a.allowed_urls[0].url". It is
// empty when the root value itself has the wrong type.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return "top-level value: " + e.Msg
	}
	return "field " + strconv.Quote(e.Field) + ": " + e.Msg
}
