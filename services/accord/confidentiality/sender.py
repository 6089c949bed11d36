"""The sending side: one CWK per recipient set and epoch, announced once.

``ContentEncryptor.cwk_for(recipients)`` returns the CWK to use and, when it had to
make a new one, the announcement to publish on the key topic *before* the message.
A new epoch starts when the set of (agency, ekid) pairs changes (a recipient rotated
or revoked its key, a need-to-know list differs) or the current CWK has reached its
``not_after``, so a rotated or revoked key stops being a recipient at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from accord.confidentiality.directory import KeyDirectory
from accord.confidentiality.keyring import Keyring
from accord.confidentiality.recipients import Recipient
from accord.confidentiality.wrap import Cwk, seal_cwk
from accord.trust import Signer

__all__ = ["ContentEncryptor", "SenderEncryption"]


class ContentEncryptor:
    """CWKs of one sender, by recipient set. Not thread-safe: one per publisher."""

    def __init__(
        self, signer: Signer, *, lifetime: timedelta = timedelta(hours=1), max_sets: int = 1024
    ) -> None:
        self._signer = signer
        self._lifetime = lifetime
        self._max_sets = max_sets
        self._cwks: dict[tuple[tuple[str, str], ...], Cwk] = {}

    def cwk_for(
        self, recipients: Sequence[Recipient], *, now: datetime | None = None
    ) -> tuple[Cwk, bytes | None]:
        """The CWK for ``recipients`` now, and a new announcement to publish (or None)."""
        at = now or datetime.now(UTC)
        pairs = tuple(sorted((r.agency, r.ekid) for r in recipients))
        cwk = self._cwks.get(pairs)
        # Leave a margin: a receiver checks not_after against its own clock later.
        if cwk is not None and at < cwk.not_after - self._lifetime / 10:
            return cwk, None
        cwk, announcement = seal_cwk(self._signer, recipients, now=at, lifetime=self._lifetime)
        if len(self._cwks) >= self._max_sets:
            self._cwks.clear()  # bounded; a cleared set just starts a new epoch
        self._cwks[pairs] = cwk
        return cwk, announcement


@dataclass
class SenderEncryption:
    """What a publisher needs to encrypt (accord.publisher.Publisher ``encryption=``).

    ``directory``: every agency's verified encryption keys (whom to encrypt to now);
    ``encryptor``: this agency's CWKs; ``keyring``: its own private keys, so it reads
    its own messages back (a release decrypts the original; the sender is always a
    recipient)."""

    directory: KeyDirectory
    encryptor: ContentEncryptor
    keyring: Keyring
