"""The message types, one model each, keyed by versioned type name."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic.json_schema import WithJsonSchema

from accord.areas import Area
from accord.conformance import rules
from accord.errors import ReasonCode, Refused
from accord.models.base import MessageBody
from accord.models.types import (
    AGENCY_SCHEMA,
    UNIQUE,
    Agency,
    Attachment,
    CanonicalUuid,
    Day,
    LongText,
    Note,
    Sha256Hex,
    ShortText,
    Statement,
    Strict,
    Subjects,
    Timestamp,
    Title,
    absent_by_default,
    invariant,
    list_or_absent,
    unique,
)
from accord.parties import Country, Scope

References = Annotated[
    tuple[CanonicalUuid, ...], Field(max_length=50, description="message ids of earlier messages")
]
Attachments = Annotated[tuple[Attachment, ...], Field(max_length=20)]
Agencies = Annotated[
    tuple[Agency, ...], Field(min_length=1, max_length=50, json_schema_extra=UNIQUE)
]


# -- strategic assessment ---------------------------------------------------------


class Likelihood(StrEnum):
    """ICD 203 expressions of likelihood, lowest first."""

    ALMOST_NO_CHANCE = "almost-no-chance"
    VERY_UNLIKELY = "very-unlikely"
    UNLIKELY = "unlikely"
    ROUGHLY_EVEN_CHANCE = "roughly-even-chance"
    LIKELY = "likely"
    VERY_LIKELY = "very-likely"
    ALMOST_CERTAIN = "almost-certain"


class Confidence(StrEnum):
    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"


class Reliability(StrEnum):
    """Admiralty code source reliability: A (completely reliable) to F (cannot be judged)."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"
    F = "F"


class KeyJudgment(Strict):
    statement: Statement
    likelihood: Likelihood
    confidence: Confidence


class Source(Strict):
    description: Statement
    reliability: Reliability
    credibility: Annotated[
        int,
        Field(
            ge=1,
            le=6,
            description="Admiralty code information credibility: 1 (confirmed) "
            "to 6 (cannot be judged)",
        ),
    ]


class StrategicAssessment(MessageBody):
    """Areas of Cooperation (vi): an assessment of a security development."""

    TYPE: ClassVar[str] = "accord.strategic-assessment.v1"

    title: Title
    summary: LongText
    key_judgments: Annotated[tuple[KeyJudgment, ...], Field(min_length=1, max_length=50)]
    sources: Annotated[tuple[Source, ...], Field(max_length=100)] = ()
    subjects: Subjects = ()
    region: ShortText
    valid_from: Timestamp
    valid_until: Timestamp
    references: References = ()
    attachments: Attachments = ()

    @model_validator(mode="after")
    def _check(self) -> StrategicAssessment:
        unique(self.subjects, "subjects")
        invariant(self.valid_until > self.valid_from, "valid_until must be after valid_from")
        return self


# -- information report -----------------------------------------------------------


class Priority(StrEnum):
    ROUTINE = "routine"
    PRIORITY = "priority"
    IMMEDIATE = "immediate"
    FLASH = "flash"


class InformationReport(MessageBody):
    """A time-critical report or alert, in any area."""

    TYPE: ClassVar[str] = "accord.information-report.v1"

    title: Title
    priority: Priority
    details: LongText
    subjects: Subjects = ()
    region: ShortText | None = None
    observed_at: Timestamp | None = None
    references: References = ()
    attachments: Attachments = ()

    @model_validator(mode="after")
    def _check(self) -> InformationReport:
        unique(self.subjects, "subjects")
        return self


# -- practical cooperation notices ------------------------------------------------


class ExerciseKind(StrEnum):
    EXERCISE = "exercise"
    TRAINING = "training"


class ExerciseNotice(MessageBody):
    """Practical cooperation (ii): a joint exercise or training."""

    TYPE: ClassVar[str] = "accord.exercise-notice.v1"
    AREAS: ClassVar[frozenset[Area] | None] = frozenset({Area.JOINT_EXERCISES})

    name: Title
    kind: ExerciseKind
    description: Note
    participants: Agencies
    location: ShortText
    starts_at: Timestamp
    ends_at: Timestamp
    focus_areas: Annotated[tuple[Area, ...], Field(max_length=len(Area))] = ()

    @model_validator(mode="after")
    def _check(self) -> ExerciseNotice:
        unique(self.participants, "participants")
        invariant(self.ends_at > self.starts_at, "ends_at must be after starts_at")
        return self

    def check_context(self, *, sender: str, scope: Scope, area: Area) -> None:
        super().check_context(sender=sender, scope=scope, area=area)
        self._agencies_in_scope(self.participants, scope, "participants", rule="ENV-36")


class PersonnelExchangeNotice(MessageBody):
    """Practical cooperation (i): an officer posted from one agency to another."""

    TYPE: ClassVar[str] = "accord.personnel-exchange-notice.v1"
    AREAS: ClassVar[frozenset[Area] | None] = frozenset({Area.PERSONNEL_EXCHANGE})

    home_agency: Agency
    host_agency: Agency
    position: ShortText
    description: Note | None = None
    starts_on: Day
    ends_on: Day | None = None

    @model_validator(mode="after")
    def _check(self) -> PersonnelExchangeNotice:
        invariant(self.home_agency != self.host_agency, "home_agency and host_agency must differ")
        invariant(
            self.ends_on is None or self.ends_on >= self.starts_on, "ends_on is before starts_on"
        )
        return self

    def check_context(self, *, sender: str, scope: Scope, area: Area) -> None:
        super().check_context(sender=sender, scope=scope, area=area)
        self._agencies_in_scope(
            (self.home_agency, self.host_agency), scope, "agencies", rule="ENV-36"
        )


class ActivityKind(StrEnum):
    LAW_ENFORCEMENT = "law-enforcement"
    PEACE_OPERATIONS = "peace-operations"
    REGIONAL_CAPACITY_BUILDING = "regional-capacity-building"


class CoordinatedActivityNotice(MessageBody):
    """Practical cooperation (iii): a coordinated activity."""

    TYPE: ClassVar[str] = "accord.coordinated-activity-notice.v1"
    AREAS: ClassVar[frozenset[Area] | None] = frozenset({Area.COORDINATED_ACTIVITIES})

    title: Title
    kind: ActivityKind
    description: Note
    participants: Agencies
    region: ShortText
    starts_at: Timestamp
    ends_at: Timestamp | None = None

    @model_validator(mode="after")
    def _check(self) -> CoordinatedActivityNotice:
        unique(self.participants, "participants")
        invariant(
            self.ends_at is None or self.ends_at > self.starts_at, "ends_at must be after starts_at"
        )
        return self

    def check_context(self, *, sender: str, scope: Scope, area: Area) -> None:
        super().check_context(sender=sender, scope=scope, area=area)
        self._agencies_in_scope(self.participants, scope, "participants", rule="ENV-36")


# -- action plan and dialogues ----------------------------------------------------


class MeasureStatus(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"


class ActionPlanUpdate(MessageBody):
    """The action plan: the status of one specific measure."""

    TYPE: ClassVar[str] = "accord.action-plan-update.v1"
    AREAS: ClassVar[frozenset[Area] | None] = frozenset({Area.ACTION_PLAN})

    measure_id: Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9.-]{0,31}$")]
    title: Title
    area: Area = Field(description="the area of cooperation the measure advances")
    status: MeasureStatus
    owners: Annotated[
        tuple[Agency, ...], Field(min_length=1, max_length=20, json_schema_extra=UNIQUE)
    ]
    progress: Note | None = None
    due_on: Day | None = None

    @model_validator(mode="after")
    def _check(self) -> ActionPlanUpdate:
        unique(self.owners, "owners")
        return self

    def check_context(self, *, sender: str, scope: Scope, area: Area) -> None:
        super().check_context(sender=sender, scope=scope, area=area)
        self._agencies_in_scope(self.owners, scope, "owners", rule="ENV-36")


class DialogueKind(StrEnum):
    FOREIGN_MINISTERS = "foreign-ministers"
    DEFENCE_MINISTERS = "defence-ministers"
    JOINT_FOREIGN_DEFENCE = "joint-foreign-defence"
    """The joint Foreign and Defence ministerial dialogue (2+2)."""
    TRILATERAL_STRATEGIC_DIALOGUE = "trilateral-strategic-dialogue"


class Participant(Strict):
    country: Country
    office: ShortText = Field(description="e.g. 'Minister for Foreign Affairs'")
    name: ShortText | None = None


class DialogueRecord(MessageBody):
    """A record of one of the dialogues the declaration establishes."""

    TYPE: ClassVar[str] = "accord.dialogue-record.v1"
    AREAS: ClassVar[frozenset[Area] | None] = frozenset({Area.DIALOGUE})

    kind: DialogueKind
    held_on: Day
    location: ShortText
    participants: Annotated[tuple[Participant, ...], Field(min_length=1, max_length=50)]
    outcomes: Annotated[tuple[Statement, ...], Field(min_length=1, max_length=50)]

    def check_context(self, *, sender: str, scope: Scope, area: Area) -> None:
        super().check_context(sender=sender, scope=scope, area=area)
        if (
            self.kind is DialogueKind.TRILATERAL_STRATEGIC_DIALOGUE
            and scope is not Scope.TRILATERAL
            and rules.enabled("ENV-35")
        ):
            raise Refused(
                ReasonCode.SCOPE_VIOLATION,
                "a Trilateral Strategic Dialogue record belongs in the trilateral scope",
                rule="ENV-35",
            )
        outside = sorted({p.country for p in self.participants} - scope.members)
        if outside and rules.enabled("ENV-36"):
            raise Refused(
                ReasonCode.SCOPE_VIOLATION,
                f"participants from {outside} are outside scope {scope}",
                rule="ENV-36",
            )


# -- receipts, supersede, retract -------------------------------------------------


MAX_READERS = 16
"""At most as many readers as a label's need-to-know list has agencies (SPEC 11.4)."""

Readers = Annotated[
    tuple[Agency, ...] | None,
    Field(max_length=MAX_READERS),
    # Published without ``null``, as the label's need-to-know list: absent means "every
    # entitled agency"; ``[]`` does mean nobody (but the sender, who is never listed).
    WithJsonSchema(
        {
            "type": "array",
            "items": AGENCY_SCHEMA,
            "maxItems": MAX_READERS,
            "uniqueItems": True,
            "description": "In a `published` receipt only: the agencies besides the sender "
            "expected to read the message, in ascending order, when its label's "
            "need-to-know list narrows them (the plan's entitled receivers for its scope "
            "and area, on the list, sender excluded; [] when that leaves none); absent: "
            "every entitled agency (SPEC 7, 11.4).",
        }
    ),
]


class Acknowledgement(Strict):
    """One acknowledged message: which, whose, and the digest of what was verified;
    in an originator's announcement, also who is expected to read it."""

    message_id: CanonicalUuid
    sender: Agency
    payload_sha256: Sha256Hex = Field(
        description="SHA-256 of the acknowledged message's signed payload bytes "
        "(the base64url-decoded JWS payload)"
    )
    readers: Readers = Field(
        default=None,
        # Absent stays absent on the wire: an acknowledgement without readers is
        # byte-for-byte the one of spec v1.2, so every earlier receipt is unchanged.
        exclude_if=lambda value: value is None,
        json_schema_extra=absent_by_default,
    )

    @field_validator("readers", mode="before")
    @classmethod
    def _absent_not_null(cls, value: object, info: ValidationInfo) -> object:
        return list_or_absent(value, info)


MAX_ACKNOWLEDGEMENTS = 1000


class Receipt(MessageBody):
    """A signed acknowledgement that ``receiving_agency`` received and verified messages.

    One receipt acknowledges a batch (up to 1000) of messages of the same scope and
    area, the ones a node landed in one inbox transaction: one signature per batch,
    not per message. ``status`` is ``delivered`` from a receiving node, once the
    messages are durably in its inbox, or ``published`` from the originator itself,
    once the broker has acknowledged its publishes: the monitor learns of every
    message from the latter, even one that no node ever acknowledges.
    """

    TYPE: ClassVar[str] = "accord.receipt.v1"

    receiving_agency: Agency
    received_at: Timestamp
    status: Literal["delivered", "published"]
    acknowledgements: Annotated[
        tuple[Acknowledgement, ...], Field(min_length=1, max_length=MAX_ACKNOWLEDGEMENTS)
    ]

    @model_validator(mode="after")
    def _check(self) -> Receipt:
        # Only the originator knows who its label lets read; a receiving node naming
        # readers would be telling the monitor whom to expect for someone else's message.
        # Checked here, not per acknowledgement: no Python call per acknowledgement of
        # the (common) receipt without readers. uniqueItems is ENV-27, so every list's
        # first, before any ENV-28 invariant (the order a schema validator gives).
        named = [a for a in self.acknowledgements if a.readers is not None]
        for ack in named:
            unique(ack.readers or (), "readers")
        for ack in named:
            readers = ack.readers or ()
            invariant(self.status == "published", "readers appear only in a published receipt")
            invariant(list(readers) == sorted(readers), "readers is not in ascending order")
            invariant(ack.sender not in readers, "readers lists the sender")
        return self

    def check_context(self, *, sender: str, scope: Scope, area: Area) -> None:
        super().check_context(sender=sender, scope=scope, area=area)
        if self.receiving_agency != sender and rules.enabled("ENV-38"):
            raise Refused(
                ReasonCode.SENDER_MISMATCH,
                f"receipt for {self.receiving_agency} signed by {sender}",
                hint="an agency acknowledges only what it received itself",
                rule="ENV-38",
            )
        senders = tuple(sorted({a.sender for a in self.acknowledgements}))
        self._agencies_in_scope(senders, scope, "acknowledged senders", rule="ENV-39")
        if self.status == "published" and senders != (sender,) and rules.enabled("ENV-40"):
            raise Refused(
                ReasonCode.SENDER_MISMATCH,
                f"{sender} announced messages of {', '.join(senders)}",
                hint="only the originator announces its own publishes",
                rule="ENV-40",
            )


class _Targeted(MessageBody):
    """A message about an earlier message of the same originator."""

    target_message_id: CanonicalUuid
    target_sender: Agency
    reason: Statement

    def check_context(self, *, sender: str, scope: Scope, area: Area) -> None:
        super().check_context(sender=sender, scope=scope, area=area)
        if self.target_sender != sender and rules.enabled("ENV-37"):
            raise Refused(
                ReasonCode.NOT_ORIGINATOR,
                f"{sender} cannot {self.TYPE.split('.')[1]} a message of {self.target_sender}",
                hint="only the originator may supersede or retract its own message",
                rule="ENV-37",
            )


class Supersede(_Targeted):
    """Replaces an earlier message; the earlier one stays on record."""

    TYPE: ClassVar[str] = "accord.supersede.v1"

    replacement_summary: Note
    replacement_message_id: CanonicalUuid | None = None


class Retract(_Targeted):
    """Withdraws an earlier message. A signed message, never a deletion."""

    TYPE: ClassVar[str] = "accord.retract.v1"


MESSAGE_TYPES: dict[str, type[MessageBody]] = {
    cls.TYPE: cls
    for cls in (
        StrategicAssessment,
        InformationReport,
        ExerciseNotice,
        PersonnelExchangeNotice,
        CoordinatedActivityNotice,
        ActionPlanUpdate,
        DialogueRecord,
        Receipt,
        Supersede,
        Retract,
    )
}
"""Every message type, by its versioned wire name."""
