package filterapi

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/wire"
	"github.com/turnpike-dev/turnpike/sidecar/internal/snapshot"
)

// The Filter API used to write its answers with encoding/json; filters in
// the field parse those bytes. These tests pin shared/wire's encoders to
// what encoding/json made of the old structs, byte for byte.

type legacySync struct {
	Version  string          `json:"version"`
	Cursor   string          `json:"cursor"`
	Reset    bool            `json:"reset"`
	More     bool            `json:"more"`
	Keys     []string        `json:"keys"`
	Snapshot json.RawMessage `json:"snapshot,omitempty"`
}

type legacyQuota struct {
	Granted   int64 `json:"granted"`
	Remaining int64 `json:"remaining"`
	Reset     int64 `json:"reset"`
	QuotaMax  int64 `json:"quota_max"`
}

func testSnapshot(t *testing.T) *snapshot.Snapshot {
	t.Helper()
	pol, err := model.DecodePolicy([]byte(`{"id":"gold","name":"<Gold & co>","rate":100,"per":1,
		"access_rights":{"api1":{"api_id":"api1","versions":["Default"]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	api1, err := model.DecodeAPIDefinition([]byte(`{"api_id":"api1","name":"One\u2028","org_id":"o1","proxy":{"listen_path":"/one/"}}`))
	if err != nil {
		t.Fatal(err)
	}
	api0, err := model.DecodeAPIDefinition([]byte(`{"api_id":"api0","use_keyless":true}`))
	if err != nil {
		t.Fatal(err)
	}
	org, err := model.DecodeSession([]byte(`{"org_id":"o1","quota_max":9,"meta_data":{"a":"<b>"}}`))
	if err != nil {
		t.Fatal(err)
	}
	return snapshot.Build(map[string]*model.Policy{"gold": pol},
		map[string]*model.APIDefinition{"api1": api1, "api0": api0}, map[string]*model.OrgSession{"o1": org})
}

func TestSyncBodyUnchanged(t *testing.T) {
	snap := testSnapshot(t)
	hash := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	for _, page := range []wire.SyncPage{
		{Version: snap.Version, Cursor: "1764000000000-0"},
		{Version: snap.Version, Cursor: "1764000000000-1", Reset: true, More: true, Keys: []string{hash, hash}},
	} {
		for _, raw := range [][]byte{nil, snap.JSON} {
			keys := page.Keys
			if keys == nil {
				keys = []string{} // as the old handler did
			}
			want, err := json.Marshal(legacySync{page.Version, page.Cursor, page.Reset, page.More, keys, raw})
			if err != nil {
				t.Fatal(err)
			}
			if got := wire.AppendSyncResponse(nil, page, raw); string(got) != string(want) {
				t.Errorf("sync answer changed\ngot  %s\nwant %s", got, want)
			}
		}
	}
}

// TestSnapshotDocument: the snapshot the sidecar builds is the document
// wire describes, and the filter decodes it into the sidecar's values.
func TestSnapshotDocument(t *testing.T) {
	snap := testSnapshot(t)
	ws := &wire.Snapshot{Policies: snap.Policies, APIs: snap.SortedAPIs(), Orgs: snap.Orgs}
	if got := wire.AppendSnapshot(nil, ws); string(got) != string(snap.JSON) {
		t.Errorf("wire.AppendSnapshot differs from snapshot.Build\n%s\n%s", got, snap.JSON)
	}
	r, err := wire.DecodeSyncResponse(wire.AppendSyncResponse(nil, wire.SyncPage{Version: snap.Version}, snap.JSON))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Snapshot, ws) {
		t.Errorf("decoded snapshot differs\ngot  %+v\nwant %+v", r.Snapshot, ws)
	}
}

func TestSmallBodiesUnchanged(t *testing.T) {
	for _, q := range []legacyQuota{{1, 99, 1764000000, 100}, {3, -1, 0, -1}, {0, 0, 1764000000, 2}} {
		want, _ := json.Marshal(q)
		got := wire.AppendQuotaResponse(nil, wire.QuotaResponse{Granted: q.Granted, Remaining: q.Remaining, Reset: q.Reset, QuotaMax: q.QuotaMax})
		if string(got) != string(want) {
			t.Errorf("quota answer %s, was %s", got, want)
		}
	}
	for _, msg := range []string{"invalid filter token", `malformed quota request: unknown field "<x>"`, "é\u2028"} {
		want, _ := json.Marshal(struct {
			Error string `json:"error"`
		}{msg})
		if got := wire.AppendErrorResponse(nil, msg); string(got) != string(want) {
			t.Errorf("error answer %s, was %s", got, want)
		}
	}
}
