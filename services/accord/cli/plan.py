"""``accord plan``: check, show, diff and apply the exchange plan.

Errors are PlanError/BrokerError; the CLI root prints them with their hint and
exits 2. Passwords come only from the environment or a secrets file and are
never printed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from accord.access import access_matrix, render_acls, wanted_principals
from accord.config import REPO_PLAN_PATH, KafkaConnection, load_connection, load_secrets
from accord.plan import Plan, load_plan
from accord.plan.reconcile import apply_plan, plan_diff

_plan_option = click.option(
    "--plan",
    "plan_path",
    type=click.Path(path_type=Path),
    default=None,
    help=f"Plan file [default: $ACCORD_PLAN or {REPO_PLAN_PATH}]",
)


def _connection_options(f: Any) -> Any:
    f = click.option(
        "--bootstrap", default=None, help="host:port[,...] [default: $ACCORD_BOOTSTRAP_SERVERS]"
    )(f)
    f = click.option(
        "--username",
        default=None,
        help="Admin SCRAM user [default: $ACCORD_KAFKA_USERNAME]; "
        "the password is read from $ACCORD_KAFKA_PASSWORD",
    )(f)
    f = click.option(
        "--security-protocol",
        default=None,
        type=click.Choice(["PLAINTEXT", "SASL_PLAINTEXT", "SSL", "SASL_SSL"]),
        help="[default: $ACCORD_SECURITY_PROTOCOL, else inferred: SASL "
        "with a user name, TLS with a CA file]",
    )(f)
    f = click.option(
        "--access/--no-access",
        "access",
        default=None,
        help="Manage principals and ACLs [default: when the connection uses SASL]",
    )(f)
    return f


def _connect(bootstrap: str | None, username: str | None, protocol: str | None) -> KafkaConnection:
    # The protocol, when not given, is inferred from the credentials by the loader.
    return load_connection(
        bootstrap_servers=bootstrap,
        username=username,
        security_protocol=protocol,
        client_id="accord-plan",
    )


@click.group("plan")
def plan_group() -> None:
    """The exchange plan: scopes, agencies, entitlements, topics and access."""


@plan_group.command("check")
@_plan_option
def check(plan_path: Path | None) -> None:
    """Validate the plan file; errors name file:line and the fix."""
    plan = load_plan(plan_path)
    click.echo(
        f"plan OK: {len(plan.agencies)} agencies, {len(plan.topics())} topics, "
        f"{len(render_acls(plan))} ACLs"
    )


@plan_group.command("show")
@_plan_option
@click.option(
    "--access",
    "show_access",
    is_flag=True,
    help="Print the access matrix (topic x principal) the broker enforces.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show(plan_path: Path | None, show_access: bool, as_json: bool) -> None:
    """Print the plan, and with --access the R/W matrix rendered from the ACLs."""
    plan = load_plan(plan_path)
    if as_json:
        doc: dict[str, Any] = {
            "topics": [
                {
                    "name": t.name,
                    "partitions": t.partitions,
                    "replication_factor": t.replication_factor,
                    "configs": t.configs,
                }
                for t in plan.topics()
            ],
            "agencies": {
                a: {
                    "group_id": plan.group_id(a),
                    "receive_topics": plan.receive_topics(a),
                    "publish_topics": plan.publish_topics(a),
                }
                for a in sorted(plan.agencies)
            },
        }
        if show_access:
            doc["access"] = access_matrix(plan)
        click.echo(json.dumps(doc, indent=2))
        return
    _print_plan(plan)
    if show_access:
        click.echo()
        _print_matrix(plan)


def _print_plan(plan: Plan) -> None:
    for scope, sp in plan.scopes.items():
        click.echo(
            f"scope {scope.value} ({', '.join(sp.countries)}): "
            f"{', '.join(a.value for a in sp.areas)}"
        )
    click.echo()
    for agency in sorted(plan.agencies):
        ap = plan.agencies[agency]
        click.echo(f"{agency}  {ap.name}  group={plan.group_id(agency)}")
        click.echo(f"  publish: {', '.join(a.value for a in ap.publish) or '-'}")
        click.echo(f"  receive: {', '.join(a.value for a in ap.receive) or '-'}")
    click.echo(f"monitor {plan.monitor.principal}  group={plan.monitor.group}  reads receipts")
    click.echo()
    for t in plan.topics():
        cfg = ", ".join(f"{k}={v}" for k, v in sorted(t.configs.items()))
        click.echo(f"topic {t.name}  partitions={t.partitions} rf={t.replication_factor}  {cfg}")


def _print_matrix(plan: Plan) -> None:
    matrix = access_matrix(plan)
    principals = wanted_principals(plan)
    width = max(len(t.name) for t in plan.topics())
    cols = [max(len(p), 2) for p in principals]
    click.echo("access (R read, W write, - denied; rendered from the broker ACLs)")
    click.echo(
        " " * width + "  " + "  ".join(p.ljust(w) for p, w in zip(principals, cols, strict=True))
    )
    for t in plan.topics():
        cells = [matrix[p][t.name].ljust(w) for p, w in zip(principals, cols, strict=True)]
        click.echo((t.name.ljust(width) + "  " + "  ".join(cells)).rstrip())


@plan_group.command("diff")
@_plan_option
@_connection_options
def diff(
    plan_path: Path | None,
    bootstrap: str | None,
    username: str | None,
    security_protocol: str | None,
    access: bool | None,
) -> None:
    """Show what apply would change, changing nothing."""
    plan = load_plan(plan_path)
    conn = _connect(bootstrap, username, security_protocol)
    result = plan_diff(plan, conn, access=access)
    for line in result.lines():
        click.echo(line)
    click.echo("no changes" if result.changes_nothing else "run `accord plan apply` to apply")


@plan_group.command("apply")
@_plan_option
@_connection_options
@click.option(
    "--secrets",
    "secrets_path",
    type=click.Path(path_type=Path),
    default=None,
    help="YAML principal -> password; ACCORD_SECRET_<ID> variables override it.",
)
def apply(
    plan_path: Path | None,
    bootstrap: str | None,
    username: str | None,
    security_protocol: str | None,
    access: bool | None,
    secrets_path: Path | None,
) -> None:
    """Create topics, principals and ACLs; remove principals no longer planned."""
    plan = load_plan(plan_path)
    conn = _connect(bootstrap, username, security_protocol)
    manage = conn.uses_sasl if access is None else access
    secrets = load_secrets(secrets_path, wanted_principals(plan)) if manage else {}
    report = apply_plan(plan, conn, secrets, access=manage)
    for line in report.lines():
        click.echo(line)
