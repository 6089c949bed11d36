"""The exchange plan: who may publish and receive which areas, in which scopes.

The plan is the single source of the exchange's shape. Topics, broker principals
and ACLs are all derived from it by pure functions, so what ``accord plan show``
prints, what ``accord plan diff`` compares and what the broker enforces cannot
drift apart.

Structure errors (unknown keys, wrong types, unknown areas) come from pydantic;
cross-field rules ("an agency may only be entitled to an area that some scope
carrying its country carries") are in :meth:`Plan.problems`, which returns each
problem with the path inside the document, so the YAML loader can name the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)

from accord.areas import Area
from accord.errors import PlanError
from accord.parties import AgencyId, Country, Scope, country_of
from accord.topics import (
    DEFAULT_NAMESPACE,
    NAMESPACE_PATTERN,
    exchange_topic,
    keys_topic,
    quarantine_topic,
    receipts_topic,
    trust_topic,
)

PLAN_VERSION = 1
"""Consumer groups of agency nodes are ``accord.node.<agency id, lower case>``."""

Path = tuple[str | int, ...]
"""A location inside the plan document, as pydantic reports it."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TopicDefaults(_Strict):
    """Settings every topic gets unless its kind overrides them."""

    partitions: int = Field(ge=1, le=1000)
    replication_factor: int = Field(ge=1, le=7)
    min_insync_replicas: int = Field(ge=1, le=7)
    retention_ms: int = Field(ge=-1, description="-1 keeps records forever")
    cleanup_policy: Literal["delete", "compact"] = "delete"


class TopicOverrides(_Strict):
    """Per-kind overrides; a field left out takes the default."""

    partitions: int | None = Field(default=None, ge=1, le=1000)
    replication_factor: int | None = Field(default=None, ge=1, le=7)
    min_insync_replicas: int | None = Field(default=None, ge=1, le=7)
    retention_ms: int | None = Field(default=None, ge=-1)
    cleanup_policy: Literal["delete", "compact"] | None = None


TopicKind = Literal["exchange", "receipts", "quarantine", "trust"]


class TopicSettings(_Strict):
    defaults: TopicDefaults
    exchange: TopicOverrides = TopicOverrides()
    receipts: TopicOverrides = TopicOverrides()
    quarantine: TopicOverrides = TopicOverrides()
    # The trust topic carries certificates and CRLs keyed by subject: it must be
    # compacted, or a CA certificate older than the retention would disappear.
    trust: TopicOverrides = TopicOverrides(cleanup_policy="compact")

    def resolved(self, kind: TopicKind) -> TopicDefaults:
        over: TopicOverrides = getattr(self, kind)
        merged = self.defaults.model_dump()
        merged.update(over.model_dump(exclude_none=True))
        return TopicDefaults.model_validate(merged)


class ScopePlan(_Strict):
    countries: list[Country] = Field(min_length=2)
    areas: list[Area] = Field(min_length=1)
    encryption: Literal["required", "optional", "off"] = "off"
    """Bodies in this scope (accord.confidentiality.EncryptionMode): ``required`` makes a
    decrypting node quarantine a plaintext body (SPEC ENC-04). ``off`` when absent, so
    a plan written before envelope v2 means what it meant."""
    signing: Literal["batched", "per-message"] = "batched"
    """How a publisher signs records in this scope (SPEC section 12, batch signatures):
    ``batched`` signs one Merkle tree root per batch of records, each record carrying
    the signed root and its own inclusion proof (every record still verifies alone);
    ``per-message`` gives each record its own signature. Receivers accept both."""


class AgencyPlan(_Strict):
    """What one agency node may publish and receive. The id is the key in ``agencies``."""

    id: AgencyId = ""  # filled from the mapping key by Plan; not written in YAML
    name: str = Field(default="", max_length=200)
    publish: list[Area] = Field(default_factory=list)
    receive: list[Area] = Field(default_factory=list)

    @property
    def country(self) -> Country:
        return country_of(self.id)


class MonitorPlan(_Strict):
    """The monitor reads receipts only; it learns who should have received from the plan."""

    principal: Annotated[str, Field(pattern=r"^[a-z][a-z0-9.-]{2,63}$")] = "accord.monitor"
    group: Annotated[str, Field(pattern=r"^[a-z][a-z0-9.-]{2,127}$")] = "accord.monitor"


@dataclass(frozen=True)
class TopicSpec:
    """A topic to create: what ``apply`` hands to the broker."""

    name: str
    partitions: int
    replication_factor: int
    configs: dict[str, str] = field(default_factory=dict)
    kind: TopicKind = "exchange"


@dataclass(frozen=True)
class Problem:
    """A semantic problem at ``path`` in the document, with how to fix it."""

    path: Path
    message: str
    hint: str


class Plan(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    version: Literal[1]
    # Every topic and group name starts with the namespace, so several exchanges
    # (production, staging, test runs) can share a cluster without seeing each other.
    namespace: Annotated[str, Field(pattern=NAMESPACE_PATTERN)] = DEFAULT_NAMESPACE
    countries: list[Country] = Field(min_length=1)
    scopes: dict[Scope, ScopePlan]
    # In YAML this is ``topics:``; the attribute has another name because
    # ``Plan.topics()`` is the list of topics to create.
    topic_settings: TopicSettings = Field(alias="topics")
    agencies: dict[AgencyId, AgencyPlan]
    monitor: MonitorPlan = MonitorPlan()

    @model_validator(mode="before")
    @classmethod
    def _ids_from_keys(cls, data: Any) -> Any:
        # The agency id is the mapping key; copying it in lets AgencyPlan stand alone.
        if isinstance(data, dict) and isinstance(data.get("agencies"), dict):
            agencies = {}
            for key, value in data["agencies"].items():
                if isinstance(value, dict) and "id" not in value:
                    value = {**value, "id": key}
                agencies[key] = value
            data = {**data, "agencies": agencies}
        return data

    @model_validator(mode="after")
    def _semantics(self, info: ValidationInfo) -> Plan:
        # The YAML loader runs problems() itself so that it can name lines; code that
        # builds a Plan directly gets the same checks here.
        if info.context and info.context.get("defer_semantics"):
            return self
        found = self.problems()
        if found:
            first = found[0]
            where = ".".join(str(p) for p in first.path)
            raise ValueError(f"{where}: {first.message} ({first.hint})")
        return self

    # ----------------------------------------------------------------- checks
    def problems(self) -> list[Problem]:
        """Cross-field rules, each with its location in the document."""
        out: list[Problem] = []
        for i, country in enumerate(self.countries):
            if country in self.countries[:i]:
                out.append(
                    Problem(
                        ("countries", i),
                        f"country {country} is listed twice",
                        "list each country once",
                    )
                )
        for scope, sp in self.scopes.items():
            if set(sp.countries) != set(scope.members):
                want = ", ".join(sorted(scope.members))
                out.append(
                    Problem(
                        ("scopes", scope.value, "countries"),
                        f"scope {scope.value} must have exactly the countries {want}",
                        f"set countries: [{want}]; the scope's membership is fixed by the "
                        "declaration and used by labels and topics",
                    )
                )
            for i, c in enumerate(sp.countries):
                if c not in self.countries:
                    out.append(
                        Problem(
                            ("scopes", scope.value, "countries", i),
                            f"country {c} is not in the plan's countries",
                            f"add {c} to the top-level countries list",
                        )
                    )
            out += _dupes(sp.areas, ("scopes", scope.value, "areas"), "area")
        missing = [s for s in Scope if s not in self.scopes]
        for s in missing:
            out.append(
                Problem(
                    ("scopes",),
                    f"scope {s.value} is missing",
                    f"add scopes.{s.value} with its countries and areas",
                )
            )
        for kind in ("exchange", "receipts", "quarantine", "trust"):
            resolved = self.topic_settings.resolved(kind)
            if resolved.min_insync_replicas > resolved.replication_factor:
                out.append(
                    Problem(
                        (
                            "topics",
                            kind
                            if getattr(self.topic_settings, kind).min_insync_replicas
                            else "defaults",
                            "min_insync_replicas",
                        ),
                        f"{kind} topics: min_insync_replicas ({resolved.min_insync_replicas}) "
                        f"exceeds replication_factor ({resolved.replication_factor})",
                        "min_insync_replicas must be <= replication_factor, or every "
                        "acks=all write would fail",
                    )
                )
        if self.topic_settings.resolved("trust").cleanup_policy != "compact":
            out.append(
                Problem(
                    ("topics", "trust", "cleanup_policy"),
                    "the trust topic must be compacted",
                    "set cleanup_policy: compact (certificates and CRLs must "
                    "outlive any retention window)",
                )
            )
        for agency_id, ap in self.agencies.items():
            country = country_of(agency_id)
            base: Path = ("agencies", agency_id)
            if country not in self.countries:
                out.append(
                    Problem(
                        base,
                        f"agency {agency_id}: country {country} is not in the plan's countries",
                        f"add {country} to countries, or remove the agency",
                    )
                )
                continue
            if ap.id != agency_id:
                out.append(
                    Problem(
                        (*base, "id"),
                        f"id {ap.id!r} differs from the key {agency_id!r}",
                        "remove the id field",
                    )
                )
            carried = self.areas_for_country(country)
            for verb in ("publish", "receive"):
                areas: list[Area] = getattr(ap, verb)
                out += _dupes(areas, (*base, verb), "area")
                for i, area in enumerate(areas):
                    if area not in carried:
                        scopes = [s.value for s, sp in self.scopes.items() if area in sp.areas]
                        out.append(
                            Problem(
                                (*base, verb, i),
                                f"agency {agency_id} may not {verb} {area.value}: no scope that "
                                f"{country} belongs to carries it"
                                + (f" (only {', '.join(scopes)})" if scopes else ""),
                                f"remove {area.value} from {agency_id}.{verb}, or add it to the "
                                f"areas of a scope {country} belongs to",
                            )
                        )
            if not ap.publish and not ap.receive:
                out.append(
                    Problem(
                        base,
                        f"agency {agency_id} has no publish or receive areas",
                        "give it at least one area, or remove it",
                    )
                )
        if self.monitor.principal in self.agencies:
            out.append(
                Problem(
                    ("monitor", "principal"),
                    "the monitor principal collides with an agency id",
                    "use a distinct name such as accord.monitor",
                )
            )
        return out

    def with_encryption(self, mode: Literal["required", "optional", "off"]) -> Plan:
        """The same plan with ``encryption: mode`` in every scope (tests and benchmarks
        that compare or isolate the plaintext path; the deployed plan says ``required``)."""
        scopes = {s: sp.model_copy(update={"encryption": mode}) for s, sp in self.scopes.items()}
        return self.model_copy(update={"scopes": scopes})

    # ---------------------------------------------------------------- queries
    def agency(self, agency_id: str) -> AgencyPlan:
        try:
            return self.agencies[agency_id]
        except KeyError:
            raise PlanError(
                f"agency {agency_id!r} is not in the plan",
                hint="add it under agencies: in the plan file, then run `accord plan apply`",
            ) from None

    def scope_areas(self, scope: Scope) -> list[Area]:
        sp = self.scopes.get(scope)
        return list(sp.areas) if sp else []

    def scopes_of(self, country: Country) -> list[Scope]:
        """Scopes the country takes part in, in declaration order."""
        return [s for s in Scope if s in self.scopes and country in self.scopes[s].countries]

    def areas_for_country(self, country: Country) -> set[Area]:
        return {a for s in self.scopes_of(country) for a in self.scopes[s].areas}

    def may_publish(self, agency: str, scope: Scope, area: Area) -> bool:
        ap = self.agencies.get(agency)
        if ap is None or scope not in self.scopes:
            return False
        return (
            ap.country in self.scopes[scope].countries
            and area in self.scopes[scope].areas
            and area in ap.publish
        )

    def may_receive(self, agency: str, scope: Scope, area: Area) -> bool:
        ap = self.agencies.get(agency)
        if ap is None or scope not in self.scopes:
            return False
        return (
            ap.country in self.scopes[scope].countries
            and area in self.scopes[scope].areas
            and area in ap.receive
        )

    def publish_topics(self, agency: str) -> list[str]:
        """Exchange topics the agency may write."""
        self.agency(agency)
        return [
            self.exchange_topic(s, a)
            for s in Scope
            for a in self.scope_areas(s)
            if self.may_publish(agency, s, a)
        ]

    def receive_topics(self, agency: str) -> list[str]:
        """Exchange topics the agency may read: its country's scopes x its receive areas."""
        self.agency(agency)
        return [
            self.exchange_topic(s, a)
            for s in Scope
            for a in self.scope_areas(s)
            if self.may_receive(agency, s, a)
        ]

    def entitled_receivers(self, scope: Scope, area: Area) -> list[str]:
        """Agencies that should receive a message on ``exchange_topic(scope, area)``.

        The sender is included when it is itself entitled; the monitor excludes it.
        """
        sp = self.scopes.get(scope)
        if sp is None or area not in sp.areas:
            return []
        # may_receive for each agency, with the scope looked up once (per message on
        # both sides when bodies are encrypted: the recipients are worked out from it)
        return sorted(
            a
            for a, ap in self.agencies.items()
            if area in ap.receive and ap.country in sp.countries
        )

    def exchange_topic(self, scope: Scope, area: Area) -> str:
        return exchange_topic(scope, area, self.namespace)

    @property
    def receipts_topic(self) -> str:
        return receipts_topic(self.namespace)

    @property
    def trust_topic(self) -> str:
        return trust_topic(self.namespace)

    def quarantine_topic(self, agency: str) -> str:
        return quarantine_topic(agency, self.namespace)

    def keys_topic(self, agency: str) -> str:
        """Where ``agency`` announces its encryption keys and CWKs (only it may write)."""
        return keys_topic(agency, self.namespace)

    def keys_topics(self) -> list[str]:
        """Every agency's key topic (a node reads them all), in a stable order."""
        return [self.keys_topic(a) for a in sorted(self.agencies)]

    def exchange_topics(self) -> list[str]:
        return [self.exchange_topic(s, a) for s in Scope for a in self.scope_areas(s)]

    def topics(self) -> list[TopicSpec]:
        """Every topic to create, exchange topics first, in a stable order."""
        specs = [
            _spec(t, self.topic_settings.resolved("exchange"), "exchange")
            for t in self.exchange_topics()
        ]
        specs.append(
            _spec(self.receipts_topic, self.topic_settings.resolved("receipts"), "receipts")
        )
        specs.append(_spec(self.trust_topic, self.topic_settings.resolved("trust"), "trust"))
        # Key topics are compacted and read from the start like the trust topic.
        specs += [
            _spec(t, self.topic_settings.resolved("trust"), "trust") for t in self.keys_topics()
        ]
        q = self.topic_settings.resolved("quarantine")
        specs += [_spec(self.quarantine_topic(a), q, "quarantine") for a in sorted(self.agencies)]
        return specs

    def group_id(self, agency: str) -> str:
        """The agency node's consumer group, e.g. ``accord.node.jpn.mofa``.

        The broker allows the agency this exact group and any ``<group id>.<suffix>``
        (see accord.access); nothing else.
        """
        self.agency(agency)
        return f"{self.namespace}.node.{agency.lower()}"


def _dupes(items: list[Area], path: Path, what: str) -> list[Problem]:
    seen: set[Area] = set()
    out = []
    for i, item in enumerate(items):
        if item in seen:
            out.append(
                Problem(
                    (*path, i),
                    f"{what} {item.value} is listed twice",
                    f"remove the second {item.value}",
                )
            )
        seen.add(item)
    return out


def _spec(name: str, s: TopicDefaults, kind: TopicKind) -> TopicSpec:
    configs = {
        "min.insync.replicas": str(s.min_insync_replicas),
        "cleanup.policy": s.cleanup_policy,
    }
    # Retention is meaningless on a compacted topic; leaving it out keeps the
    # broker's default and avoids a misleading value in describe_configs.
    if s.cleanup_policy == "delete":
        configs["retention.ms"] = str(s.retention_ms)
    return TopicSpec(name, s.partitions, s.replication_factor, configs, kind)
