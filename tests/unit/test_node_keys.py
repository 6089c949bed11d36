"""open_node and encryption keys: loaded from the PKI directory, required by the plan."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from accord.confidentiality.files import KEYS_BUNDLE, EncryptionKeyFiles
from accord.config import load_node_settings
from accord.errors import PkiError
from accord.node import NodeContext, open_node
from accord.plan import Plan, dump_plan, load_plan
from accord.trust.pki import provision


def _plan(tmp_path: Path, mode: str) -> Path:
    plan: Plan = load_plan(None)
    scopes = {s: sp.model_copy(update={"encryption": mode}) for s, sp in plan.scopes.items()}
    return dump_plan(plan.model_copy(update={"scopes": scopes}), tmp_path / f"plan-{mode}.yaml")


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pki")
    provision(path, load_plan(None).agencies)
    return path


def _open(agency: str, plan_file: Path, pki: Path, tmp_path: Path) -> NodeContext:
    return open_node(
        load_node_settings(
            agency, env={}, plan_path=plan_file, pki_dir=pki, data_dir=tmp_path / "data"
        )
    )


def test_a_plan_requiring_encryption_refuses_an_agency_without_a_key(
    pki_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(PkiError, match=r"JPN\.MOFA has no encryption key") as caught:
        _open("JPN.MOFA", _plan(tmp_path, "required"), pki_dir, tmp_path)
    assert "accord keys issue" in (caught.value.hint or "")
    # Without encryption in the plan, no key is needed and none is loaded.
    assert _open("JPN.MOFA", _plan(tmp_path, "off"), pki_dir, tmp_path).keys is None


def test_the_node_loads_its_keyring_and_the_shipped_statements(
    pki_dir: Path, tmp_path: Path
) -> None:
    # The sender's own directory has only its key; the partner's statement is shipped.
    partner_dir = tmp_path / "partner"
    shutil.copytree(pki_dir, partner_dir)
    partner = EncryptionKeyFiles(partner_dir).issue("AUS.DFAT")
    mine = tmp_path / "mine"
    shutil.copytree(pki_dir, mine)
    own = EncryptionKeyFiles(mine).issue("JPN.MOFA")
    (mine / KEYS_BUNDLE).write_bytes(EncryptionKeyFiles(partner_dir).bundle())

    node = _open("JPN.MOFA", _plan(tmp_path, "required"), mine, tmp_path)
    assert node.keys is not None
    assert node.keys.keyring is not None
    assert node.keys.keyring.agency == "JPN.MOFA"
    now = datetime.now(UTC)
    assert [
        k.ekid
        for k in (node.keys.directory.current(a, now=now) for a in ("JPN.MOFA", "AUS.DFAT"))
        if k
    ] == [own, partner]
    encryption = node.encryption()
    assert encryption is not None
    assert encryption.directory is node.keys.directory  # one view, shared with the receiver
    assert encryption.keyring is node.keys.keyring


def test_publish_on_the_deployed_plan_without_a_key_is_one_line_and_a_hint(
    pki_dir: Path, tmp_path: Path
) -> None:
    """deploy/plan.yaml requires encryption: `accord publish` (and `accord node`, which
    opens the node the same way) stops before any broker is contacted."""
    from click.testing import CliRunner

    from accord.cli.main import _register, cli

    _register()
    example = Path(__file__).resolve().parents[2] / "examples" / "assessment.yaml"
    result = CliRunner().invoke(
        cli,
        ["--log-level", "CRITICAL", "publish", "--agency", "JPN.MOFA", str(example)],
        env={
            "ACCORD_PLAN": "",
            "ACCORD_PKI_DIR": str(pki_dir),
            "ACCORD_DATA_DIR": str(tmp_path / "data"),
            "ACCORD_BOOTSTRAP_SERVERS": "127.0.0.1:9",
        },
    )
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("error [pki-error]: the plan requires encryption in "), lines
    assert "JPN.MOFA has no encryption key" in lines[0]
    assert lines[1] == f"hint: run `accord keys issue --agency JPN.MOFA --dir {pki_dir}`"
    assert "Traceback" not in result.output
