"""The decider on the real stack: proposals on Kafka -> decisions and rejections on actions.v1."""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer

from agentledger.bootstrap import decider, ledger, system_context, topic_serdes
from agentledger.settings import Settings
from agentledger.signing_keys import service_key
from consumers.decider.decider import Decider
from consumers.decider.intake import Consumed
from domain.events import PolicyBundlePublished, ProposalRejected, ShadowDecisionDiffered
from domain.signing import as_service
from infra.ledger.ledger import Ledger
from infra.policy.bundle import load_bundle
from infra.policy.engine import PolicyEngine
from infra.policy.records import DecisionRecords
from infra.serde.deadletter import DeadLetter
from tests.decider_helpers import produce, proposal, read_topic, register, running
from tests.kafka_helpers import as_operator, enrolled_client

pytestmark = pytest.mark.integration
POLICIES = Path(__file__).resolve().parents[2] / "policies"


def _events(the_ledger: Ledger) -> int:
    return the_ledger.recorder.max_notification_id() or 0


def test_each_outcome_is_decided_with_its_bundle_and_an_input_that_re_evaluates_the_same(
    isolated: Settings, own_ledger: Ledger
) -> None:
    """allow, deny and require_approval reach actions.v1 with bundle digest, version and input digest; the stored input re-evaluates to the same decision."""
    register(own_ledger, "bot", scopes=["*"])
    bundle = load_bundle(POLICIES)
    with running(isolated, own_ledger):
        client = enrolled_client("bot", isolated)
        first = client.propose(
            resource="crm/contact/1", action_type="contact.update", idempotency_key="warm"
        )
        assert client.wait_for_decision(first, 60).outcome == "require_approval"  # first contact
        refs = {
            "allow": client.propose(resource="crm/contact/1", action_type="contact.update", idempotency_key="a"),
            "require_approval": client.propose(resource="crm/contact/1", action_type="contact.delete", idempotency_key="r"),
        }  # fmt: skip
        decisions = {name: client.wait_for_decision(ref, 60) for name, ref in refs.items()}
        with own_ledger.batch(system_context()) as tx:  # the kill switch: the policy denies
            tx.suspend_agent("bot", reason="kill switch", by="ops")
        deny = client.propose(
            resource="crm/contact/1", action_type="contact.update", idempotency_key="d"
        )
        decisions["deny"] = client.wait_for_decision(deny, 60)
        published = read_topic(isolated, "policies.v1", until=1)
    records = DecisionRecords(own_ledger.recorder)  # type: ignore[arg-type]  # the LedgerRecorder
    engine = PolicyEngine(bundle)
    for name, decision in decisions.items():
        assert decision.outcome == name
        assert (decision.bundle_digest, decision.bundle_version) == (bundle.digest, bundle.version)
        found = records.decision(decision.action_id)
        assert found is not None
        row, policy_input = found
        assert policy_input.digest == decision.input_digest == row.input_digest
        again = engine.evaluate(policy_input.document)
        assert (again.outcome.value, again.reasons) == (decision.outcome, decision.reasons)
    assert decisions["require_approval"].obligations is not None
    assert decisions["require_approval"].obligations.approvals_required == 2
    assert [type(r) for r in published] == [PolicyBundlePublished]
    assert published[0].bundle_digest == bundle.digest  # type: ignore[attr-defined]


def test_an_action_type_outside_the_catalog_or_parameters_that_break_it_are_rejected(
    isolated: Settings, own_ledger: Ledger
) -> None:
    """A name ending in .delete is no delete: outside the catalog it is rejected, not allowed.

    Parameters that break their declared types are rejected with the field named, and a
    compensation type proposed by an agent (it would skip the money rules) is the system's;
    none of them becomes an action.
    """
    register(own_ledger, "bot", scopes=["*"])
    with running(isolated, own_ledger):
        client = enrolled_client("bot", isolated)
        archive = client.propose(
            resource="crm/contact/8", action_type="contact.archive.delete", idempotency_key="a"
        )
        typed = client.propose(
            resource="billing/invoice/8", action_type="invoice.update", idempotency_key="b",
            parameters={"amount": "-5", "status": 7},
        )  # fmt: skip
        undo = client.propose(
            resource="billing/invoice/8", action_type="invoice.update.compensate",
            idempotency_key="c", parameters={"amount": "25000.00"},
        )  # fmt: skip
        refused = [client.wait_for_decision(ref, 60) for ref in (archive, typed, undo)]
    assert [(d.outcome, [r.code for r in d.reasons]) for d in refused] == [
        ("rejected", ["unknown_action_type"]), ("rejected", ["invalid_parameters"]),
        ("rejected", ["reserved_action_type"]),
    ]  # fmt: skip
    message = refused[1].reasons[0].message
    assert "amount: '-5' is not an amount of money" in message
    assert "status: 7 is not a string" in message
    for ref in (archive, typed, undo):
        assert ref.action_id not in own_ledger.repository


def test_unknown_agents_missing_scopes_duplicates_and_malformed_proposals_are_rejected_with_reasons(
    isolated: Settings, own_ledger: Ledger
) -> None:
    """Each refusal is a ProposalRejected with its code; a duplicate names the original action.

    A stranger's signature is no registered agent's key: unauthenticated. An agent nobody
    registered, vouched for by the API: unknown.
    """
    register(own_ledger, "bot", scopes=["crm:contact.update"])
    serde = topic_serdes(isolated, "proposals.v1")["proposals.v1"]
    with running(isolated, own_ledger):
        client = enrolled_client("bot", isolated)
        original = client.propose(
            resource="crm/contact/7", action_type="contact.update", idempotency_key="same"
        )
        client.wait_for_decision(original, 60)
        client.propose(
            resource="crm/contact/7", action_type="contact.update", idempotency_key="same"
        )
        client.propose(
            resource="billing/invoice/7", action_type="invoice.void", idempotency_key="out-of-scope"
        )
        enrolled_client("stranger", isolated).propose(
            resource="crm/contact/7", action_type="contact.update", idempotency_key="x"
        )
        bad = proposal("bot", "too-sure").model_copy(
            update={"confidence": 1.5}
        )  # bypasses validation
        vouched = as_service(service_key(isolated, "api"))(proposal("ghost", "x", signed_by=None))
        produce(isolated, [vouched])  # the API vouches for an agent nobody registered
        producer = Producer({**as_operator(isolated)})
        producer.produce(serde.topic, serde.serialize(bad), b"crm/contact/7")
        producer.flush(30)
        records = read_topic(isolated, "actions.v1", until=10**9, timeout_s=20)
    rejected = {r.reason.code: r for r in records if isinstance(r, ProposalRejected)}
    assert set(rejected) == {
        "duplicate",
        "scope_missing",
        "unauthenticated",
        "unknown_agent",
        "malformed",
    }
    assert rejected["unknown_agent"].agent_id == "ghost"
    assert rejected["unauthenticated"].agent_id is None  # the stranger's key is nobody's
    assert rejected["duplicate"].existing_action_id == original.action_id
    assert "confidence" in rejected["malformed"].reason.message
    assert rejected["malformed"].agent_id is None  # unauthenticated: what it claims is prose
    assert "'agent_id': 'bot'" in rejected["malformed"].reason.message
    assert all(r.source is not None for r in rejected.values())


def test_bytes_that_are_not_a_proposal_become_dead_letters_and_the_decider_goes_on(
    isolated: Settings, own_ledger: Ledger
) -> None:
    """Garbage and foreign framing are dead-lettered with code and origin; the next proposal is decided."""
    register(own_ledger, "bot")
    topic = isolated.topic("proposals.v1")
    with running(isolated, own_ledger):
        producer = Producer({**as_operator(isolated)})
        producer.produce(topic, b"\x07not avro at all", b"crm/contact/1")
        producer.produce(topic, b"\x00\x7f\xff\xff\xf0garbage", b"crm/contact/1")
        producer.flush(30)
        client = enrolled_client("bot", isolated)
        ref = client.propose(
            resource="crm/contact/1", action_type="contact.update", idempotency_key="after"
        )
        assert client.wait_for_decision(ref, 60).outcome in {"allow", "require_approval"}
        letters = read_topic(isolated, "deadletter.v1", until=2)
    assert sorted(letter.error_code for letter in letters if isinstance(letter, DeadLetter)) == [
        "not_confluent_avro", "unknown_schema_id",
    ]  # fmt: skip
    assert all(letter.origin.topic == topic for letter in letters if isinstance(letter, DeadLetter))


def test_a_redelivered_batch_has_no_second_effect(isolated: Settings, own_ledger: Ledger) -> None:
    """Handing the decider records it already applied (as a rebalance or restart would) changes nothing."""
    register(own_ledger, "bot")
    serde = topic_serdes(isolated, "proposals.v1")["proposals.v1"]
    the_decider = decider(isolated, own_ledger)
    batch = [
        Consumed(serde.topic, 0, offset, b"k", serde.serialize(proposal("bot", f"k{offset}")), {})
        for offset in range(20)
    ]
    first = the_decider.handle(batch)
    assert sum(first.decided.values()) == 20
    stored = _events(own_ledger)
    again = decider(isolated, own_ledger).handle(batch)
    assert again.skipped == 20
    overlapping = decider(isolated, own_ledger).handle([
        *batch[10:],
        Consumed(serde.topic, 0, 20, b"k", serde.serialize(proposal("bot", "k20")), {}),
    ])  # fmt: skip
    assert (overlapping.skipped, sum(overlapping.decided.values())) == (10, 1)
    assert _events(own_ledger) > stored
    assert the_decider.next_offsets(serde.topic) == {0: 21}


def test_a_decider_whose_known_positions_lag_the_ledger_still_applies_nothing_twice(
    isolated: Settings, own_ledger: Ledger
) -> None:
    """One instance moves on while another still knows older positions: the ledger refuses the overlap."""
    register(own_ledger, "bot")
    serde = topic_serdes(isolated, "proposals.v1")["proposals.v1"]
    batch = [
        Consumed(serde.topic, 0, offset, b"k", serde.serialize(proposal("bot", f"k{offset}")), {})
        for offset in range(21)
    ]
    first, second = decider(isolated, own_ledger), decider(isolated, own_ledger)
    assert sum(first.handle(batch[:10]).decided.values()) == 10
    assert first.handle(batch[:10]).skipped == 10, "its own batch again: known as done"
    assert sum(second.handle(batch[10:20]).decided.values()) == 10
    stored = _events(own_ledger)
    late = first.handle(batch[10:])  # first still knows offset 10 as next
    assert (late.skipped, sum(late.decided.values())) == (10, 1)
    assert _events(own_ledger) > stored
    assert first.next_offsets(serde.topic) == second.next_offsets(serde.topic) == {0: 21}


def test_a_new_consumer_group_resumes_from_the_positions_in_the_ledger(
    isolated: Settings, own_ledger: Ledger
) -> None:
    """Kafka offsets are only for lag: a fresh group seeks to the stored positions and re-decides nothing."""
    register(own_ledger, "bot")
    with running(isolated, own_ledger):
        client = enrolled_client("bot", isolated)
        refs = [
            client.propose(
                resource=f"crm/contact/{i}", action_type="contact.update", idempotency_key=f"g{i}"
            )
            for i in range(12)
        ]
        for ref in refs:
            client.wait_for_decision(ref, 60)
    stored = _events(own_ledger)
    with running(
        isolated, own_ledger, group_id=f"{isolated.topic_prefix}decider-{uuid.uuid4()}"
    ) as services:
        time.sleep(3)
        assert services[0].handled == 0
    assert _events(own_ledger) == stored


def test_two_deciders_in_one_group_share_the_partitions_and_decide_each_proposal_once(
    isolated: Settings, own_ledger: Ledger
) -> None:
    """Both instances get partitions; 60 proposals on many resources are each decided exactly once."""
    register(own_ledger, "bot")
    with running(isolated, own_ledger, deciders=2) as services:
        client = enrolled_client("bot", isolated)
        refs = [
            client.propose(
                resource=f"crm/contact/{i}", action_type="contact.update", idempotency_key=f"p{i}"
            )
            for i in range(60)
        ]
        for ref in refs:
            client.wait_for_decision(ref, 60)
        handled = [service.handled for service in services]
    assert all(count > 0 for count in handled), handled
    assert sum(handled) == 60
    records = DecisionRecords(own_ledger.recorder)  # type: ignore[arg-type]
    assert len({row.action_id for row, _ in records.all()}) == 60


def test_a_shadow_bundle_records_disagreements_and_is_never_enforced(
    isolated: Settings, own_ledger: Ledger, tmp_path: Path
) -> None:
    """A stricter candidate (min confidence 0.99) disagrees: ShadowDecisionDiffered is recorded, the active allow stands."""
    candidate = Path(shutil.copytree(POLICIES, tmp_path / "candidate"))
    data = candidate / "agentledger" / "config" / "data.json"
    config = json.loads(data.read_text())
    config["min_confidence"] = 0.99
    data.write_text(json.dumps(config))
    settings = isolated.model_copy(update={"shadow_bundle": candidate})
    register(own_ledger, "bot")
    with running(settings, own_ledger):
        client = enrolled_client("bot", settings)
        client.wait_for_decision(
            client.propose(
                resource="crm/contact/3", action_type="contact.update", idempotency_key="w"
            ),
            60,
        )
        ref = client.propose(
            resource="crm/contact/3",
            action_type="contact.update",
            idempotency_key="s",
            confidence=0.95,
        )
        assert client.wait_for_decision(ref, 60).outcome == "allow"
        records = read_topic(settings, "actions.v1", until=10**9, timeout_s=15)
    shadows = [r for r in records if isinstance(r, ShadowDecisionDiffered)]
    assert [
        (s.action_id, s.active_outcome, s.shadow_outcome)
        for s in shadows
        if s.action_id == ref.action_id
    ] == [(ref.action_id, "allow", "require_approval")]
    assert shadows[-1].shadow_bundle_digest == load_bundle(candidate).digest


def test_a_changed_bundle_is_published_and_decides_from_then_on_and_a_broken_one_is_refused(
    isolated: Settings, own_ledger: Ledger, tmp_path: Path
) -> None:
    """Editing the bundle on disk publishes the new digest and later decisions use it; a change that does not compile keeps the old bundle."""
    bundle_dir = Path(shutil.copytree(POLICIES, tmp_path / "live"))
    settings = isolated.model_copy(update={"policy_bundle": bundle_dir, "policy_reload_s": 0.2})
    register(own_ledger, "bot")
    with running(settings, own_ledger):
        client = enrolled_client("bot", settings)
        before = client.wait_for_decision(
            client.propose(
                resource="crm/contact/5", action_type="contact.update", idempotency_key="1"
            ),
            60,
        )
        data = bundle_dir / "agentledger" / "config" / "data.json"
        config = json.loads(data.read_text())
        config["denied_action_types"].append("contact.update")
        data.write_text(json.dumps(config))
        changed = load_bundle(bundle_dir)
        deadline = time.monotonic() + 30
        after = before
        while after.bundle_digest != changed.digest and time.monotonic() < deadline:
            after = client.wait_for_decision(
                client.propose(
                    resource="crm/contact/5",
                    action_type="contact.update",
                    idempotency_key=str(uuid.uuid4()),
                ),
                60,
            )
        (bundle_dir / "agentledger" / "oops.rego").write_text("package agentledger.oops\n\nx := {")
        time.sleep(1)
        still = client.wait_for_decision(
            client.propose(
                resource="crm/contact/5", action_type="contact.update", idempotency_key="last"
            ),
            60,
        )
        published = read_topic(settings, "policies.v1", until=2)
    assert before.bundle_digest != changed.digest
    assert (after.bundle_digest, after.outcome) == (changed.digest, "deny")
    assert "action_type_forbidden" in [r.code for r in after.reasons]
    assert still.bundle_digest == changed.digest
    digests = [r.bundle_digest for r in published if isinstance(r, PolicyBundlePublished)]
    assert sorted(digests) == sorted([str(before.bundle_digest), changed.digest])  # keyed by digest


def test_deciders_started_together_both_publish_the_bundle_without_failing(
    isolated: Settings,
) -> None:
    """Eight deciders on a fresh ledger record the bundle at one instant: one records it, none fails."""
    ledgers = [ledger(isolated) for _ in range(8)]
    deciders = [decider(isolated, one) for one in ledgers]
    start, results = threading.Barrier(len(deciders)), list[bool | BaseException]()

    def publish(one: Decider) -> None:
        start.wait(30)
        try:
            results.append(one.publish_bundle())
        except Exception as exc:  # noqa: BLE001  # a failure is the finding
            results.append(exc)

    threads = [threading.Thread(target=publish, args=(one,)) for one in deciders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for one in ledgers:
        one.close()
    assert sorted(map(str, results)) == ["False"] * 7 + ["True"]
