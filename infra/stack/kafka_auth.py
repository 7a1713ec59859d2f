"""How the local broker authenticates and authorizes every connection.

Clients and the broker's own inter-broker traffic use the ``CLIENT`` listener with
SASL/SCRAM-SHA-512: salted credentials live in the cluster metadata, one user per
principal, made through the admin API, and the password never crosses the wire. The
``CONTROLLER`` listener accepts only the controller's own SASL/PLAIN user: KRaft cannot
use SCRAM there, because a controller must authenticate before the metadata holding
SCRAM credentials can be read. ``StandardAuthorizer`` with no matching ACL means no
access. The super users are the broker, the controller and the operator; the broker's
and the operator's SCRAM credentials are written into the metadata when the log dir is
formatted, so the first admin call already authenticates.
"""

from __future__ import annotations

from infra.stack.secrets import Secrets

SCRAM_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"
PLAIN_MODULE = "org.apache.kafka.common.security.plain.PlainLoginModule"
SUPER_USERS = ("broker", "controller", "operator")


def auth_properties(secrets: Secrets, client_port: int, controller_port: int) -> list[str]:
    """The listener, SASL and authorizer lines of ``server.properties``."""
    broker, control = secrets.get("kafka.broker"), secrets.get("kafka.controller")
    client_login = f'{SCRAM_MODULE} required username="broker" password="{broker}";'
    controller_login = (
        f'{PLAIN_MODULE} required username="controller" password="{control}"'
        f' user_controller="{control}";'
    )
    return [
        f"listeners=CLIENT://127.0.0.1:{client_port},CONTROLLER://127.0.0.1:{controller_port}",
        f"advertised.listeners=CLIENT://127.0.0.1:{client_port}",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=CLIENT",
        "listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
        "listener.name.client.sasl.enabled.mechanisms=SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
        f"listener.name.client.scram-sha-512.sasl.jaas.config={client_login}",
        "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
        "sasl.mechanism.controller.protocol=PLAIN",
        f"listener.name.controller.plain.sasl.jaas.config={controller_login}",
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found=false",
        "super.users=" + ";".join(f"User:{user}" for user in SUPER_USERS),
    ]


def format_scram_arguments(secrets: Secrets, operator_password: str) -> list[str]:
    """The storage tool's ``--add-scram`` arguments for the broker and the operator."""
    users = {"broker": secrets.get("kafka.broker"), "operator": operator_password}
    return [
        argument
        for user, password in users.items()
        for argument in ("--add-scram", f"SCRAM-SHA-512=[name={user},password={password}]")
    ]
