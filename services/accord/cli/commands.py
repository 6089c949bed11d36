"""The registry of top-level commands, one module per concept."""

from __future__ import annotations

import click

from accord.cli.bench import bench_command
from accord.cli.broker import broker_group
from accord.cli.conformance import conformance_command
from accord.cli.demo import demo as demo_command
from accord.cli.exchange import (
    inbox_command,
    monitor_command,
    publish_command,
    receive_command,
    release_command,
)
from accord.cli.handover import handover_group
from accord.cli.keys import keys as keys_group
from accord.cli.node import api_group, node_command
from accord.cli.pki import pki as pki_group
from accord.cli.plan import plan_group
from accord.cli.quarantine import quarantine_group
from accord.cli.schemas import schemas as schemas_group
from accord.cli.soak import soak_command
from accord.cli.status import status_command

ALL: list[click.Command] = [
    # the exchange
    publish_command,
    release_command,
    receive_command,
    monitor_command,
    inbox_command,
    handover_group,
    quarantine_group,
    status_command,
    node_command,
    api_group,
    # set-up
    broker_group,
    pki_group,
    keys_group,
    plan_group,
    schemas_group,
    conformance_command,
    # the demo and the figures
    demo_command,
    bench_command,
    soak_command,
]
