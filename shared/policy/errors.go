package policy

import (
	"errors"
	"strconv"
)

// Errors returned by Apply. Their texts are Tyk's, word for word, because the
// Gateway API shows them to clients; match them with errors.Is.
var (
	// ErrPolicyNotFound: the key's only policy does not exist. The returned
	// error reads `policy not found: "<id>"`.
	ErrPolicyNotFound = errors.New("policy not found")

	// ErrDifferentOrg: a policy's org_id differs from the org guard.
	ErrDifferentOrg = errors.New("attempting to apply policy from different organisation to key, skipping")

	// ErrPerAPIWithPartitions: a policy sets per_api together with one of the
	// quota/rate_limit/acl/complexity partitions. The returned error reads
	// `cannot apply policy <id> which has per_api and any of partitions set`.
	ErrPerAPIWithPartitions = errors.New("cannot apply policy which has per_api and any of partitions set")

	// ErrMixedPerAPIAndPartitioned: a key mixes per_api and partitioned policies.
	ErrMixedPerAPIAndPartitioned = errors.New("cannot apply multiple policies when some have per_api set and some are partitioned")

	// ErrNoValidPolicies: the key has policies but none of them grants access
	// to any API.
	ErrNoValidPolicies = errors.New("key has no valid policies to be applied")

	// ErrNilSession: Apply was called without a session.
	ErrNilSession = errors.New("policy: nil session")
)

// policyError carries the id of the offending policy, which Tyk puts into the
// message of two of its errors.
type policyError struct {
	kind error
	id   string
}

func (e *policyError) Error() string {
	if e.kind == ErrPerAPIWithPartitions {
		return "cannot apply policy " + e.id + " which has per_api and any of partitions set"
	}
	return e.kind.Error() + ": " + strconv.Quote(e.id)
}

func (e *policyError) Unwrap() error { return e.kind }
