"""The key directory: every agency's verified encryption keys, as a sender sees them.

Filled from key statements (bundle files, the trust topic). It answers one question
for a sender: which key does agency A encrypt to *now*? The answer is the key of
the statement with the latest ``not_before`` that is within its window: a newer
statement replaces an older one at once (rotation), and the older key is never
current again. If that newest key is revoked (in whatever order the revocation and
the statement arrive), the agency has no current key until it publishes a new one:
fail closed, rather than fall back to a key it has already retired. Each answer
re-checks the signing certificate in the trust store, so revoking that certificate
withdraws its keys immediately too.
"""

from __future__ import annotations

from datetime import datetime

from accord.confidentiality.keys import EncryptionPublicKey
from accord.confidentiality.statement import KeyStatement, verify_key_statement
from accord.errors import ReasonCode, Refused
from accord.trust import TrustStore

__all__ = ["KeyDirectory"]


class KeyDirectory:
    """Verified key statements per agency, and revocations by ekid."""

    def __init__(self, trust: TrustStore) -> None:
        self._trust = trust
        self._keys: dict[str, dict[str, KeyStatement]] = {}  # agency -> ekid -> statement
        self._revoked: set[tuple[str, str]] = set()  # (agency, ekid)

    def add(self, raw: bytes, *, now: datetime) -> KeyStatement:
        """Verify and record a key statement or revocation; Refused when it is not valid."""
        statement = verify_key_statement(raw, self._trust, now=now)
        if statement.revoked:
            self._revoked.add((statement.agency, statement.ekid))
        else:
            self._keys.setdefault(statement.agency, {})[statement.ekid] = statement
        return statement

    def add_bundle(self, data: bytes, *, now: datetime, max_lines: int = 10_000) -> int:
        """Add a statements bundle: one compact JWS per line (``accord keys bundle``).

        All or nothing: the first statement that does not verify raises Refused and
        nothing of the bundle is kept. Returns the number of statements added.
        """
        lines = [line for line in data.splitlines() if line.strip()]
        if len(lines) > max_lines:
            raise Refused(
                ReasonCode.OVERSIZED, f"bundle has {len(lines)} statements, limit {max_lines}"
            )
        staged = KeyDirectory(self._trust)
        staged._keys = {a: dict(k) for a, k in self._keys.items()}
        staged._revoked = set(self._revoked)
        for line in lines:
            staged.add(line.strip(), now=now)
        self._keys, self._revoked = staged._keys, staged._revoked
        return len(lines)

    @property
    def trust(self) -> TrustStore:
        """The trust store statements are verified against."""
        return self._trust

    def is_revoked(self, agency: str, ekid: str) -> bool:
        return (agency, ekid) in self._revoked

    def current(self, agency: str, *, now: datetime) -> EncryptionPublicKey | None:
        """The key to encrypt to for ``agency`` now, or None when it has none."""
        best: KeyStatement | None = None
        for statement in self._keys.get(agency, {}).values():
            if not statement.active_at(now):
                continue
            try:
                self._trust.validate(statement.signing_kid, now)
            except Refused:
                continue  # its signing certificate was revoked or has expired
            if best is None or (statement.not_before, statement.issued_at) > (
                best.not_before,
                best.issued_at,
            ):
                best = statement
        if best is None or (agency, best.ekid) in self._revoked:
            return None
        return best.public
