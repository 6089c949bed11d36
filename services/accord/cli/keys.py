"""``accord keys``: agency encryption keys (ML-KEM-768 + X25519), statements, revocation.

Keys live in the PKI directory (layout: accord.confidentiality.files). Passphrases
come from environment variables named by ``--passphrase-env`` (the encryption key)
and ``--signing-passphrase-env`` (the agency's signing key, which signs the
statement), never from the command line.
"""

from __future__ import annotations

from pathlib import Path

import click

from accord.cli.pki import _secret
from accord.confidentiality.files import KEYS_BUNDLE, EncryptionKeyFiles
from accord.errors import PkiError

_DIR = click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    required=True,
    help="PKI directory (the one `accord pki` manages).",
)
_AGENCY = click.option("--agency", required=True, help="e.g. JPN.MOFA")
_PASS = click.option(
    "--passphrase-env", metavar="VAR", help="Encrypt the new encryption key with this variable."
)
_SIGNING_PASS = click.option(
    "--signing-passphrase-env",
    metavar="VAR",
    help="Variable holding the agency signing key's passphrase.",
)
_DAYS = click.option("--days", default=90, show_default=True, type=click.IntRange(1, 3650))


@click.group("keys")
def keys() -> None:
    """Manage agency encryption keys and their signed key statements."""


def _issue(
    agency: str,
    directory: Path,
    days: int,
    passphrase_env: str | None,
    signing_passphrase_env: str | None,
    *,
    rotate: bool,
) -> None:
    ekid = EncryptionKeyFiles(directory).issue(
        agency,
        passphrase=_secret(passphrase_env),
        signing_passphrase=_secret(signing_passphrase_env),
        valid_days=days,
        rotate=rotate,
    )
    click.echo(f"{agency} ekid={ekid}")


@keys.command("issue")
@_AGENCY
@_DIR
@_DAYS
@_PASS
@_SIGNING_PASS
def issue(
    agency: str,
    directory: Path,
    days: int,
    passphrase_env: str | None,
    signing_passphrase_env: str | None,
) -> None:
    """Create an agency's first encryption key and sign its key statement."""
    _issue(agency, directory, days, passphrase_env, signing_passphrase_env, rotate=False)


@keys.command("rotate")
@_AGENCY
@_DIR
@_DAYS
@_PASS
@_SIGNING_PASS
def rotate(
    agency: str,
    directory: Path,
    days: int,
    passphrase_env: str | None,
    signing_passphrase_env: str | None,
) -> None:
    """A new encryption key; senders use it at once, the old one still opens old messages."""
    _issue(agency, directory, days, passphrase_env, signing_passphrase_env, rotate=True)


@keys.command("revoke")
@_AGENCY
@_DIR
@click.option("--ekid", required=True, help="The key to revoke (see `accord keys show`).")
@_SIGNING_PASS
def revoke(agency: str, directory: Path, ekid: str, signing_passphrase_env: str | None) -> None:
    """Sign a revocation: the key is never a recipient again."""
    EncryptionKeyFiles(directory).revoke(
        agency, ekid, signing_passphrase=_secret(signing_passphrase_env)
    )
    click.echo(f"revoked {agency} ekid={ekid}")


@keys.command("bundle")
@_DIR
@click.option("--out", type=click.Path(path_type=Path), help="Default: DIR/keys.jwsl")
def bundle(directory: Path, out: Path | None) -> None:
    """Write every key statement and revocation, one per line (public; ship with bundle.pem)."""
    target = out if out is not None else directory / KEYS_BUNDLE
    target.write_bytes(EncryptionKeyFiles(directory).bundle())
    click.echo(f"wrote {target}")


@keys.command("publish")
@_AGENCY
@_DIR
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(path_type=Path),
    default=None,
    help="The plan whose key topics to use (default: $ACCORD_PLAN or deploy/plan.yaml).",
)
@click.option(
    "--bootstrap",
    default=None,
    help="Default: $ACCORD_BOOTSTRAP_SERVERS. Log in as the agency "
    "(ACCORD_KAFKA_USERNAME/PASSWORD): only it may write its key topic.",
)
def publish(agency: str, directory: Path, plan_path: Path | None, bootstrap: str | None) -> None:
    """Put the agency's key statements and revocations on its key topic.

    Running nodes read them at once: a new or rotated key becomes a recipient, a
    revoked one stops being one. Refuses, before sending anything, a statement that
    does not verify.
    """
    import asyncio

    from accord.confidentiality.feed import publish_key_statements
    from accord.config import load_connection
    from accord.kafka import node_errors
    from accord.plan import load_plan

    plan = load_plan(plan_path)
    plan.agency(agency)
    files = EncryptionKeyFiles(directory)
    statements = files.agency_statements(agency)
    if not statements:
        raise PkiError(
            f"{agency} has no encryption key in {directory}", hint="run `accord keys issue` first"
        )
    conn = load_connection(bootstrap_servers=bootstrap, client_id="accord-keys")
    topic = plan.keys_topic(agency)
    with node_errors(conn, doing="write", resource=topic):
        count = asyncio.run(
            publish_key_statements(conn, topic, agency, statements, files.pki.trust_store())
        )
    click.echo(f"published {count} key statements to {topic}")


@keys.command("show")
@_DIR
def show(directory: Path) -> None:
    """List encryption keys: ekid, validity, current, revoked (statements verified)."""
    files = EncryptionKeyFiles(directory)
    rows = files.show(files.pki.trust_store())
    if not rows:
        click.echo("no encryption keys")
    for row in rows:
        flags = ",".join(f for f, on in (("current", row.current), ("revoked", row.revoked)) if on)
        window = (
            (f"not_before={row.not_before.isoformat()} not_after={row.not_after.isoformat()}")
            if row.not_before and row.not_after
            else ""
        )
        click.echo(f"{row.agency} ekid={row.ekid} {window} {flags}".rstrip())
