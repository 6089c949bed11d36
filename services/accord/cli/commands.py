"""The registry of top-level commands, one import per concept."""

from __future__ import annotations

import click

ALL: list[click.Command] = []
