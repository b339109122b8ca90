package model_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/turnpike-dev/turnpike/shared/model"
)

func ExampleDecodeSession() {
	// A compact (Tyk 5.12+) session; quota_max written as a float as some
	// Tyk tools do.
	s, err := model.DecodeSession([]byte(`{"rate":10,"per":1,"quota_max":1000.0,
		"access_rights":{"api1":{"api_id":"api1","versions":["Default"],"limit":null}}}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Rate, s.Per, s.QuotaMax, s.AccessRights["api1"].Versions, s.AccessRights["api1"].Limit.IsEmpty())

	_, err = model.DecodeSession([]byte(`{"access_rights":{"api1":{"limit":{"rate":"10"}}}}`))
	var fe *model.FieldError
	fmt.Println(errors.As(err, &fe), fe.Field)
	fmt.Println(err)
	// Output:
	// 10 1 1000 [Default] true
	// true access_rights.api1.limit.rate
	// field "access_rights.api1.limit.rate": expected a number, got string
}

func ExampleDecodePolicies() {
	// The RPC form: an array; the dashboard policy without id is keyed by _id.
	policies, err := model.DecodePolicies([]byte(`[
		{"id":"gold","rate":100,"per":1},
		{"_id":"5ead7120575961000181867e","rate":10,"per":1}
	]`))
	if err != nil {
		panic(err)
	}
	fmt.Println(len(policies), policies["gold"].Rate, policies["5ead7120575961000181867e"].ID)
	// Output:
	// 2 100 5ead7120575961000181867e
}

func ExampleAppendError() {
	os.Stdout.Write(model.AppendError(nil, "Authorization field missing"))
	// Output:
	// {
	//     "error": "Authorization field missing"
	// }
}

func ExampleSession_AppendCompactJSON() {
	s := &model.Session{Rate: 10, Per: 1, QuotaMax: -1, OrgID: "org1", Tags: []string{},
		AccessRights: map[string]model.AccessDefinition{"api1": {APIID: "api1", Versions: []string{"Default"}}}}
	os.Stdout.Write(s.AppendCompactJSON(nil))
	fmt.Println()
	fmt.Println(len(s.AppendJSON(nil)), "bytes classic")
	// Output:
	// {"rate":10,"per":1,"quota_max":-1,"access_rights":{"api1":{"api_id":"api1","versions":["Default"]}},"org_id":"org1","tags":[]}
	// 1197 bytes classic
}
