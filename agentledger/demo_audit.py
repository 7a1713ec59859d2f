"""The demo's last step: the audit checks what the demo wrote, as an auditor would."""

from __future__ import annotations

from rich.console import Console

from agentledger.bootstrap import audit_store, audit_topic
from agentledger.settings import Settings

TOPICS = ("actions.v1", "observations.v1", "drift.v1")


def run_audit(settings: Settings, out: Console) -> bool:
    """Audit the store and the signed topics; whether nothing was found."""
    store = audit_store(settings)
    out.print(
        f"[bold]14.[/] audit: {store.checked} stored events checked against their seals,"
        f" their chains and {store.basis}: {_verdict(store.findings)}"
    )
    clean = not store.findings
    for topic in TOPICS:
        result = audit_topic(settings, topic)
        out.print(f"   {topic}: {result.checked} records signed by their owner,"
                  f" {_verdict(result.findings)}")  # fmt: skip
        clean = clean and not result.findings
    return clean


def _verdict(findings: list[str]) -> str:
    if not findings:
        return "[green]nothing found[/]"
    return f"[red]{len(findings)} finding(s)[/], the first: {findings[0]}"
