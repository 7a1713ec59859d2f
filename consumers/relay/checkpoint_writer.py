"""The relay's signed checkpoints: on their topic inside a batch's transaction, then exported."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from confluent_kafka import Producer

from consumers.relay.position import Position
from infra.checkpoints import Checkpoint, exported
from infra.provenance import RecordSigner

log = logging.getLogger("agentledger.relay")


class CheckpointWriter:
    """Signs a checkpoint of the relay's position at most every ``interval_s``."""

    def __init__(  # noqa: PLR0913  # where checkpoints go, who signs them, how often
        self, topic: str, ledger: str, signer: RecordSigner, *, export_dir: Path,
        interval_s: float, clock: Callable[[], datetime],
    ) -> None:  # fmt: skip
        """Checkpoints of ledger ``ledger`` to ``topic`` (full name) and ``export_dir``."""
        self._topic, self._ledger, self._signer = topic, ledger, signer
        self._dir, self._interval_s, self._clock = export_dir, interval_s, clock
        self._last = float("-inf")
        self._covered = -1

    def behind(self, position: Position) -> bool:
        """Whether ``position`` is past the last checkpoint and one is due."""
        due = time.monotonic() - self._last >= self._interval_s
        return due and position.notification_id > self._covered

    def produce(self, producer: Producer, position: Position) -> Checkpoint | None:
        """If one is due, the checkpoint of ``position``, produced in the open transaction."""
        if time.monotonic() - self._last < self._interval_s:
            return None
        checkpoint = Checkpoint(
            self._ledger, position.notification_id, position.notifications,
            position.store_digest, position.since, self._clock().isoformat(),
            dict(position.chains),
        )  # fmt: skip
        payload, key = checkpoint.encode(), self._ledger.encode()
        headers = self._signer.headers(self._topic, 0, key, payload)
        producer.produce(self._topic, value=payload, key=key, partition=0, headers=[*headers])
        return checkpoint

    def committed(self, checkpoint: Checkpoint) -> None:
        """Export ``checkpoint`` once its transaction committed (a failure is logged)."""
        self._last, self._covered = time.monotonic(), checkpoint.notification_id
        name = f"checkpoint-{checkpoint.notification_id:015d}.json"
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            partial = self._dir / f".{name}.partial"
            partial.write_bytes(exported(checkpoint, self._signer, self._topic))
            partial.replace(self._dir / name)
        except OSError:
            log.exception("checkpoint %d not exported to %s (it is on %s)",
                          checkpoint.notification_id, self._dir, self._topic)  # fmt: skip
