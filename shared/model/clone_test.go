package model

import (
	"reflect"
	"testing"
)

func TestCloneIsDeep(t *testing.T) {
	orig := &Policy{
		ID:   "p1",
		Tags: []string{"a"},
		AccessRights: map[string]AccessDefinition{"api": {
			Versions:    []string{"v1"},
			AllowedURLs: []AccessSpec{{URL: "/u", Methods: []string{"GET"}}},
			Endpoints:   []Endpoint{{Path: "/e", Methods: []EndpointMethod{{Name: "GET", Limit: RateLimit{Rate: 1, Per: 1}}}}},
			Limit:       APILimit{Rate: 1, Smoothing: &Smoothing{Step: 1}},
		}},
		MetaData:  map[string]RawValue{"k": RawValue(`"v"`)},
		Smoothing: &Smoothing{Threshold: 5},
	}
	c := orig.Clone()
	if !reflect.DeepEqual(orig, c) {
		t.Fatalf("clone differs: %+v", c)
	}
	ad := c.AccessRights["api"]
	ad.Versions[0] = "x"
	ad.AllowedURLs[0].Methods[0] = "x"
	ad.Endpoints[0].Methods[0].Name = "x"
	ad.Limit.Smoothing.Step = 9
	c.Tags[0] = "x"
	c.MetaData["k"][1] = 'x'
	c.Smoothing.Threshold = 9

	want := orig.AccessRights["api"]
	if want.Versions[0] != "v1" || want.AllowedURLs[0].Methods[0] != "GET" ||
		want.Endpoints[0].Methods[0].Name != "GET" || want.Limit.Smoothing.Step != 1 ||
		orig.Tags[0] != "a" || string(orig.MetaData["k"]) != `"v"` || orig.Smoothing.Threshold != 5 {
		t.Fatalf("mutating the clone changed the original: %+v", orig)
	}
}

func TestCloneSession(t *testing.T) {
	s := &Session{ApplyPolicies: []string{"p"}, OauthKeys: map[string]string{"a": "b"}}
	c := s.Clone()
	c.ApplyPolicies[0] = "q"
	c.OauthKeys["a"] = "c"
	if s.ApplyPolicies[0] != "p" || s.OauthKeys["a"] != "b" {
		t.Fatal("session clone shares memory with the original")
	}
	if (*Session)(nil).Clone() != nil {
		t.Fatal("nil clone must be nil")
	}
}

func TestCloneAPIDefinition(t *testing.T) {
	a := fullAPIDefinition()
	c := a.Clone()
	if !reflect.DeepEqual(a, c) {
		t.Fatalf("clone differs: %+v", c)
	}
	c.AuthConfigs["jwt"] = AuthConfig{}
	c.VersionData.Versions["v1"] = VersionInfo{}
	if a.AuthConfigs["jwt"].AuthHeaderName != "X-JWT" || a.VersionData.Versions["v1"].Name != "v1" {
		t.Fatal("API definition clone shares memory with the original")
	}
}
