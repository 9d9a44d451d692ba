"""Where a consent event came from, minimised before it is kept.

The IP address is truncated (IPv4 to /24, IPv6 to /48) before storage, and
the whole record is sealed under the subject's data key, so it disappears
with the subject's key."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass

from datasteward.errors import InvalidInput

__all__ = ["SourceDetails", "truncate_ip"]

MAX_USER_AGENT = 512


def truncate_ip(address: str) -> str:
    """``203.0.113.77`` -> ``203.0.113.0``; ``2001:db8:1:2::5`` -> ``2001:db8:1::``."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        raise InvalidInput(f"'{address}' is not an IP address") from None
    prefix = 24 if ip.version == 4 else 48
    network = ipaddress.ip_network(f"{ip}/{prefix}", strict=False)
    return str(network.network_address)


@dataclass(frozen=True)
class SourceDetails:
    """What the consent form, banner or API call told us about its origin."""

    ip: str | None = None
    user_agent: str | None = None
    reference: str | None = None

    def minimised(self) -> SourceDetails:
        return SourceDetails(
            ip=truncate_ip(self.ip) if self.ip else None,
            user_agent=(self.user_agent or None) and self.user_agent[:MAX_USER_AGENT],
            reference=self.reference,
        )

    def to_json(self) -> bytes:
        data = {
            k: v
            for k, v in (
                ("ip", self.ip),
                ("user_agent", self.user_agent),
                ("reference", self.reference),
            )
            if v
        }
        return json.dumps(data, sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> SourceDetails:
        data = json.loads(raw.decode("utf-8"))
        return cls(
            ip=data.get("ip"), user_agent=data.get("user_agent"), reference=data.get("reference")
        )
