"""``accord pki``: country roots, agency certificates, rotation, revocation, bundles.

Passphrases are read from environment variables named by ``--passphrase-env`` /
``--ca-passphrase-env``, never from the command line (where ``ps`` would show them).
"""

from __future__ import annotations

from pathlib import Path

import click

from accord.config import secret_from_env
from accord.errors import AccordError, PkiError
from accord.parties import Country
from accord.trust.certs import kid_of
from accord.trust.pki import PkiDirectory

_DIR = click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    required=True,
    help="PKI directory (layout: see accord.trust.pki).",
)
_CA_PASS = click.option(
    "--ca-passphrase-env",
    metavar="VAR",
    help="Environment variable holding the root key's passphrase.",
)


def _secret(var: str | None) -> bytes | None:
    return secret_from_env(var)


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


def _issue(
    agency: str,
    directory: Path,
    days: int,
    passphrase_env: str | None,
    ca_passphrase_env: str | None,
    *,
    rotate: bool,
) -> None:
    cert = PkiDirectory(directory).issue(
        agency,
        valid_days=days,
        passphrase=_secret(passphrase_env),
        ca_passphrase=_secret(ca_passphrase_env),
        rotate=rotate,
    )
    click.echo(f"{agency} kid={kid_of(cert)} not_after={cert.not_valid_after_utc.isoformat()}")


@pki.command("issue")
@click.option("--agency", required=True, help="e.g. JPN.MOFA")
@_DIR
@click.option("--days", default=365, show_default=True, type=click.IntRange(1, 3650))
@click.option("--passphrase-env", metavar="VAR", help="Encrypt the new key with this variable.")
@_CA_PASS
def issue(
    agency: str,
    directory: Path,
    days: int,
    passphrase_env: str | None,
    ca_passphrase_env: str | None,
) -> None:
    """Issue an agency's first signing key and certificate."""
    _issue(agency, directory, days, passphrase_env, ca_passphrase_env, rotate=False)


_PLAN = click.option(
    "--plan",
    "plan_path",
    type=click.Path(path_type=Path),
    default=None,
    help="The plan whose trust topic to use (default: $ACCORD_PLAN or deploy/plan.yaml).",
)
_BOOTSTRAP = click.option(
    "--bootstrap",
    default=None,
    help="Default: $ACCORD_BOOTSTRAP_SERVERS. Log in as a principal that "
    "may write the trust topic (ACCORD_KAFKA_USERNAME/PASSWORD).",
)


@pki.command("rotate")
@click.option("--agency", required=True, help="e.g. JPN.MOFA")
@_DIR
@click.option("--days", default=365, show_default=True, type=click.IntRange(1, 3650))
@click.option("--passphrase-env", metavar="VAR", help="Encrypt the new key with this variable.")
@_CA_PASS
@click.option(
    "--publish/--no-publish",
    default=True,
    show_default=True,
    help="Publish the new certificate on the trust topic, then put the key in use; "
    "with --no-publish the key is only staged (PENDING) until `accord pki publish`.",
)
@_PLAN
@_BOOTSTRAP
def rotate(
    agency: str,
    directory: Path,
    days: int,
    passphrase_env: str | None,
    ca_passphrase_env: str | None,
    publish: bool,
    plan_path: Path | None,
    bootstrap: str | None,
) -> None:
    """Issue a new key and certificate, put it on the trust topic, then sign with it.

    The new key is used only once receivers can know its certificate, so nothing
    it signs is quarantined as unknown-key; the old certificate stays valid
    (overlap) until it expires or is revoked.
    """
    pki_dir = PkiDirectory(directory)
    cert = pki_dir.issue(
        agency,
        valid_days=days,
        passphrase=_secret(passphrase_env),
        ca_passphrase=_secret(ca_passphrase_env),
        rotate=True,
        activate=False,
    )
    kid = kid_of(cert)
    if not publish:
        click.echo(
            f"{agency} kid={kid} staged (PENDING, not in use); run `accord pki publish "
            f"--dir {directory}` to publish its certificate and put it in use"
        )
        return
    try:
        _publish(pki_dir, plan_path, bootstrap)
    except AccordError as exc:
        hint = (
            f"the new key {kid[:16]}… is staged (PENDING) and not in use; the old key "
            "still signs. Publish as a principal that may write the trust topic (the "
            f"plan's admin): `accord pki publish --dir {directory}`"
        )
        exc.hint = f"{exc.hint}; {hint}" if exc.hint else hint
        raise exc from None
    click.echo(
        f"{agency} kid={kid} not_after={cert.not_valid_after_utc.isoformat()} published and in use"
    )


@pki.command("revoke")
@click.option("--agency", required=True, help="e.g. JPN.MOFA")
@_DIR
@click.option("--kid", help="The certificate to revoke (see `accord pki show`).")
@click.option("--all", "everything", is_flag=True, help="Revoke every certificate of the agency.")
@click.option(
    "--crl-days",
    default=30,
    show_default=True,
    type=click.IntRange(1, 3650),
    help="Days until the new CRL's next_update.",
)
@_CA_PASS
def revoke(
    agency: str,
    directory: Path,
    kid: str | None,
    everything: bool,
    crl_days: int,
    ca_passphrase_env: str | None,
) -> None:
    """Revoke a certificate: reissue the country root's CRL."""
    kids = PkiDirectory(directory).revoke(
        agency,
        kid=kid,
        everything=everything,
        ca_passphrase=_secret(ca_passphrase_env),
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
@_PLAN
@_BOOTSTRAP
def publish(directory: Path, plan_path: Path | None, bootstrap: str | None) -> None:
    """Publish agency certificates and CRLs on the trust topic (roots never travel).

    Running nodes fold them into their trust stores: this is how a rotation or a
    revocation reaches every node without a restart. Keys staged by
    `accord pki rotate --no-publish` are put in use once their certificates are out.
    Refuses, before sending anything, what a node could not apply.
    """
    count, activated, topic = _publish(PkiDirectory(directory), plan_path, bootstrap)
    click.echo(f"published {count} certificates and CRLs to {topic}")
    for kid in activated:
        click.echo(f"in use now: kid={kid}")


def _publish(
    pki_dir: PkiDirectory, plan_path: Path | None, bootstrap: str | None
) -> tuple[int, list[str], str]:
    import asyncio

    from accord.config import load_connection
    from accord.kafka import node_errors
    from accord.plan import load_plan
    from accord.trust.rotation import publish_and_activate

    plan = load_plan(plan_path)
    conn = load_connection(bootstrap_servers=bootstrap, client_id="accord-pki")
    with node_errors(conn, doing="write", resource=plan.trust_topic):
        count, activated = asyncio.run(publish_and_activate(pki_dir, conn, plan.trust_topic))
    return count, activated, plan.trust_topic


@pki.command("show")
@_DIR
def show(directory: Path) -> None:
    """List agency certificates: kid, validity, current, revoked."""
    rows = PkiDirectory(directory).show()
    if not rows:
        click.echo("no agency certificates")
    for row in rows:
        flags = ",".join(
            f
            for f, on in (
                ("current", row.current),
                ("pending", row.pending),
                ("revoked", row.revoked),
            )
            if on
        )
        click.echo(
            f"{row.agency} kid={row.kid} not_before={row.not_before.isoformat()} "
            f"not_after={row.not_after.isoformat()} {flags}".rstrip()
        )
