"""Confidentiality building blocks: keys, key statements, recipients, CWKs, bodies."""

from __future__ import annotations

import json
import stat
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from accord.areas import Area
from accord.confidentiality import (
    BODY_OVERHEAD,
    Audiences,
    ContentEncryptor,
    EncryptedBody,
    EncryptionKeyPair,
    EncryptionMode,
    EncryptionPublicKey,
    KeyDirectory,
    Keyring,
    NoEncryptionKey,
    NotARecipient,
    PlaintextRefused,
    Recipient,
    Undecryptable,
    UnknownCwk,
    check_plaintext,
    decrypt_body,
    encrypt_body,
    may_read,
    open_announcement,
    recipient_agencies,
    resolve_recipients,
    seal_cwk,
    sign_key_revocation,
    sign_key_statement,
    verify_key_statement,
)
from accord.confidentiality.jose import b64d, b64e, sign_compact
from accord.confidentiality.keys import PUBLIC_KEY_BYTES
from accord.confidentiality.statement import STATEMENT_TYP
from accord.confidentiality.wrap import ANNOUNCEMENT_TYP, MAX_ANNOUNCEMENT_BYTES
from accord.envelope.samples import SAMPLES, sample_header, sample_label
from accord.errors import PkiError, ReasonCode, Refused
from accord.labels import scope_label
from accord.parties import Scope
from accord.plan import Plan, load_plan
from accord.trust.pki import Pki, provision

PLAN_FILE = Path(__file__).resolve().parents[2] / "deploy" / "plan.yaml"
# Ten agencies, so the recipient-count figures reach ten.
AGENCIES = (
    "AUS.AFP",
    "AUS.DEFENCE",
    "AUS.DFAT",
    "AUS.ABF",
    "JPN.MOFA",
    "JPN.MOD",
    "JPN.NPA",
    "JPN.JCG",
    "USA.STATE",
    "USA.DOD",
)
SEED = bytes(range(32))


@dataclass
class World:
    pki: Pki
    keys: dict[str, EncryptionKeyPair]
    directory: KeyDirectory

    def recipients(self, *agencies: str) -> tuple[Recipient, ...]:
        return resolve_recipients(agencies, self.directory, now=now())

    def keyring(self, agency: str) -> Keyring:
        return Keyring(agency, [self.keys[agency]])


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    pki = provision(tmp_path_factory.mktemp("pki"), AGENCIES)
    keys = {a: EncryptionKeyPair.generate() for a in AGENCIES}
    directory = KeyDirectory(pki.trust_store())
    for agency, key in keys.items():
        directory.add(sign_key_statement(pki.signer(agency), key.public), now=now())
    return World(pki, keys, directory)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan(PLAN_FILE)


def message_parts(type_name: str = "accord.strategic-assessment.v1") -> tuple[bytes, bytes, bytes]:
    """(header, label, body) as the exact JSON bytes an envelope carries."""
    sample = SAMPLES[type_name]
    header = sample_header(sample, issued_at=now())
    label = sample_label(sample.sender, sample.scope, at=header.issued_at)
    return (
        header.model_dump_json().encode(),
        label.model_dump_json().encode(),
        sample.body.model_dump_json().encode(),
    )


# -- keys ------------------------------------------------------------------------------


def test_public_key_is_mlkem768_then_x25519_and_ekid_is_its_sha256() -> None:
    key = EncryptionKeyPair.from_seed(SEED)
    assert len(key.public.data) == PUBLIC_KEY_BYTES == 1184 + 32
    assert EncryptionPublicKey.from_bytes(key.public.data) == key.public
    assert EncryptionKeyPair.from_seed(SEED).ekid == key.ekid != EncryptionKeyPair.generate().ekid
    assert "data" not in repr(key.public)
    assert "_mlkem" not in repr(key)


@pytest.mark.parametrize("size", [0, 1215, 1217])
def test_public_key_of_wrong_length_is_refused(size: int) -> None:
    with pytest.raises(PkiError, match="1216 bytes"):
        EncryptionPublicKey.from_bytes(b"\x01" * size)


@pytest.mark.parametrize("passphrase", [None, b"correct horse"])
def test_private_key_file_is_0600_and_round_trips(tmp_path: Path, passphrase: bytes | None) -> None:
    key = EncryptionKeyPair.generate()
    path = tmp_path / "enc.key.pem"
    key.write(path, passphrase)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (b"ENCRYPTED PRIVATE KEY" in path.read_bytes()) == (passphrase is not None)
    assert EncryptionKeyPair.load(path, passphrase).public == key.public


def test_private_key_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "enc.key.pem"
    EncryptionKeyPair.generate().write(path)
    before = path.read_bytes()
    with pytest.raises(PkiError, match="already exists"):
        EncryptionKeyPair.generate().write(path)
    assert path.read_bytes() == before


def test_wrong_passphrase_is_a_pki_error_that_does_not_echo_it(tmp_path: Path) -> None:
    path = tmp_path / "enc.key.pem"
    EncryptionKeyPair.generate().write(path, b"right")
    with pytest.raises(PkiError) as caught:
        EncryptionKeyPair.load(path, b"xyzzy-guess")
    assert "xyzzy" not in str(caught.value)
    assert caught.value.hint is not None


def test_key_file_with_one_block_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "enc.key.pem"
    EncryptionKeyPair.generate().write(path)
    end = b"-----END PRIVATE KEY-----\n"
    first = path.read_bytes().split(end)[0] + end
    with pytest.raises(PkiError, match="exactly two"):
        EncryptionKeyPair.from_pem(first)


# -- key statements ----------------------------------------------------------------------


def test_key_statement_verifies_and_names_the_key(world: World) -> None:
    key = world.keys["JPN.MOFA"]
    raw = sign_key_statement(world.pki.signer("JPN.MOFA"), key.public)
    statement = verify_key_statement(raw, world.pki.trust_store(), now=now())
    assert (statement.agency, statement.ekid, statement.revoked) == ("JPN.MOFA", key.ekid, False)
    assert statement.public == key.public
    assert statement.active_at(now())


def _resign(world: World, agency: str, raw: bytes, change: dict[str, object]) -> bytes:
    payload = json.loads(b64d(raw.decode().split(".")[1], "payload"))
    payload.update(change)
    return sign_compact(world.pki.signer(agency), STATEMENT_TYP, json.dumps(payload).encode())


def test_key_statement_refusals_have_stable_reasons(world: World) -> None:
    trust = world.pki.trust_store()
    raw = sign_key_statement(world.pki.signer("JPN.MOFA"), world.keys["JPN.MOFA"].public)
    protected, payload, signature = raw.decode().split(".")
    other = b64e(json.dumps({"v": 1}).encode())
    cases = {
        # another payload under the same signature
        f"{protected}.{other}.{signature}".encode(): ReasonCode.BAD_SIGNATURE,
        # AUS.DFAT vouching for a key in JPN.MOFA's name
        _resign(world, "AUS.DFAT", raw, {}): ReasonCode.SENDER_MISMATCH,
        # ekid that is not the key's thumbprint
        _resign(world, "JPN.MOFA", raw, {"ekid": "0" * 64}): ReasonCode.MALFORMED,
        # alg none
        (
            b64e(json.dumps({"alg": "none", "kid": "x", "typ": STATEMENT_TYP}).encode())
            + f".{payload}."
        ).encode(): ReasonCode.UNSUPPORTED_ALG,
        # a key announcement offered as a key statement
        sign_compact(
            world.pki.signer("JPN.MOFA"), ANNOUNCEMENT_TYP, b64d(payload, "p")
        ): ReasonCode.MALFORMED,
        b"x" * 9000: ReasonCode.OVERSIZED,
    }
    for bad, reason in cases.items():
        with pytest.raises(Refused) as caught:
            verify_key_statement(bad, trust, now=now())
        assert caught.value.reason is reason, caught.value.message


# -- key directory: rotation and revocation -------------------------------------------


def test_rotation_makes_the_newer_key_current_at_once(world: World) -> None:
    directory = KeyDirectory(world.pki.trust_store())
    signer = world.pki.signer("AUS.DFAT")
    old, new = EncryptionKeyPair.generate(), EncryptionKeyPair.generate()
    directory.add(
        sign_key_statement(signer, old.public, now=now() - timedelta(minutes=2)), now=now()
    )
    assert directory.current("AUS.DFAT", now=now()) == old.public
    directory.add(sign_key_statement(signer, new.public), now=now())
    assert directory.current("AUS.DFAT", now=now()) == new.public


def test_revocation_wins_whatever_the_order(world: World) -> None:
    signer = world.pki.signer("AUS.DFAT")
    key = EncryptionKeyPair.generate()
    statement = sign_key_statement(signer, key.public)
    revocation = sign_key_revocation(signer, key.ekid)
    for order in ((statement, revocation), (revocation, statement)):
        directory = KeyDirectory(world.pki.trust_store())
        for raw in order:
            directory.add(raw, now=now())
        assert directory.current("AUS.DFAT", now=now()) is None
        assert directory.is_revoked("AUS.DFAT", key.ekid)


def test_expired_statement_is_not_current(world: World) -> None:
    directory = KeyDirectory(world.pki.trust_store())
    key = EncryptionKeyPair.generate()
    directory.add(
        sign_key_statement(
            world.pki.signer("AUS.DFAT"), key.public, valid_for=timedelta(minutes=1)
        ),
        now=now(),
    )
    assert directory.current("AUS.DFAT", now=now()) == key.public
    assert directory.current("AUS.DFAT", now=now() + timedelta(minutes=2)) is None


def test_revoking_the_signing_certificate_withdraws_its_encryption_keys(tmp_path: Path) -> None:
    pki = provision(tmp_path, ["JPN.MOFA"])
    key = EncryptionKeyPair.generate()
    raw = sign_key_statement(pki.signer("JPN.MOFA"), key.public)
    directory = KeyDirectory(pki.trust_store())
    directory.add(raw, now=now())
    assert directory.current("JPN.MOFA", now=now()) == key.public
    pki.directory.revoke("JPN.MOFA")
    revoked = KeyDirectory(pki.trust_store())
    with pytest.raises(Refused) as caught:
        revoked.add(raw, now=now())
    assert caught.value.reason is ReasonCode.REVOKED
    # and a directory that accepted it earlier stops using it once it sees the CRL
    directory._trust = pki.trust_store()
    assert directory.current("JPN.MOFA", now=now()) is None


# -- recipients ------------------------------------------------------------------------


def test_recipients_are_the_entitled_agencies_and_the_sender(plan: Plan) -> None:
    got = recipient_agencies(
        plan, sender="JPN.MOFA", scope=Scope.BILATERAL, area=Area.STRATEGIC_ASSESSMENTS
    )
    assert got == tuple(
        sorted(plan.entitled_receivers(Scope.BILATERAL, Area.STRATEGIC_ASSESSMENTS))
    )
    assert "JPN.MOFA" in got
    assert not any(a.startswith("USA.") for a in got)


def test_audiences_remember_recipient_agencies_and_stay_bounded(plan: Plan) -> None:
    audiences = Audiences(plan, capacity=3)
    asks = [
        ("JPN.MOFA", scope, area, need_to_know)
        for scope in (Scope.BILATERAL, Scope.TRILATERAL)
        for area in (Area.STRATEGIC_ASSESSMENTS, Area.COUNTER_TERRORISM)
        for need_to_know in (None, ("AUS.DFAT",), ())
    ]
    for _ in range(2):  # the second round after the memo was cleared, full
        for sender, scope, area, need_to_know in asks:
            got = audiences.of(sender=sender, scope=scope, area=area, need_to_know=need_to_know)
            assert got == recipient_agencies(
                plan, sender=sender, scope=scope, area=area, need_to_know=need_to_know
            )
            assert len(audiences._known) <= 3
    first = audiences.of(
        sender="JPN.MOFA", scope=Scope.BILATERAL, area=Area.COUNTER_TERRORISM, need_to_know=None
    )
    again = audiences.of(
        sender="JPN.MOFA", scope=Scope.BILATERAL, area=Area.COUNTER_TERRORISM, need_to_know=None
    )
    assert again is first  # remembered, not worked out again


def test_need_to_know_narrows_and_the_sender_stays(plan: Plan) -> None:
    got = recipient_agencies(
        plan,
        sender="JPN.MOFA",
        scope=Scope.TRILATERAL,
        area=Area.STRATEGIC_ASSESSMENTS,
        need_to_know=["AUS.DFAT"],
    )
    assert got == ("AUS.DFAT", "JPN.MOFA")


def test_need_to_know_cannot_widen(plan: Plan) -> None:
    """Entitled, narrowed by need-to-know, plus the sender (SPEC ENC-06): an agency
    the plan does not entitle reads nothing, listed or not."""
    got = recipient_agencies(
        plan,
        sender="JPN.MOFA",
        scope=Scope.BILATERAL,
        area=Area.STRATEGIC_ASSESSMENTS,
        need_to_know=["AUS.DFAT", "USA.STATE"],
    )
    assert got == ("AUS.DFAT", "JPN.MOFA")


def test_may_read_follows_the_need_to_know_list() -> None:
    label = scope_label("JPN.MOFA", Scope.BILATERAL, legal_basis="x")
    assert may_read(label, sender="JPN.MOFA", agency="AUS.ASIO")
    listed = scope_label("JPN.MOFA", Scope.BILATERAL, legal_basis="x", need_to_know=("AUS.DFAT",))
    assert may_read(listed, sender="JPN.MOFA", agency="AUS.DFAT")
    assert may_read(listed, sender="JPN.MOFA", agency="JPN.MOFA")  # the sender always
    assert not may_read(listed, sender="JPN.MOFA", agency="AUS.ASIO")


def test_an_agency_without_a_key_stops_the_message(world: World) -> None:
    with pytest.raises(NoEncryptionKey, match=r"AUS\.NOKEY"):
        world.recipients("JPN.MOFA", "AUS.NOKEY")


# -- CWK announcements ---------------------------------------------------------------


def test_each_recipient_opens_the_same_cwk_and_others_cannot(world: World) -> None:
    trust = world.pki.trust_store()
    cwk, announcement = seal_cwk(
        world.pki.signer("JPN.MOFA"), world.recipients("JPN.MOFA", "AUS.DFAT", "JPN.MOD")
    )
    for agency in ("JPN.MOFA", "AUS.DFAT", "JPN.MOD"):
        opened = open_announcement(announcement, trust, agency, [world.keys[agency]], now=now())
        assert opened == cwk
    with pytest.raises(NotARecipient) as caught:
        open_announcement(announcement, trust, "USA.STATE", [world.keys["USA.STATE"]], now=now())
    assert caught.value.code == "not-a-recipient"
    # listed, but holding another key than the one sealed to
    with pytest.raises(Undecryptable):
        open_announcement(announcement, trust, "AUS.DFAT", [world.keys["USA.STATE"]], now=now())


Edit = Callable[[dict[str, Any]], None]


def _edit_announcement(world: World, raw: bytes, edit: Edit, signer: str = "") -> bytes:
    payload = json.loads(b64d(raw.decode().split(".")[1], "payload"))
    edit(payload)
    return sign_compact(
        world.pki.signer(signer or payload["sender"]),
        ANNOUNCEMENT_TYP,
        json.dumps(payload).encode(),
    )


def test_a_sealed_copy_does_not_open_anywhere_else(world: World) -> None:
    """info binds sender, cwk id, expiry, the recipient list and the recipient's key."""
    trust = world.pki.trust_store()
    _, raw = seal_cwk(world.pki.signer("JPN.MOFA"), world.recipients("JPN.MOFA", "AUS.DFAT"))

    def widen(p: dict[str, Any]) -> None:
        p["not_after"] = "2099-01-01T00:00:00Z"

    def swap(p: dict[str, Any]) -> None:
        a, b = p["recipients"]
        a["sealed"], b["sealed"] = b["sealed"], a["sealed"]

    def rekey(p: dict[str, Any]) -> None:
        p["cwk_id"] = b64e(b"\x00" * 16)

    for edit in (widen, swap, rekey):
        with pytest.raises(Undecryptable):
            open_announcement(
                _edit_announcement(world, raw, edit),
                trust,
                "AUS.DFAT",
                [world.keys["AUS.DFAT"]],
                now=now(),
            )


def test_announcement_refusals(world: World) -> None:
    trust = world.pki.trust_store()
    _, raw = seal_cwk(world.pki.signer("JPN.MOFA"), world.recipients("JPN.MOFA", "AUS.DFAT"))
    protected, payload, signature = raw.decode().split(".")
    forged = b64e(b64d(payload, "p").replace(b"JPN.MOFA", b"JPN.MOD"))

    def unchanged(p: dict[str, Any]) -> None:
        pass

    def without_sender(p: dict[str, Any]) -> None:
        p["recipients"] = [e for e in p["recipients"] if e["agency"] != "JPN.MOFA"]

    def unsorted(p: dict[str, Any]) -> None:
        p["recipients"].reverse()

    def backdated(p: dict[str, Any]) -> None:
        p["issued_at"] = "2001-01-01T00:00:00Z"

    def ends_before_it_starts(p: dict[str, Any]) -> None:
        p["not_after"] = "2001-01-01T00:00:00Z"

    cases = {
        f"{protected}.{forged}.{signature}".encode(): ReasonCode.BAD_SIGNATURE,
        _edit_announcement(world, raw, unchanged, signer="JPN.MOD"): ReasonCode.SENDER_MISMATCH,
        _edit_announcement(world, raw, without_sender): ReasonCode.MALFORMED,
        _edit_announcement(world, raw, unsorted): ReasonCode.MALFORMED,
        _edit_announcement(world, raw, backdated): ReasonCode.EXPIRED_CERT,
        _edit_announcement(world, raw, ends_before_it_starts): ReasonCode.SCHEMA_INVALID,
        sign_compact(
            world.pki.signer("JPN.MOFA"), STATEMENT_TYP, b64d(payload, "p")
        ): ReasonCode.MALFORMED,
        b"a" * (MAX_ANNOUNCEMENT_BYTES + 1): ReasonCode.OVERSIZED,
    }
    for bad, reason in cases.items():
        with pytest.raises(Refused) as caught:
            open_announcement(bad, trust, "AUS.DFAT", [world.keys["AUS.DFAT"]], now=now())
        assert caught.value.reason is reason, caught.value.message


def test_the_sender_is_always_a_recipient(world: World) -> None:
    with pytest.raises(ValueError, match="sender"):
        seal_cwk(world.pki.signer("JPN.MOFA"), world.recipients("AUS.DFAT"))


# -- bodies ----------------------------------------------------------------------------


def test_body_round_trip_with_45_bytes_overhead(world: World) -> None:
    cwk, _ = seal_cwk(world.pki.signer("JPN.MOFA"), world.recipients("JPN.MOFA", "AUS.DFAT"))
    header, label, body = message_parts()
    mid = uuid.uuid4()
    sealed = encrypt_body(cwk, mid, header=header, label=label, plaintext=body)
    assert len(sealed) - len(body) == BODY_OVERHEAD == 45
    assert body not in sealed
    parsed = EncryptedBody.from_bytes(sealed)
    assert decrypt_body(cwk, mid, header=header, label=label, body=parsed) == body


def test_swapped_label_header_or_id_fails_decryption(world: World) -> None:
    cwk, _ = seal_cwk(world.pki.signer("JPN.MOFA"), world.recipients("JPN.MOFA", "AUS.DFAT"))
    header, label, body = message_parts()
    other_header, other_label, _ = message_parts("accord.information-report.v1")
    mid = uuid.uuid4()
    sealed = EncryptedBody.from_bytes(
        encrypt_body(cwk, mid, header=header, label=label, plaintext=body)
    )
    flipped = EncryptedBody(
        sealed.cwk_id, sealed.nonce, bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:]
    )
    attempts = [
        (mid, header, other_label, sealed),
        (mid, other_header, label, sealed),
        (mid, label, header, sealed),  # the framing keeps the two apart
        (uuid.uuid4(), header, label, sealed),
        (mid, header, label, flipped),
    ]
    for message_id, h, lab, b in attempts:
        with pytest.raises(Undecryptable) as caught:
            decrypt_body(cwk, message_id, header=h, label=lab, body=b)
        assert caught.value.code == "undecryptable"


@pytest.mark.parametrize("data", [b"", b"\x01" * 44, b"\x02" + b"\x00" * 60])
def test_malformed_encrypted_body_is_undecryptable(data: bytes) -> None:
    with pytest.raises(Undecryptable):
        EncryptedBody.from_bytes(data)


@pytest.mark.parametrize("count", [1, 3, 10])
def test_per_message_overhead_does_not_grow_with_recipients(world: World, count: int) -> None:
    agencies = ("JPN.MOFA", *[a for a in AGENCIES if a != "JPN.MOFA"][: count - 1])
    cwk, announcement = seal_cwk(world.pki.signer("JPN.MOFA"), world.recipients(*agencies))
    header, label, _ = message_parts()
    assert len(cwk.recipients) == count
    assert announcement.count(b".") == 2
    for size in (0, 1024, 65536):
        body = b"x" * size
        sealed = encrypt_body(cwk, uuid.uuid4(), header=header, label=label, plaintext=body)
        assert len(sealed) - len(body) == BODY_OVERHEAD == 45
        # Base64url once (a JSON string in an unencoded JWS payload, RFC 7797), against
        # the plaintext inside a base64url payload: the same 62 bytes at every size.
        assert len(b64e(sealed)) + 2 - len(b64e(body)) <= 62


# -- receiver keyring and sender epochs ----------------------------------------------------


def test_keyring_needs_the_announcement_first(world: World) -> None:
    trust = world.pki.trust_store()
    sender = ContentEncryptor(world.pki.signer("JPN.MOFA"))
    cwk, announcement = sender.cwk_for(world.recipients("JPN.MOFA", "AUS.DFAT"))
    assert announcement is not None
    header, label, body = message_parts()
    mid = uuid.uuid4()
    sealed = encrypt_body(cwk, mid, header=header, label=label, plaintext=body)
    keyring = world.keyring("AUS.DFAT")
    with pytest.raises(UnknownCwk):
        keyring.decrypt(mid, sender="JPN.MOFA", header=header, label=label, body=sealed)
    keyring.open(announcement, trust, now=now())
    assert keyring.decrypt(mid, sender="JPN.MOFA", header=header, label=label, body=sealed) == body
    # a body also encrypted to an agency the message does not entitle is refused
    with pytest.raises(Refused) as caught:
        keyring.decrypt(
            mid, sender="JPN.MOFA", header=header, label=label, body=sealed, entitled=("AUS.DFAT",)
        )
    assert caught.value.reason is ReasonCode.RELEASABILITY_VIOLATION
    assert (
        keyring.decrypt(
            mid,
            sender="JPN.MOFA",
            header=header,
            label=label,
            body=sealed,
            entitled=("AUS.DFAT", "JPN.MOFA", "JPN.MOD"),
        )
        == body
    )
    # an agency left out cannot read, and says so rather than wait for a key
    outsider = world.keyring("USA.STATE")
    with pytest.raises(NotARecipient):
        outsider.open(announcement, trust, now=now())
    with pytest.raises(NotARecipient) as left_out:
        outsider.decrypt(mid, sender="JPN.MOFA", header=header, label=label, body=sealed)
    assert left_out.value.code == "not-a-recipient"
    # the same CWK claimed for another sender is not used
    with pytest.raises(UnknownCwk):
        keyring.decrypt(mid, sender="JPN.MOD", header=header, label=label, body=sealed)


def test_one_announcement_per_recipient_set_and_epoch(world: World) -> None:
    sender = ContentEncryptor(world.pki.signer("JPN.MOFA"), lifetime=timedelta(minutes=10))
    recipients = world.recipients("JPN.MOFA", "AUS.DFAT")
    first, announcement = sender.cwk_for(recipients)
    assert announcement is not None
    again, none = sender.cwk_for(recipients)
    assert again is first
    assert none is None
    other, announcement = sender.cwk_for(world.recipients("JPN.MOFA", "JPN.MOD"))
    assert other != first
    assert announcement is not None
    later, announcement = sender.cwk_for(recipients, now=now() + timedelta(minutes=10))
    assert later != first
    assert announcement is not None


def test_rotating_a_recipient_key_mid_stream_loses_nothing(world: World) -> None:
    """Messages sealed under the old key still open; new ones go to the new key at once."""
    trust = world.pki.trust_store()
    directory = KeyDirectory(trust)
    old = EncryptionKeyPair.generate()
    for agency in ("JPN.MOFA", "AUS.DFAT"):
        key = old if agency == "AUS.DFAT" else world.keys[agency]
        directory.add(
            sign_key_statement(
                world.pki.signer(agency), key.public, now=now() - timedelta(minutes=2)
            ),
            now=now(),
        )
    sender = ContentEncryptor(world.pki.signer("JPN.MOFA"))
    keyring = Keyring("AUS.DFAT", [old])
    header, label, body = message_parts()

    def send() -> tuple[uuid.UUID, bytes]:
        recipients = resolve_recipients(["JPN.MOFA", "AUS.DFAT"], directory, now=now())
        cwk, announcement = sender.cwk_for(recipients)
        if announcement is not None:
            keyring.open(announcement, trust, now=now())
        mid = uuid.uuid4()
        return mid, encrypt_body(cwk, mid, header=header, label=label, plaintext=body)

    before = [send() for _ in range(3)]
    new = EncryptionKeyPair.generate()
    keyring.add_key(new)
    directory.add(sign_key_statement(world.pki.signer("AUS.DFAT"), new.public), now=now())
    after = [send() for _ in range(3)]
    assert {EncryptedBody.from_bytes(b).cwk_id for _, b in before}.isdisjoint(
        EncryptedBody.from_bytes(b).cwk_id for _, b in after
    )
    for mid, sealed in before + after:
        assert (
            keyring.decrypt(mid, sender="JPN.MOFA", header=header, label=label, body=sealed) == body
        )
    # once revoked, the old key is no recipient of anything new
    directory.add(sign_key_revocation(world.pki.signer("AUS.DFAT"), new.ekid), now=now())
    with pytest.raises(NoEncryptionKey):
        resolve_recipients(["JPN.MOFA", "AUS.DFAT"], directory, now=now())


def test_plaintext_is_refused_only_where_encryption_is_required() -> None:
    with pytest.raises(PlaintextRefused) as caught:
        check_plaintext(EncryptionMode.REQUIRED, encrypted=False, scope="bilateral")
    assert caught.value.code == "plaintext-refused"
    check_plaintext(EncryptionMode.REQUIRED, encrypted=True, scope="bilateral")
    check_plaintext(EncryptionMode.OPTIONAL, encrypted=False, scope="bilateral")
