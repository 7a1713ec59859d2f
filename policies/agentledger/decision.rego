# The decision on one proposed action.
#
# Input (built by infra/policy/inputs.py, documented in policies/README.md):
# proposal, action (the catalog's declaration), agent, resource (actual state or
# "unknown"), history, now_ms.
# Output (data.agentledger.decision.result):
#   {"outcome": "allow"|"deny"|"require_approval",
#    "reasons": [{"code", "message"}], "obligations": {...}}
# Deterministic: time arrives as input.now_ms, history as input.history.
package agentledger.decision

import rego.v1

config := data.agentledger.config

proposal := input.proposal

agent := input.agent

# What the action catalog declares the action type does. Rules read this, never the name
# (the decider rejects a type outside the catalog before the policy runs).
action := object.get(input, "action", {"effect": "unknown", "risk": "high", "reversible": false, "undoes": null})

cost := object.get(proposal, "estimated_cost", 0)

# The money parameters the catalog declares, as decimals (sent as numbers or strings).
amounts := [a | some a in object.get(proposal, "amounts", {})]

# The largest amount, and the larger of it and the estimated cost. Written with plain
# comparisons: regopy's max() misorders mixed integers and floats (the OPA conformance
# test caught it).
param_amount := a if {
	some a in amounts
	count([b | some b in amounts; b > a]) == 0
} else := 0

amount := param_amount if param_amount > cost

else := cost

# ---- deny -------------------------------------------------------------------------------

deny contains "agent_suspended" if agent.suspended

deny contains "scope_missing" if not in_scope

deny contains "action_type_forbidden" if proposal.action_type in config.denied_action_types

deny contains "rate_limited_agent" if {
	input.history.agent.last_minute >= config.rate_limits.agent_per_minute
}

deny contains "rate_limited_resource" if {
	input.history.resource.last_minute >= config.rate_limits.resource_per_minute
}

in_scope if "*" in agent.scopes

in_scope if concat(":", [proposal.resource.system, "*"]) in agent.scopes

in_scope if concat(":", [proposal.resource.system, proposal.action_type]) in agent.scopes

# A compensation is in scope wherever what it undoes is.
in_scope if concat(":", [proposal.resource.system, action.undoes]) in agent.scopes

# ---- require approval ----------------------------------------------------------------------

approval contains "high_risk_action" if action.risk == "high"

# A compensation cannot be undone either, but it restores what was there: it needs none.
approval contains "irreversible_action" if {
	not action.reversible
	action.undoes == null
}

approval contains "amount_above_threshold" if amount > config.approval_amount_threshold

# A cost that leaves less than a fraction of any period's limit (the decider refuses one
# that runs over before the policy runs).
approval contains "budget_near_limit" if {
	cost > 0
	some period in agent.budget.periods
	period.limit != null
	period.available - cost < period.limit * config.budget_near_limit_fraction
}

approval contains "low_confidence" if proposal.confidence < config.min_confidence

approval contains "first_contact" if not input.history.agent_touched_resource

# ---- notes (never change the outcome) -----------------------------------------------------

notes contains "resource_state_unknown" if input.resource.state == "unknown"

# ---- messages -----------------------------------------------------------------------------

# Messages are functions, so only the codes that fire are formatted.
message("agent_suspended") := sprintf("agent %s is suspended: nothing new is authorized", [agent.id])

message("scope_missing") := sprintf(
	"agent %s has no scope for %s on %s",
	[agent.id, proposal.action_type, proposal.resource.system],
)

message("action_type_forbidden") := sprintf("action type %s is never allowed", [proposal.action_type])

# Messages print integers only: regopy and OPA format floats differently in sprintf
# (0.6899999999999999 against 0.69); the exact figures are in the recorded input.
message("budget_near_limit") := sprintf(
	"the estimated cost leaves less than %v percent of the agent's budget for a period",
	[round(config.budget_near_limit_fraction * 100)],
)

message("rate_limited_agent") := sprintf(
	"agent %s reached %v decisions in the last minute",
	[agent.id, config.rate_limits.agent_per_minute],
)

message("rate_limited_resource") := sprintf(
	"resource %s reached %v decisions in the last minute",
	[proposal.resource.key, config.rate_limits.resource_per_minute],
)

message("high_risk_action") := sprintf("the action catalog declares %s high risk", [proposal.action_type])

message("irreversible_action") := sprintf("the action catalog declares that %s cannot be undone", [proposal.action_type])

message("amount_above_threshold") := sprintf(
	"the amount is above the approval threshold of %v",
	[config.approval_amount_threshold],
)

message("low_confidence") := sprintf(
	"agent confidence of %v percent is below %v percent",
	[round(proposal.confidence * 100), round(config.min_confidence * 100)],
)

message("first_contact") := sprintf(
	"agent %s never acted on %s before",
	[agent.id, proposal.resource.key],
)

message("resource_state_unknown") := "the actual state of the resource is not known yet; the executor re-checks preconditions"

reasons_for(codes) := [{"code": code, "message": message(code)} | some code in sort([c | some c in codes])]

# ---- outcome and obligations ---------------------------------------------------------------

outcome := "deny" if {
	count(deny) > 0
} else := "require_approval" if {
	count(approval) > 0
} else := "allow"

reasons := reasons_for(deny) if {
	outcome == "deny"
} else := array.concat(reasons_for(approval), reasons_for(notes))

role_set contains role if {
	some code in approval
	some role in config.roles[code]
}

roles := sort([role | some role in role_set])

approvals_required := 2 if {
	"high_risk_action" in approval
} else := 1 if {
	count(approval) > 0
} else := 0

approval_ttl_seconds := config.high_risk_approval_ttl_seconds if {
	"high_risk_action" in approval
} else := config.approval_ttl_seconds if {
	count(approval) > 0
} else := null

obligations := {
	"approvals_required": approvals_required,
	"approver_roles": roles,
	"approval_ttl_seconds": approval_ttl_seconds,
} if {
	outcome != "deny"
} else := {
	"approvals_required": 0,
	"approver_roles": [],
	"approval_ttl_seconds": null,
}

result := {
	"outcome": outcome,
	"reasons": reasons,
	"obligations": obligations,
}
