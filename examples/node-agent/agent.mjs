// An agent in Node.js: signs a proposal with Node's own crypto and sends it to the HTTP API.
//
//   AGENTLEDGER_API_URL=http://127.0.0.1:18000 AGENTLEDGER_AGENT_TOKEN=... \
//   AGENTLEDGER_AGENT_KEY_FILE=key.pem AGENT_ID=node-bot \
//   node agent.mjs crm/contact/42 contact.update upgrade-42 '{"tier": "gold"}'
//
// It prints the API's answer, then the decision once the ledger has one (exit 0), or
// exits 1 naming what went wrong. No dependency beyond Node 18+.
import { createHash, createPrivateKey, createPublicKey, sign } from "node:crypto";
import { readFileSync } from "node:fs";

// RFC 8785 (JCS): JSON.stringify writes numbers and strings as JCS does; members sorted
// by key (UTF-16 code units, which is what Array.prototype.sort compares).
export function canonical(value) {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  const members = Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`);
  return `{${members.join(",")}}`;
}

// The signing input of schemas/README.md ("Signed proposals").
export function signingInput(agentId, p) {
  return canonical({
    schema: "agentledger.v1.ActionProposed",
    agent_id: agentId,
    idempotency_key: p.idempotency_key,
    resource: p.resource,
    action_type: p.action_type,
    parameters: p.parameters ?? {},
    preconditions: p.preconditions ?? {},
    confidence: p.confidence ?? 1,
    estimated_cost: p.estimated_cost ?? null,
    plan_id: p.plan_id ?? null,
    rationale: p.rationale ?? null,
  });
}

export function keyId(privateKey) {
  const raw = Buffer.from(createPublicKey(privateKey).export({ format: "jwk" }).x, "base64url");
  return `ed25519:${createHash("sha256").update(raw).digest("hex").slice(0, 32)}`;
}

function need(name) {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name}`);
  return value;
}

async function main() {
  const [resource, actionType, idempotencyKey, parameters = "{}"] = process.argv.slice(2);
  if (!idempotencyKey) throw new Error("usage: agent.mjs RESOURCE ACTION_TYPE IDEMPOTENCY_KEY [PARAMETERS_JSON]");
  const api = need("AGENTLEDGER_API_URL");
  const headers = { Authorization: `Bearer ${need("AGENTLEDGER_AGENT_TOKEN")}`, "Content-Type": "application/json" };
  const key = createPrivateKey(readFileSync(need("AGENTLEDGER_AGENT_KEY_FILE")));
  const proposal = {
    resource, action_type: actionType, idempotency_key: idempotencyKey,
    parameters: JSON.parse(parameters), confidence: 0.9, estimated_cost: (1).toFixed(4),
  };
  const bytes = Buffer.from(signingInput(need("AGENT_ID"), proposal), "utf8");
  proposal.signature = { key_id: keyId(key), value: sign(null, bytes, key).toString("base64") };
  const sent = await fetch(`${api}/proposals`, { method: "POST", headers, body: JSON.stringify(proposal) });
  const accepted = await sent.json();
  console.log(JSON.stringify({ status: sent.status, ...accepted }));
  if (sent.status !== 202) process.exit(1);
  const deadline = Date.now() + Number(process.env.AGENT_WAIT_S ?? 30) * 1000;
  while (Date.now() < deadline) {
    const answer = await fetch(`${api}/actions/${accepted.action_id}/decision`, { headers });
    if (answer.status === 200) {
      console.log(JSON.stringify(await answer.json()));
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  console.error(`no decision on ${accepted.action_id} in time`);
  process.exit(1);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error) => {
    console.error(error.message);
    process.exit(1);
  });
}
