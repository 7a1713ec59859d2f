"""The deployment's Kafka principals: SCRAM users with per-deployment passwords, and ACLs.

Made through the admin API as the operator, idempotently: a user is upserted with the
password the deployment's secrets hold (the broker only checks it at connect), creating
an ACL binding that exists already changes nothing, and a binding the table no longer
lists is withdrawn.
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

from infra.kafka_acls import AGENT, SERVICES, bindings, in_deployment, principal_name
from infra.stack.secrets import Secrets

ITERATIONS = 8192
"""SCRAM-SHA-512 iterations (Kafka accepts 4096 to 16384; the cost is paid once per connect)."""
TIMEOUT_S = 30.0


def secret_name(user: str) -> str:
    """The deployment secret holding ``user``'s password."""
    return f"kafka.{user}"


def ensure_services(admin: AdminClient, secrets: Secrets, prefix: str) -> None:
    """Every service's user, and exactly its rights on the topics of ``prefix``.

    Agents enrolled here before get exactly the table's rights again too: a right the
    table no longer grants (agents once read ``actions.v1``) is withdrawn at ``up``.
    """
    _upsert(admin, {service: secrets.get(secret_name(service)) for service in SERVICES})
    held = _every_binding(admin)
    agents = {
        b.principal.removeprefix("User:") for b in held
        if b.principal.startswith("User:agent.")
        and in_deployment(b.name, prefix, b.principal.removeprefix("User:"))
    }  # fmt: skip
    wanted = [made for service in SERVICES for made in bindings(prefix, service, service)]
    wanted += [made for user in agents for made in bindings(prefix, user, AGENT)]
    _grant_exactly(admin, wanted, set(SERVICES) | agents, prefix, held)


def enroll_agent(admin: AdminClient, secrets: Secrets, prefix: str, agent_id: str) -> str:
    """Agent ``agent_id``'s user (``agent.<id>``) and its rights; returns the user name."""
    user = principal_name(AGENT, agent_id)
    _upsert(admin, {user: secrets.get(secret_name(user))})
    _grant_exactly(admin, bindings(prefix, user, AGENT), {user}, prefix, _every_binding(admin))
    return user


def revoke_prefix(admin: AdminClient, prefix: str) -> None:
    """Delete every binding on a resource named with ``prefix`` (a dropped deployment's)."""
    mine = [_exactly(binding) for binding in _every_binding(admin)
            if binding.name.startswith(prefix)]  # fmt: skip
    if mine:
        for future in admin.delete_acls(mine, request_timeout=TIMEOUT_S).values():
            future.result(TIMEOUT_S)


def _every_binding(admin: AdminClient) -> list[AclBinding]:
    every = AclBindingFilter(
        ResourceType.ANY, None, ResourcePatternType.ANY, None, None,  # type: ignore[arg-type]  # None: any (the library's docs); its stubs say str
        AclOperation.ANY, AclPermissionType.ANY,
    )  # fmt: skip
    found: list[AclBinding] = admin.describe_acls(every, request_timeout=TIMEOUT_S).result(
        TIMEOUT_S
    )
    return found


def _upsert(admin: AdminClient, passwords: dict[str, str]) -> None:
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, ITERATIONS)
    alterations: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(user, info, password.encode())
        for user, password in passwords.items()
    ]
    futures = admin.alter_user_scram_credentials(alterations, request_timeout=TIMEOUT_S)
    for future in futures.values():
        future.result(TIMEOUT_S)


def _grant_exactly(
    admin: AdminClient, wanted: list[AclBinding], users: set[str], prefix: str,
    held: list[AclBinding],
) -> None:  # fmt: skip
    """Create ``wanted``; withdraw what else ``users`` hold in this deployment (``held``)."""
    keep = {_key(binding) for binding in wanted}
    stale = [
        _exactly(binding) for binding in held
        if binding.principal.removeprefix("User:") in users and _key(binding) not in keep
        and in_deployment(binding.name, prefix, binding.principal.removeprefix("User:"))
    ]  # fmt: skip
    if stale:
        for future in admin.delete_acls(stale, request_timeout=TIMEOUT_S).values():
            future.result(TIMEOUT_S)
    if wanted:
        for future in admin.create_acls(wanted, request_timeout=TIMEOUT_S).values():
            future.result(TIMEOUT_S)


def _key(binding: AclBinding) -> tuple[object, ...]:
    return (binding.restype, binding.name, binding.resource_pattern_type, binding.principal,
            binding.host, binding.operation, binding.permission_type)  # fmt: skip


def _exactly(binding: AclBinding) -> AclBindingFilter:
    return AclBindingFilter(
        binding.restype, binding.name, binding.resource_pattern_type, binding.principal,
        binding.host, binding.operation, binding.permission_type,
    )  # fmt: skip
