"""The connectors agentledger has, by the ``system`` part of the resource keys they serve."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from domain.values import ResourceRef
from infra.connectors.base import Connector


class UnknownSystem(KeyError):
    """No connector serves this system: the resource key names a system we do not govern."""

    def __init__(self, system: str, known: Iterable[str]) -> None:
        """Name the unknown system and the ones there are."""
        names = ", ".join(sorted(known)) or "none"
        self.message = f"no connector for system {system!r} (known systems: {names})"
        super().__init__(self.message)
        self.system = system

    def __str__(self) -> str:
        """The message itself (``KeyError`` would show its repr)."""
        return self.message


class Connectors(Mapping[str, Connector]):
    """An immutable mapping system → connector, one connector per system."""

    def __init__(self, connectors: Iterable[Connector]) -> None:
        """Index ``connectors`` by their system; two for the same system is an error."""
        self._by_system: dict[str, Connector] = {}
        for connector in connectors:
            if connector.system in self._by_system:
                raise ValueError(f"two connectors for system {connector.system!r}")
            self._by_system[connector.system] = connector

    def __getitem__(self, system: str) -> Connector:
        """The connector of ``system``, or :class:`UnknownSystem`."""
        try:
            return self._by_system[system]
        except KeyError:
            raise UnknownSystem(system, self._by_system) from None

    def __iter__(self) -> Iterator[str]:
        """The systems, in the order the connectors were given."""
        return iter(self._by_system)

    def __len__(self) -> int:
        """How many systems there are."""
        return len(self._by_system)

    def for_resource(self, resource: ResourceRef) -> Connector:
        """The connector serving ``resource`` (by its ``system``), or :class:`UnknownSystem`."""
        return self[resource.system]

    def close(self) -> None:
        """Close every connector, even if one of them fails; the first failure is re-raised."""
        failure: Exception | None = None
        for connector in self._by_system.values():
            try:
                connector.close()
            except Exception as exc:  # noqa: BLE001  # close the others, then report it
                failure = failure or exc
        if failure is not None:
            raise failure
