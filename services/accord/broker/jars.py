"""The Kafka broker's jars: resolved once from Maven Central into a git-ignored cache.

``KAFKA_VERSION`` is the one place the broker version lives. It is passed to Maven
as ``-Dkafka.version`` (deploy/kafka/pom.xml only carries a default, checked
against this constant by a unit test) and names the ``apache/kafka`` image in
docker-compose.yml (also checked by a unit test).
"""

from __future__ import annotations

import fcntl
import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

from accord.errors import BrokerError
from accord.observability.logs import get_logger

KAFKA_VERSION = "4.4.0"
"""Newest Kafka 4.x verified with aiokafka 0.14 (see docs/broker.md for the evidence)."""

MIN_JAVA = 17

_log = get_logger(__name__)
_POM = Path("deploy") / "kafka" / "pom.xml"
_COMPLETE = ".complete"


def repo_root() -> Path:
    """The checkout that holds deploy/kafka/pom.xml: from this file or the cwd upwards."""
    here = Path(__file__).resolve()
    for start in (here.parent, Path.cwd().resolve()):
        for candidate in (start, *start.parents):
            if (candidate / _POM).is_file():
                return candidate
    raise BrokerError(
        "cannot find deploy/kafka/pom.xml above the accord package or the current directory",
        hint="run from the accord checkout, or set ACCORD_KAFKA_LIBS to a directory of jars",
    )


def libs_dir(version: str = KAFKA_VERSION) -> Path:
    """Where the jars for ``version`` live (whether or not they are fetched yet)."""
    override = os.environ.get("ACCORD_KAFKA_LIBS")
    if override:
        return Path(override)
    cache = os.environ.get("ACCORD_KAFKA_CACHE")
    root = Path(cache) if cache else repo_root() / ".cache" / "kafka"
    return root / version / "libs"


@functools.cache
def java_executable() -> str:
    """``java`` from JAVA_HOME or PATH, checked to be at least Java 17 (Kafka 4 needs it)."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        raise BrokerError(
            "java not found",
            hint=f"install a JDK {MIN_JAVA}+ (e.g. apt-get install openjdk-17-jdk)",
        )
    out = subprocess.run(
        [java, "-version"], capture_output=True, text=True, timeout=60, check=False
    )
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        raise BrokerError(f"cannot tell the Java version from {java} -version: {out.stderr!r}")
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8" style
        major = int(match.group(2))
    if major < MIN_JAVA:
        raise BrokerError(
            f"Java {major} found at {java}; Kafka 4 needs Java {MIN_JAVA}+",
            hint=f"install a JDK {MIN_JAVA}+ or point JAVA_HOME at one",
        )
    return java


def ensure_jars(version: str = KAFKA_VERSION, *, timeout: float = 900.0) -> Path:
    """Return the directory of the broker's jars, running Maven first if they are missing.

    Safe to call from several processes at once: a file lock serialises the fetch and
    the jars are copied to a scratch directory that is renamed into place, so nobody
    ever sees half a classpath.
    """
    libs = libs_dir(version)
    if (libs / _COMPLETE).exists() or os.environ.get("ACCORD_KAFKA_LIBS"):
        if not any(libs.glob("kafka_2.13-*.jar")):
            raise BrokerError(
                f"no kafka_2.13 jar in {libs}", hint="delete it and run `accord broker fetch`"
            )
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError(
            "mvn not found: it is needed once to fetch the Kafka jars",
            hint="install Maven 3.8+ (apt-get install maven), then `accord broker fetch`",
        )
    java_executable()
    libs.parent.mkdir(parents=True, exist_ok=True)
    with open(libs.parent / "fetch.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (libs / _COMPLETE).exists():  # another process fetched while we waited
            return libs
        scratch = libs.parent / f"libs.tmp-{os.getpid()}"
        shutil.rmtree(scratch, ignore_errors=True)
        cmd = [
            mvn, "-q", "-B", "-Dstyle.color=never",
            "-f", str(repo_root() / _POM),
            f"-Dkafka.version={version}",
            f"-DoutputDirectory={scratch}",
            "dependency:copy-dependencies",
        ]  # fmt: skip
        _log.info("broker.fetching_kafka_jars", version=version, into=str(libs))
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise BrokerError(
                f"mvn took longer than {timeout:.0f}s to fetch Kafka {version}",
                hint="check access to Maven Central (or your mirror in ~/.m2/settings.xml)",
            ) from None
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise BrokerError(
                f"mvn could not resolve Kafka {version}:\n{tail}",
                hint="check access to Maven Central and that this Kafka version exists",
            )
        (scratch / _COMPLETE).write_text(version + "\n")
        shutil.rmtree(libs, ignore_errors=True)
        scratch.rename(libs)
    _log.info("broker.kafka_jars_ready", version=version, jars=len(list(libs.glob("*.jar"))))
    return libs
