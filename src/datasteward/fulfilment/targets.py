"""The connected systems of one Fulfilment: connectors opened on first use
and kept, and the subject's scope in each. Pure: the connectors come from
the factory the caller hands in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from datasteward.errors import StewardError
from datasteward.fulfilment.locate import SubjectScope, locate
from datasteward.identity import Identity
from datasteward.policy.model import ConnectorKind, Policy, System
from datasteward.ports import ConnectorFactory, SystemConnector

__all__ = ["Connections", "SystemUnavailable", "Target", "identity_values"]


class SystemUnavailable(StewardError):
    """A system the plan covers cannot be reached now."""

    code = "system_unavailable"


@dataclass(frozen=True)
class Target:
    """One connected system with the subject's scope in it."""

    system: System
    connector: SystemConnector
    scope: SubjectScope


class Connections:
    """Connectors by system id, each built once by ``factory``."""

    def __init__(self, policy: Policy, factory: ConnectorFactory) -> None:
        self.policy = policy
        self.factory = factory
        self._connectors: dict[str, SystemConnector | None] = {}

    def close(self) -> None:
        for connector in self._connectors.values():
            if connector is not None:
                connector.close()
        self._connectors.clear()

    def connected_systems(self) -> list[System]:
        return [s for s in self.policy.systems if s.connector is not ConnectorKind.MANUAL]

    def connector(self, system: System) -> SystemConnector | None:
        """The system's connector, or None when its URL is not configured
        (the plan then says the system was not checked)."""
        if system.id not in self._connectors:
            self._connectors[system.id] = self.factory(system)
        return self._connectors[system.id]

    def target(self, system_id: str, kinds: set[str]) -> Target:
        system = self.policy.system(system_id)
        if system is None:  # pragma: no cover - plans only name the policy's systems
            raise SystemUnavailable(f"unknown system '{system_id}'")
        connector = self.connector(system)
        if connector is None:
            raise SystemUnavailable(
                f"system '{system_id}' has no connection URL; the plan would have said so"
            )
        return Target(system, connector, locate(system, kinds))


def identity_values(identities: Sequence[Identity]) -> dict[str, list[str]]:
    """The subject's values per identity kind, without repeats."""
    values: dict[str, list[str]] = {}
    for identity in identities:
        found = values.setdefault(identity.kind, [])
        if identity.value not in found:
            found.append(identity.value)
    return values
