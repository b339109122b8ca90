package plugin

import (
	"github.com/turnpike-dev/turnpike/filter/config"
	"github.com/turnpike-dev/turnpike/filter/internal/host"
	"github.com/turnpike-dev/turnpike/filter/internal/shm"
	"github.com/turnpike-dev/turnpike/shared/access"
	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/ratelimit"
)

// Organisation limits (Tyk's organisation monitor, enforce_org_quotas): the
// org session's rate limit and quota apply across all keys of the
// organisation, before the key's own limits. The rate limit is a token
// bucket per organisation in shared data: exact within a proxy, and each
// proxy has its own, so across N proxies an organisation gets at most N
// times its rate. The quota is counted by the sidecar in Redis through
// leases (lease.go), exact across every proxy.

// Outcomes of organisation limits.
const (
	outOrgRateLimited   = "org_rate_limited"
	outOrgQuotaExceeded = "org_quota_exceeded"
)

var (
	replyOrgRateLimited   = &reply{status: access.StatusForbidden, msg: access.MsgOrgRateLimited}
	replyOrgQuotaExceeded = &reply{status: access.StatusForbidden, msg: access.MsgOrgQuotaExceeded}
)

// enforceOrgs reports whether organisation rate limits and quotas apply:
// the plugin's enforce_org_quotas, else the sidecar's --enforce-org-quotas.
func (r *Root) enforceOrgs() bool {
	switch r.cfg.EnforceOrgQuotas {
	case config.On:
		return true
	case config.Off:
		return false
	}
	return r.sync.enforceOrgs
}

// orgBucketKey is the shared-data key of an organisation's rate-limit
// bucket.
func orgBucketKey(orgID string) string { return "tp/o/" + orgID }

// enforceOrg applies org's rate limit, then takes a unit of its quota.
func (h *httpContext) enforceOrg(org *model.OrgSession) verdict {
	r := h.root
	lim := access.OrgLimit(org)
	if lim.RateLimited() {
		res, ok := h.take(orgBucketKey(org.OrgID), ratelimit.Limit{Rate: lim.Rate, Per: lim.Per}, nil)
		if !ok {
			return h.reply(unavailable(), outUnavailable)
		}
		if !res.Allowed {
			return h.reply(replyOrgRateLimited, outOrgRateLimited)
		}
	}
	if !lim.QuotaEnforced() {
		return next
	}
	h.orgQ = r.newQuotaUse(r.orgLease(org.OrgID), lim.QuotaMax, lim.QuotaRenewalRate)
	return h.orgQuotaDecided(h.takeQuota(&h.orgQ))
}

// orgQuotaDecided answers the organisation's quota outcome.
func (h *httpContext) orgQuotaDecided(_ quotaGrant, o quotaOutcome) verdict {
	switch o {
	case quotaWait:
		return wait
	case quotaExceeded:
		return h.reply(replyOrgQuotaExceeded, outOrgQuotaExceeded)
	case quotaFailure:
		return h.orgQuotaFailed()
	}
	return next
}

// orgQuotaFailed applies failure_mode.quota to the organisation's quota:
// closed answers 503; open admits and counts in shared data.
func (h *httpContext) orgQuotaFailed() verdict {
	r := h.root
	if r.cfg.QuotaFailure != config.Open {
		return h.reply(unavailable(), outUnavailable)
	}
	r.m.quotaLocal.Increment(1)
	q := &h.orgQ
	res, err := shm.Reserve(r.host, "tp/q/org/"+q.ref.org, q.max, q.rate, h.now/1e9)
	if err != nil {
		r.log(host.Error, "local quota state: "+err.Error())
		return h.reply(unavailable(), outUnavailable)
	}
	if res.Granted < 1 {
		return h.reply(replyOrgQuotaExceeded, outOrgQuotaExceeded)
	}
	return next
}
