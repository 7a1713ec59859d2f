"""The deployment's Kafka principals: SCRAM users with per-deployment passwords, and ACLs.

Made through the admin API as the operator, idempotently: a user is upserted with the
password the deployment's secrets hold (the broker only checks it at connect), and
creating an ACL binding that exists already changes nothing.
"""

from __future__ import annotations

from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialUpsertion,
)

from infra.kafka_acls import AGENT, SERVICES, bindings, principal_name
from infra.stack.secrets import Secrets

ITERATIONS = 8192
"""SCRAM-SHA-512 iterations (Kafka accepts 4096 to 16384; the cost is paid once per connect)."""
TIMEOUT_S = 30.0


def secret_name(user: str) -> str:
    """The deployment secret holding ``user``'s password."""
    return f"kafka.{user}"


def ensure_services(admin: AdminClient, secrets: Secrets, prefix: str) -> None:
    """Every service's user, and its rights on the topics of ``prefix``."""
    _upsert(admin, {service: secrets.get(secret_name(service)) for service in SERVICES})
    _grant(admin, [made for service in SERVICES for made in bindings(prefix, service, service)])


def enroll_agent(admin: AdminClient, secrets: Secrets, prefix: str, agent_id: str) -> str:
    """Agent ``agent_id``'s user (``agent.<id>``) and its rights; returns the user name."""
    user = principal_name(AGENT, agent_id)
    _upsert(admin, {user: secrets.get(secret_name(user))})
    _grant(admin, bindings(prefix, user, AGENT))
    return user


def revoke_prefix(admin: AdminClient, prefix: str) -> None:
    """Delete every binding on a resource named with ``prefix`` (a dropped deployment's)."""
    every = AclBindingFilter(
        ResourceType.ANY, None, ResourcePatternType.ANY, None, None,  # type: ignore[arg-type]  # None: any (the library's docs); its stubs say str
        AclOperation.ANY, AclPermissionType.ANY,
    )  # fmt: skip
    found = admin.describe_acls(every, request_timeout=TIMEOUT_S).result(TIMEOUT_S)
    mine = [_exactly(binding) for binding in found if binding.name.startswith(prefix)]
    if mine:
        for future in admin.delete_acls(mine, request_timeout=TIMEOUT_S).values():
            future.result(TIMEOUT_S)


def _upsert(admin: AdminClient, passwords: dict[str, str]) -> None:
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, ITERATIONS)
    alterations: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(user, info, password.encode())
        for user, password in passwords.items()
    ]
    futures = admin.alter_user_scram_credentials(alterations, request_timeout=TIMEOUT_S)
    for future in futures.values():
        future.result(TIMEOUT_S)


def _grant(admin: AdminClient, made: list[AclBinding]) -> None:
    if made:
        for future in admin.create_acls(made, request_timeout=TIMEOUT_S).values():
            future.result(TIMEOUT_S)


def _exactly(binding: AclBinding) -> AclBindingFilter:
    return AclBindingFilter(
        binding.restype, binding.name, binding.resource_pattern_type, binding.principal,
        binding.host, binding.operation, binding.permission_type,
    )  # fmt: skip
