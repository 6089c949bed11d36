"""``accord pki``: country roots, agency certificates, rotation, revocation, bundles.

Passphrases are read from environment variables named by ``--passphrase-env`` /
``--ca-passphrase-env``, never from the command line (where ``ps`` would show them).
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from accord.errors import PkiError
from accord.parties import Country
from accord.trust.certs import kid_of
from accord.trust.pki import PkiDirectory

_DIR = click.option("--dir", "directory", type=click.Path(path_type=Path), required=True,
                    help="PKI directory (layout: see accord.trust.pki).")
_CA_PASS = click.option("--ca-passphrase-env", metavar="VAR",
                        help="Environment variable holding the root key's passphrase.")


def _secret(var: str | None) -> bytes | None:
    if var is None:
        return None
    value = os.environ.get(var)
    if not value:
        raise PkiError(f"environment variable {var} is not set or empty",
                       hint=f"export {var}=... before running the command")
    return value.encode()


def _country(value: str) -> Country:
    try:
        return Country(value.upper())
    except ValueError:
        raise PkiError(f"unknown country {value!r}", hint="use JPN, AUS or USA") from None


@click.group("pki")
def pki() -> None:
    """Manage the X.509 PKI: roots per country, agency signing certificates, CRLs."""


@pki.command("init-root")
@click.option("--country", required=True, help="JPN, AUS or USA")
@_DIR
@click.option("--days", default=3650, show_default=True, type=click.IntRange(1, 36500))
@click.option("--passphrase-env", metavar="VAR", help="Encrypt the root key with this variable.")
def init_root(country: str, directory: Path, days: int, passphrase_env: str | None) -> None:
    """Create a country root CA (Ed25519) and its empty CRL."""
    cert = PkiDirectory(directory).init_root(
        _country(country), valid_days=days, passphrase=_secret(passphrase_env)
    )
    click.echo(f"root {country.upper()} kid={kid_of(cert)}")


def _issue(agency: str, directory: Path, days: int, passphrase_env: str | None,
           ca_passphrase_env: str | None, *, rotate: bool) -> None:
    cert = PkiDirectory(directory).issue(
        agency, valid_days=days, passphrase=_secret(passphrase_env),
        ca_passphrase=_secret(ca_passphrase_env), rotate=rotate,
    )
    click.echo(f"{agency} kid={kid_of(cert)} not_after={cert.not_valid_after_utc.isoformat()}")


@pki.command("issue")
@click.option("--agency", required=True, help="e.g. JPN.MOFA")
@_DIR
@click.option("--days", default=365, show_default=True, type=click.IntRange(1, 3650))
@click.option("--passphrase-env", metavar="VAR", help="Encrypt the new key with this variable.")
@_CA_PASS
def issue(agency: str, directory: Path, days: int, passphrase_env: str | None,
          ca_passphrase_env: str | None) -> None:
    """Issue an agency's first signing key and certificate."""
    _issue(agency, directory, days, passphrase_env, ca_passphrase_env, rotate=False)


@pki.command("rotate")
@click.option("--agency", required=True, help="e.g. JPN.MOFA")
@_DIR
@click.option("--days", default=365, show_default=True, type=click.IntRange(1, 3650))
@click.option("--passphrase-env", metavar="VAR", help="Encrypt the new key with this variable.")
@_CA_PASS
def rotate(agency: str, directory: Path, days: int, passphrase_env: str | None,
           ca_passphrase_env: str | None) -> None:
    """Issue a new key and certificate; the old one stays valid (overlap) until revoked."""
    _issue(agency, directory, days, passphrase_env, ca_passphrase_env, rotate=True)


@pki.command("revoke")
@click.option("--agency", required=True, help="e.g. JPN.MOFA")
@_DIR
@click.option("--kid", help="The certificate to revoke (see `accord pki show`).")
@click.option("--all", "everything", is_flag=True, help="Revoke every certificate of the agency.")
@click.option("--crl-days", default=30, show_default=True, type=click.IntRange(1, 3650),
              help="Days until the new CRL's next_update.")
@_CA_PASS
def revoke(agency: str, directory: Path, kid: str | None, everything: bool, crl_days: int,
           ca_passphrase_env: str | None) -> None:
    """Revoke a certificate: reissue the country root's CRL."""
    kids = PkiDirectory(directory).revoke(
        agency, kid=kid, everything=everything, ca_passphrase=_secret(ca_passphrase_env),
        crl_days=crl_days,
    )
    for revoked in kids:
        click.echo(f"revoked {agency} kid={revoked}")


@pki.command("bundle")
@_DIR
@click.option("--out", type=click.Path(path_type=Path), help="Default: DIR/bundle.pem")
def bundle(directory: Path, out: Path | None) -> None:
    """Write the trust bundle: roots, agency certificates and CRLs in one PEM file."""
    path = PkiDirectory(directory).write_bundle(out)
    click.echo(f"wrote {path}")


@pki.command("publish")
@_DIR
@click.option("--plan", "plan_path", type=click.Path(path_type=Path), default=None,
              help="The plan whose trust topic to use (default: $ACCORD_PLAN or deploy/plan.yaml).")
@click.option("--bootstrap", default=None, help="Default: $ACCORD_BOOTSTRAP_SERVERS.")
def publish(directory: Path, plan_path: Path | None, bootstrap: str | None) -> None:
    """Publish agency certificates and CRLs on the trust topic (roots never travel).

    Running nodes fold them into their trust stores: this is how a rotation or a
    revocation reaches every node without a restart.
    """
    import asyncio

    from accord.config import load_connection
    from accord.plan import load_plan
    from accord.trust.feed import publish_trust

    plan = load_plan(plan_path)
    store = PkiDirectory(directory).trust_store()
    conn = load_connection(bootstrap_servers=bootstrap, client_id="accord-pki")
    count = asyncio.run(publish_trust(conn, plan.trust_topic, store.to_bundle(), roots=store))
    click.echo(f"published {count} certificates and CRLs to {plan.trust_topic}")


@pki.command("show")
@_DIR
def show(directory: Path) -> None:
    """List agency certificates: kid, validity, current, revoked."""
    rows = PkiDirectory(directory).show()
    if not rows:
        click.echo("no agency certificates")
    for row in rows:
        flags = ",".join(f for f, on in (("current", row.current), ("revoked", row.revoked)) if on)
        click.echo(f"{row.agency} kid={row.kid} not_before={row.not_before.isoformat()} "
                   f"not_after={row.not_after.isoformat()} {flags}".rstrip())
