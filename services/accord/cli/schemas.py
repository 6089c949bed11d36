"""``accord schemas``: export and check the partner artefacts (JSON Schemas, vectors)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from accord.envelope.schemas import export_schemas
from accord.envelope.vectors import build_vectors


def _artefacts() -> dict[str, bytes]:
    files = dict(export_schemas())
    files.update({f"vectors/{name}": data for name, data in build_vectors().items()})
    return files


def _write(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@click.group("schemas")
def schemas() -> None:
    """JSON Schemas and golden test vectors for partner developers."""


@schemas.command("export")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    default=Path("schemas"),
    show_default=True,
)
def export(directory: Path) -> None:
    """Write the JSON Schemas (schemas/v1/) generated from the models."""
    files = export_schemas()
    _write(directory, files)
    click.echo(f"wrote {len(files)} schemas to {directory}")


@schemas.command("vectors")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    default=Path("schemas"),
    show_default=True,
)
def vectors(directory: Path) -> None:
    """Write the golden test vectors (schemas/vectors/), deterministically."""
    files = build_vectors()
    _write(directory / "vectors", files)
    click.echo(f"wrote {len(files)} vector files to {directory / 'vectors'}")


@schemas.command("check")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    default=Path("schemas"),
    show_default=True,
)
def check(directory: Path) -> None:
    """Exit 1 when the checked-in schemas or vectors differ from what the code generates."""
    expected = _artefacts()
    drift = [
        name
        for name, data in expected.items()
        if not (directory / name).is_file() or (directory / name).read_bytes() != data
    ]
    managed = [directory / "v1", directory / "vectors"]
    extra = sorted(
        str(p.relative_to(directory))
        for d in managed
        if d.is_dir()
        for p in d.rglob("*")
        if p.is_file()
        and str(p.relative_to(directory)) not in expected
        # envelope v2 vectors hold random HPKE encapsulations: generated once by
        # accord.envelope.vectors_v2, checked by running the conformance suite on them
        and not str(p.relative_to(directory)).startswith("vectors/v2/")
    )
    for name in drift:
        click.echo(f"drift: {directory / name}", err=True)
    for name in extra:
        click.echo(f"not generated: {directory / name}", err=True)
    if drift or extra:
        click.echo("run `accord schemas export && accord schemas vectors` and commit", err=True)
        sys.exit(1)
    click.echo(f"{len(expected)} files up to date")
