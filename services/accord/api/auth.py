"""Who may call a node's API: per-client bearer tokens, and/or mutual TLS.

The node keeps only SHA-256 digests of the tokens, in a small file of its own
(``clients: {name: "sha256:<hex>"}``), so a copy of the node's configuration
grants nothing. Tokens are 256-bit random strings made by ``accord api token``;
with that much entropy a plain digest is the right construction (a slow
password hash buys nothing and costs every request). Presented tokens are
compared against every stored digest with ``hmac.compare_digest``, never with
``==``, and without stopping at the first match.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml

from accord.errors import ConfigError

TOKEN_PREFIX = "acc_"  # noqa: S105 (a prefix, not a secret)
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_CLIENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def new_token() -> str:
    """A fresh client token: ``acc_`` and 43 url-safe characters (256 bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ClientTokens:
    """The API's clients, by name, each with the digest of its bearer token."""

    digests: dict[str, str]

    @classmethod
    def load(cls, path: Path) -> ClientTokens:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(
                f"cannot read API token file {path}: {exc.strerror}",
                hint="create it with `accord api token NAME --file PATH`",
            ) from None
        except yaml.YAMLError:
            raise ConfigError(
                f"API token file {path} is not valid YAML",
                hint="expected `clients: {name: sha256:<hex>}`",
            ) from None
        clients = doc.get("clients") if isinstance(doc, dict) else None
        if not isinstance(clients, dict):
            raise ConfigError(
                f"API token file {path} has no `clients` mapping",
                hint="expected `clients: {name: sha256:<hex>}`",
            )
        for name, digest in clients.items():
            if not (isinstance(name, str) and _CLIENT.match(name)):
                raise ConfigError(
                    f"API token file {path}: bad client name {name!r}",
                    hint="letters, digits, '.', '_' and '-', at most 64",
                )
            if not (isinstance(digest, str) and _DIGEST.match(digest)):
                # Never echo the value: it may be a token pasted by mistake.
                raise ConfigError(
                    f"API token file {path}: client {name!r} has no sha256 digest",
                    hint="store the digest printed by `accord api token`, never the token itself",
                )
        return cls(dict(clients))

    def client_for(self, token: str) -> str | None:
        """The client a presented token belongs to, or None; constant time per entry."""
        presented = token_digest(token).encode()
        found: str | None = None
        for name, digest in self.digests.items():
            if hmac.compare_digest(presented, digest.encode()):
                found = name
        return found


def add_client(path: Path, name: str) -> str:
    """Make a token for ``name``, store its digest in ``path``; return the token."""
    if not _CLIENT.match(name):
        raise ConfigError(
            f"bad client name {name!r}", hint="letters, digits, '.', '_' and '-', at most 64"
        )
    digests = ClientTokens.load(path).digests if path.exists() else {}
    token = new_token()
    digests[name] = token_digest(token)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"clients": digests}, sort_keys=True), encoding="utf-8")
    path.chmod(0o600)
    return token
