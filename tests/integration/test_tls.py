"""The launcher's TLS listener: SSL (plain mode) and SASL_SSL (scram mode), throw-away CA.

Three small brokers, one per listener flavour, each started once for this module.
Failures must be the TLS layer's: a client that does not trust the CA sees a
certificate verification error; a client without a certificate is refused when
the listener requires one.
"""

from __future__ import annotations

import logging
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaError
from cryptography import x509

from accord.broker import LocalBroker, TlsSettings
from accord.broker.config import BrokerNodeSettings, NodePorts, TlsListener, render_properties
from accord.broker.tls import LocalCa
from accord.config import KafkaConnection
from accord.kafka.clients import new_consumer, new_producer

pytestmark = pytest.mark.kafka


def _broker(root: Path, **kwargs: object) -> Iterator[LocalBroker]:
    broker = LocalBroker(root, **kwargs)  # type: ignore[arg-type]
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="module")
def ssl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    yield from _broker(tmp_path_factory.mktemp("kafka-ssl"), mode="plain", tls=TlsSettings())


@pytest.fixture(scope="module")
def mtls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    yield from _broker(
        tmp_path_factory.mktemp("kafka-mtls"), mode="plain", tls=TlsSettings(client_auth=True)
    )


@pytest.fixture(scope="module")
def sasl_ssl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    yield from _broker(
        tmp_path_factory.mktemp("kafka-sasl-ssl"),
        mode="scram",
        admin_password="admin-secret",
        tls=TlsSettings(),
    )


async def round_trip(conn: KafkaConnection) -> list[bytes]:
    """Write one record to a new topic and read it back, both over ``conn``."""
    topic = f"tls.{uuid.uuid4().hex[:10]}"
    value = uuid.uuid4().hex.encode()
    producer = new_producer(conn, request_timeout_ms=10_000)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()
    consumer = new_consumer(conn, topic, group_id=f"g.{topic}")
    await consumer.start()
    try:
        seen: list[bytes] = []
        for _ in range(40):
            batch = await consumer.getmany(timeout_ms=500)
            seen += [r.value for recs in batch.values() for r in recs if r.value is not None]
            if seen:
                break
        return seen
    finally:
        await consumer.stop()


async def connect_error(conn: KafkaConnection) -> KafkaError | None:
    """The error a producer gets when it starts over ``conn``, or None if it connects."""
    producer = new_producer(conn, request_timeout_ms=5_000)
    try:
        await producer.start()
        return None
    except KafkaError as exc:
        return exc
    finally:
        await producer.stop()


# ------------------------------------------------------------------- SSL ----


async def test_produce_and_consume_over_ssl(ssl_broker: LocalBroker) -> None:
    conn = ssl_broker.tls_connection()
    assert conn.security_protocol == "SSL"
    assert conn.ssl_cafile == ssl_broker.tls_cafile
    assert conn.bootstrap_servers != ssl_broker.bootstrap_servers  # its own listener
    assert len(await round_trip(conn)) == 1


async def test_client_without_the_ca_fails_verification(
    ssl_broker: LocalBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    system_trust = ssl_broker.tls_connection().model_copy(update={"ssl_cafile": None})
    other_ca = ssl_broker.tls_connection().model_copy(
        update={"ssl_cafile": LocalCa.ensure(tmp_path / "other").cafile}
    )
    for conn in (system_trust, other_ca):
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="aiokafka"):
            err = await connect_error(conn)
        assert isinstance(err, KafkaConnectionError), err
        # aiokafka raises "unable to bootstrap"; the cause it logs is the TLS verdict.
        assert "certificate verify failed" in caplog.text, caplog.text


def test_ca_and_broker_files(ssl_broker: LocalBroker) -> None:
    tls_dir = ssl_broker.tls_dir
    for private in ("ca.key", "broker.pem"):
        assert stat.S_IMODE((tls_dir / private).stat().st_mode) == 0o600, private
    chain = x509.load_pem_x509_certificates((tls_dir / "broker.pem").read_bytes())
    sans = chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in sans.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert chain[1] == x509.load_pem_x509_certificate(ssl_broker.tls_cafile.read_bytes())
    # state.json records the CA, so `accord broker status` (another process) can print it
    assert str(ssl_broker.tls_cafile) in ssl_broker.state_path.read_text()


# ----------------------------------------------------------- client auth ----


async def test_client_auth_refuses_a_client_without_certificate(
    mtls_broker: LocalBroker,
) -> None:
    err = await connect_error(mtls_broker.tls_connection())
    assert isinstance(err, KafkaConnectionError), err


async def test_client_auth_refuses_a_certificate_from_another_ca(
    mtls_broker: LocalBroker, tmp_path: Path
) -> None:
    foreign = LocalCa.ensure(tmp_path / "foreign").issue_client("JPN.MOFA")
    err = await connect_error(mtls_broker.tls_connection(client_cert=foreign))
    assert isinstance(err, KafkaConnectionError), err


async def test_client_auth_accepts_an_issued_certificate(mtls_broker: LocalBroker) -> None:
    cert = mtls_broker.issue_client_cert("JPN.MOFA")
    assert stat.S_IMODE(cert.keyfile.stat().st_mode) == 0o600
    leaf = x509.load_pem_x509_certificate(cert.certfile.read_bytes())
    assert leaf.subject.rfc4514_string().startswith("CN=JPN.MOFA")
    assert len(await round_trip(mtls_broker.tls_connection(client_cert=cert))) == 1


# -------------------------------------------------------------- SASL_SSL ----


async def test_scram_over_tls(sasl_ssl_broker: LocalBroker) -> None:
    conn = sasl_ssl_broker.tls_connection()
    assert (conn.security_protocol, conn.username) == ("SASL_SSL", "admin")
    assert len(await round_trip(conn)) == 1


async def test_scram_over_tls_still_checks_the_password(sasl_ssl_broker: LocalBroker) -> None:
    conn = sasl_ssl_broker.tls_connection("admin", "not-the-password")
    assert await connect_error(conn) is not None


# ---------------------------------------------------------------- config ----


@pytest.mark.parametrize(("mode", "protocol"), [("plain", "SSL"), ("scram", "SASL_SSL")])
def test_tls_listener_properties(mode: str, protocol: str, tmp_path: Path) -> None:
    props = render_properties(
        BrokerNodeSettings(
            node_id=1,
            host="127.0.0.1",
            mode=mode,  # type: ignore[arg-type]
            ports=NodePorts(9092, 9093, 9094 if mode == "scram" else None),
            log_dir=tmp_path,
            voters=[(1, 9093)],
            broker_password="pw" if mode == "scram" else None,
            tls=TlsListener(9095, tmp_path / "b.pem", tmp_path / "ca.crt", client_auth=True),
        )
    )
    assert props["listeners"].endswith(",TLS://127.0.0.1:9095")
    assert props["advertised.listeners"].endswith(",TLS://127.0.0.1:9095")
    assert props["listener.security.protocol.map"].endswith(f",TLS:{protocol}")
    assert props["listener.name.tls.ssl.client.auth"] == "required"
    assert props["listener.name.tls.ssl.keystore.type"] == "PEM"
    assert ("listener.name.tls.sasl.enabled.mechanisms" in props) == (mode == "scram")
    assert props["inter.broker.listener.name"] != "TLS"  # TLS is for clients only
