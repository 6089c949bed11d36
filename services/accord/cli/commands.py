"""The registry of top-level commands, one import per concept."""

from __future__ import annotations

import click

ALL: list[click.Command] = []

from accord.cli.plan import plan_group  # noqa: E402

ALL.append(plan_group)

from accord.cli.broker import broker_group  # noqa: E402

ALL.append(broker_group)

from accord.cli.pki import pki as pki_group  # noqa: E402
from accord.cli.schemas import schemas as schemas_group  # noqa: E402

ALL.append(pki_group)
ALL.append(schemas_group)

from accord.cli.exchange import (  # noqa: E402
    inbox_command,
    monitor_command,
    publish_command,
    receive_command,
    release_command,
)

ALL += [publish_command, release_command, receive_command, monitor_command, inbox_command]

from accord.cli.bench import bench_command  # noqa: E402

ALL.append(bench_command)

from accord.cli.demo import demo as demo_command  # noqa: E402

ALL.append(demo_command)

from accord.cli.soak import soak_command  # noqa: E402

ALL.append(soak_command)
