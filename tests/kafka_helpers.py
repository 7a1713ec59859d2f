"""Kafka clients for tests: the operator's (a super user), or any principal's."""

from __future__ import annotations

from typing import Any

from agentledger.bootstrap import enroll_agent
from agentledger.client import Client
from agentledger.credentials import kafka_access
from agentledger.settings import Settings
from agentledger.signing_keys import new_agent_key
from infra.kafka_acls import OPERATOR
from infra.kafka_config import KafkaAccess, client_config


def operator(settings: Settings) -> KafkaAccess:
    """The operator's credential for the brokers of ``settings``."""
    return kafka_access(settings, OPERATOR)


def as_operator(settings: Settings) -> dict[str, Any]:
    """A client configuration authenticated as the operator (tests look at everything)."""
    return client_config(operator(settings))


def enrolled_client(agent_id: str, settings: Settings) -> Client:
    """An SDK client for ``agent_id``, whose Kafka user and key are made first.

    As ``agent register`` does, except that the key is not registered on the agent: see
    :func:`tests.decider_helpers.register`.
    """
    enroll_agent(settings, agent_id)
    new_agent_key(settings, agent_id)
    return Client(agent_id, settings)
