package wasmhost_test

import (
	"context"
	"fmt"
	"log"

	"github.com/turnpike-dev/turnpike/tests/wasmhost"
	"github.com/turnpike-dev/turnpike/tests/wasmhost/wasmbuild"
)

// Load a filter, run one request through it and inspect what it did.
func Example() {
	ctx := context.Background()
	wasm, err := wasmbuild.Build(ctx, "testdata/headers", wasmbuild.Options{})
	if err != nil {
		log.Fatal(err)
	}
	h, err := wasmhost.New(ctx, wasmhost.Config{WasmFile: wasm, PluginConfig: []byte("cfg")})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close(ctx)

	s := h.NewStream()
	res := s.RequestHeaders(wasmhost.Headers{
		{":method", "GET"}, {":path", "/hello"}, {":authority", "example.com"}, {"X-Remove", "1"},
	}, true)
	fmt.Println(res.Action)
	added, _ := s.Request().Headers.Get("x-added")
	_, removed := s.Request().Headers.Get("x-remove")
	fmt.Println(added, !removed)
	s.Close()

	denied := h.NewStream()
	res = denied.RequestHeaders(wasmhost.Headers{{":method", "GET"}, {":path", "/deny"}, {":authority", "x"}}, true)
	fmt.Println(res.Action, res.Reply.Status, string(res.Reply.Body))
	denied.Close()

	m, _ := h.Metric("requests_total")
	fmt.Println(m.Name, m.Value)
	// Output:
	// continue
	// yes true
	// local-reply 403 {"error":"denied"}
	// requests_total 2
}

// A filter that pauses on an http call: the test sees the call and answers it.
func ExampleHTTPCall_Respond() {
	ctx := context.Background()
	wasm, err := wasmbuild.Build(ctx, "testdata/callout", wasmbuild.Options{})
	if err != nil {
		log.Fatal(err)
	}
	h, err := wasmhost.New(ctx, wasmhost.Config{
		WasmFile: wasm,
		Clusters: map[string]string{"auth": ""}, // "" = the test answers calls to "auth"
	})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close(ctx)

	s := h.NewStream()
	defer s.Close()
	fmt.Println(s.RequestHeaders(wasmhost.Headers{{":method", "GET"}, {":path", "/x"}, {":authority", "a"}}, true).Action)
	call := s.HTTPCalls()[0]
	path, _ := call.Headers.Get(":path")
	fmt.Println(call.Cluster, path)
	if err := call.Respond(200, nil, []byte("alice")); err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Result().Action)
	user, _ := s.Request().Headers.Get("x-auth")
	fmt.Println(user)
	// Output:
	// pause
	// auth /check/x
	// continue
	// alice
}
