"""A receiving agency's keyring: its private encryption keys and the CWKs it opened.

It holds the current key and the previous ones (a rotation must lose nothing in
flight: a message sealed to the old key just before the rotation still opens), and a
bounded cache of opened content-wrapping keys by id.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from accord.confidentiality.body import EncryptedBody, decrypt_body
from accord.confidentiality.errors import NotARecipient, UnknownCwk
from accord.confidentiality.keys import EncryptionKeyPair
from accord.confidentiality.wrap import Cwk, open_announcement
from accord.errors import ReasonCode, Refused
from accord.trust import TrustStore

__all__ = ["Keyring"]

_V = TypeVar("_V")


class Keyring:
    """``agency``'s private keys (newest first) and the CWKs opened for it."""

    def __init__(
        self, agency: str, keys: Iterable[EncryptionKeyPair], *, max_cwks: int = 4096
    ) -> None:
        self.agency = agency
        self._keys = list(keys)
        if not self._keys:
            raise ValueError("a keyring needs at least one key")
        # Keyed by (sender, cwk_id): another agency announcing the same id (by chance or
        # on purpose) can never replace or shadow a sender's key.
        self._cwks: OrderedDict[tuple[str, bytes], Cwk] = OrderedDict()
        # CWKs announced without this agency: their bodies are not-a-recipient, not
        # unknown (the receiver must not hold them waiting for a key that never comes).
        self._not_mine: OrderedDict[tuple[str, bytes], str] = OrderedDict()
        self._max_cwks = max_cwks

    @property
    def current(self) -> EncryptionKeyPair:
        return self._keys[0]

    def add_key(self, key: EncryptionKeyPair) -> None:
        """A rotated-in key becomes current; the old ones stay for messages in flight."""
        self._keys.insert(0, key)

    def drop_key(self, ekid: str) -> None:
        """Forget a key for good (after its last messages are read, or on compromise)."""
        self._keys = [k for k in self._keys if k.ekid != ekid]

    def open(self, announcement: bytes, trust: TrustStore, *, now: datetime) -> Cwk:
        """Verify and open a key announcement, and remember the CWK (see open_announcement)."""
        try:
            cwk = open_announcement(announcement, trust, self.agency, self._keys, now=now)
        except NotARecipient as exc:
            if exc.cwk_id is not None and exc.sender is not None:
                self._remember(self._not_mine, (exc.sender, exc.cwk_id), exc.message)
            raise
        self._remember(self._cwks, (cwk.sender, cwk.cwk_id), cwk)
        return cwk

    def _remember(
        self, cache: OrderedDict[tuple[str, bytes], _V], key: tuple[str, bytes], value: _V
    ) -> None:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > self._max_cwks:
            cache.popitem(last=False)

    def decrypt(
        self,
        message_id: UUID,
        *,
        sender: str,
        header: bytes,
        label: bytes,
        body: bytes,
        entitled: Collection[str] | None = None,
    ) -> bytes:
        """Decrypt a verified message's body.

        ``sender`` is the verified sender: a CWK is only ever used for the sender that
        announced it, so one agency cannot reuse (or shadow) another's key. Raises UnknownCwk
        (announcement not opened yet: hold and retry after reading the key topic),
        NotARecipient, or Undecryptable.

        ``entitled``: the agencies that may read this message (``recipient_agencies``
        for its scope, area and label). When given, a CWK shared with anyone else is
        refused (``releasability-violation``): the receiver does not hand on a body
        its sender also encrypted to an agency the plan and label do not entitle.
        """
        parsed = EncryptedBody.from_bytes(body)
        key = (sender, parsed.cwk_id)
        cwk = self._cwks.get(key)
        if cwk is None and key in self._not_mine:
            raise NotARecipient(self._not_mine[key], cwk_id=parsed.cwk_id, sender=sender)
        if cwk is None:
            raise UnknownCwk(f"no opened content-wrapping key {parsed.cwk_id.hex()} from {sender}")
        if entitled is not None:
            extra = set(cwk.agencies) - set(entitled)
            if extra:
                raise Refused(
                    ReasonCode.RELEASABILITY_VIOLATION,
                    f"body is also encrypted to {', '.join(sorted(extra))}, not entitled to it",
                )
        return decrypt_body(cwk, message_id, header=header, label=label, body=parsed)
