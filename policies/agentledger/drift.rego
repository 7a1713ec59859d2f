# Drift verdicts for the reconciler: whether a divergence is ignored, and how severe it is.
#
# Input: {"class", "resource": {"system", "type", "id", "key"}, "field"}.
# Output (data.agentledger.drift.verdict): {"ignored": bool, "owned": bool, "severity": str}.
package agentledger.drift

import rego.v1

config := data.agentledger.config.drift

matches(pattern, value) if pattern == "*"

matches(pattern, value) if pattern == value

ignored if {
	some rule in config.ignore
	matches(rule.system, input.resource.system)
	matches(rule.type, input.resource.type)
	matches(rule.field, input.field)
}

owned if input.field in config.owned_fields[concat("/", [input.resource.system, input.resource.type])]

severity := config.severity[input.class] if {
	config.severity[input.class]
} else := config.default_severity

verdict := {
	"ignored": ignored,
	"owned": owned,
	"severity": severity,
}

default ignored := false

default owned := false
