"""The decider's policy bundle, reloaded when it changes on disk; a broken change is refused."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from consumers.decider.decider import Decider
from infra.policy.bundle import Bundle, BundleError, load_bundle
from infra.policy.engine import PolicyEngine

log = logging.getLogger("agentledger.decider")


class BundleWatch:
    """Called every few seconds: a new, sound bundle becomes the decider's, and is published."""

    def __init__(
        self, decider: Decider, path: Path, compiled: Callable[[Bundle], PolicyEngine]
    ) -> None:
        """Watch ``path`` for ``decider``; ``compiled`` turns a bundle into its engine."""
        self._decider, self._path, self._compiled = decider, path, compiled

    def __call__(self) -> None:
        """Load the bundle; switch to it if it changed and compiles, else keep the one in force."""
        try:
            bundle = load_bundle(self._path)
            if bundle.digest == self._decider.engine.digest:
                return
            self._decider.engine = self._compiled(bundle)
        except BundleError as exc:
            log.error("bundle change not applied; the active bundle stays: %s", exc)  # noqa: TRY400  # the message says it all
            return
        self._decider.publish_bundle()
        log.info("policy bundle %s (%s) active", bundle.digest[:12], bundle.version)
