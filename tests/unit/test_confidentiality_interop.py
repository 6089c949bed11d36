"""Interop with Go 1.26's standard crypto/hpke: a partner in another language reads
what accord seals, and accord reads what the partner seals.

The Go program (examples/interop/hpke-go) uses the standard library only and is
built offline (GOPROXY=off, GOTOOLCHAIN=local).
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from _accord_pki import pki

from accord.confidentiality import (
    EncryptionKeyPair,
    Recipient,
    Undecryptable,
    encrypt_body,
    open_announcement,
    seal_cwk,
)
from accord.confidentiality.jose import b64d, b64e, sign_compact
from accord.confidentiality.vectors import check_vectors, make_vectors
from accord.confidentiality.wrap import ANNOUNCEMENT_TYP, cwk_info

GO_DIR = Path(__file__).resolve().parents[2] / "examples" / "interop" / "hpke-go"
SEED = bytes.fromhex("7f9c2ba4e88f827d616045507605853ed73b8093f6efbc88eb1a6eacfa66ef26")


@pytest.fixture(scope="module")
def go_tool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    binary = tmp_path_factory.mktemp("go") / "hpke-go"
    env = {**os.environ, "GOPROXY": "off", "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"}
    subprocess.run(
        ["go", "build", "-o", str(binary), "."],
        cwd=GO_DIR,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return binary


def go(tool: Path, **request: Any) -> dict[str, str]:
    done = subprocess.run(
        [str(tool)], input=json.dumps(request).encode(), capture_output=True, timeout=60
    )
    if done.returncode != 0:
        raise AssertionError(done.stderr.decode())
    result: dict[str, str] = json.loads(done.stdout)
    return result


def now() -> datetime:
    return datetime.now(UTC)


def test_go_derives_the_same_public_key_from_an_xwing_seed(go_tool: Path) -> None:
    got = go(go_tool, op="public", seed=SEED.hex())
    assert bytes.fromhex(got["public_key"]) == EncryptionKeyPair.from_seed(SEED).public.data


def test_go_opens_a_cwk_sealed_in_python_and_decrypts_the_body(go_tool: Path) -> None:
    partner = EncryptionKeyPair.from_seed(SEED)
    sender = EncryptionKeyPair.generate()
    cwk, announcement = seal_cwk(
        pki().signer("JPN.MOFA"),
        [Recipient("JPN.MOFA", sender.public), Recipient("AUS.DFAT", partner.public)],
    )
    payload = json.loads(b64d(announcement.decode().split(".")[1], "payload"))
    entry = next(e for e in payload["recipients"] if e["agency"] == "AUS.DFAT")
    header, label, body = b'{"header":1}', b'{"label":2}', "本文 body".encode()
    mid = uuid.uuid4()
    sealed_body = encrypt_body(cwk, mid, header=header, label=label, plaintext=body)
    got = go(
        go_tool,
        op="open",
        seed=SEED.hex(),
        info=cwk_info(cwk.sender, cwk.cwk_id, cwk.not_after, cwk.recipients, partner.ekid).hex(),
        sealed=b64d(entry["sealed"], "sealed").hex(),
        cwk_id=cwk.cwk_id.hex(),
        message_id=mid.bytes.hex(),
        header=header.hex(),
        label=label.hex(),
        body=sealed_body.hex(),
    )
    assert bytes.fromhex(got["cwk"]) == cwk.key
    assert bytes.fromhex(got["plaintext"]) == body
    # A swapped label fails in Go as in Python.
    with pytest.raises(AssertionError, match="message authentication failed"):
        go(
            go_tool,
            op="open",
            seed=SEED.hex(),
            info=cwk_info(
                cwk.sender, cwk.cwk_id, cwk.not_after, cwk.recipients, partner.ekid
            ).hex(),
            sealed=b64d(entry["sealed"], "sealed").hex(),
            cwk_id=cwk.cwk_id.hex(),
            message_id=mid.bytes.hex(),
            header=header.hex(),
            label=b"{}".hex(),
            body=sealed_body.hex(),
        )


def test_python_opens_a_cwk_sealed_in_go(go_tool: Path) -> None:
    """A Go sender's sealed copy, in a signed announcement, opens through accord's path."""
    me = EncryptionKeyPair.generate()
    cwk_id, key = os.urandom(16), os.urandom(32)
    not_after = datetime(2030, 1, 1, tzinfo=UTC)
    pairs = (("AUS.DFAT", me.ekid),)
    info = cwk_info("AUS.DFAT", cwk_id, not_after, pairs, me.ekid)
    sealed = go(
        go_tool, op="seal", public_key=me.public.data.hex(), info=info.hex(), plaintext=key.hex()
    )["sealed"]
    payload = {
        "v": 1,
        "sender": "AUS.DFAT",
        "cwk_id": b64e(cwk_id),
        "issued_at": now().isoformat(),
        "not_after": "2030-01-01T00:00:00Z",
        "recipients": [
            {"agency": "AUS.DFAT", "ekid": me.ekid, "sealed": b64e(bytes.fromhex(sealed))}
        ],
    }
    announcement = sign_compact(
        pki().signer("AUS.DFAT"), ANNOUNCEMENT_TYP, json.dumps(payload).encode()
    )
    cwk = open_announcement(announcement, pki().trust_store(), "AUS.DFAT", [me], now=now())
    assert cwk.key == key
    # sealed under other info (another expiry): it does not open
    payload["not_after"] = "2031-01-01T00:00:00Z"
    moved = sign_compact(pki().signer("AUS.DFAT"), ANNOUNCEMENT_TYP, json.dumps(payload).encode())
    with pytest.raises(Undecryptable):
        open_announcement(moved, pki().trust_store(), "AUS.DFAT", [me], now=now())


VECTORS = GO_DIR / "testdata" / "vectors.json"


def test_the_checked_in_vectors_decrypt_in_python() -> None:
    assert check_vectors(json.loads(VECTORS.read_text())) == 2


def test_the_checked_in_vectors_decrypt_in_go(go_tool: Path) -> None:
    assert go(go_tool, op="vectors", path=str(VECTORS)) == {"checked": "2"}


def test_fresh_vectors_decrypt_in_go(go_tool: Path, tmp_path: Path) -> None:
    fresh = tmp_path / "vectors.json"
    fresh.write_text(json.dumps(make_vectors()))
    assert go(go_tool, op="vectors", path=str(fresh)) == {"checked": "2"}


def test_a_tampered_vector_fails_in_both(go_tool: Path, tmp_path: Path) -> None:
    vectors = json.loads(VECTORS.read_text())
    body = bytearray.fromhex(vectors["messages"][0]["body"])
    body[-1] ^= 1
    vectors["messages"][0]["body"] = body.hex()
    with pytest.raises(Undecryptable):
        check_vectors(vectors)
    tampered = tmp_path / "vectors.json"
    tampered.write_text(json.dumps(vectors))
    with pytest.raises(AssertionError, match="message authentication failed"):
        go(go_tool, op="vectors", path=str(tampered))
