package gatewayapi

import (
	"errors"

	"github.com/turnpike-dev/turnpike/shared/access"
	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/valyala/fastjson"
)

// An API definition is stored as the user sent it (compacted, api_id set),
// so GET returns every Tyk field, not only those Turnpike models; the filter
// decodes what it enforces from the same document and ignores the rest.
// What is checked before storing: the document decodes and validates as a
// model.APIDefinition (shared/access), and it enables nothing that concerns
// access which Turnpike does not enforce (refusedFields, refuse.go).

// apiDoc is a parsed API definition body.
type apiDoc struct {
	v  *fastjson.Value
	id string // api_id as sent ("" when absent)
}

// parseAPI checks a body; the error is the 400 message.
func parseAPI(body []byte) (*apiDoc, error) {
	api, err := model.DecodeAPIDefinition(body)
	if err == nil {
		err = access.ValidateAPI(api)
	}
	if err == nil {
		err = validateAuth(api)
	}
	if err == nil {
		err = validateJWT(api)
	}
	if err != nil {
		return nil, errors.New(msgMalformed + ": " + err.Error())
	}
	v, err := fastjson.ParseBytes(body) // decoded above, so an object
	if err != nil {
		return nil, errors.New(msgMalformed + ": " + err.Error())
	}
	if msg := refusal(v); msg != "" {
		return nil, errors.New(msg)
	}
	return &apiDoc{v: v, id: api.APIID}, nil
}

// withID is the compact document with api_id set to id. It decodes the
// result again so that what is stored is exactly what was checked (a
// repeated api_id key, say, cannot make the two differ).
func (d *apiDoc) withID(id string) ([]byte, error) {
	if d.id != id {
		d.v.Set("api_id", new(fastjson.Arena).NewString(id))
	}
	data := d.v.MarshalTo(nil)
	api, err := model.DecodeAPIDefinition(data)
	if err == nil && api.APIID != id {
		err = errors.New(`"api_id" appears more than once`)
	}
	if err != nil {
		return nil, errors.New(msgMalformed + ": " + err.Error())
	}
	return data, nil
}
