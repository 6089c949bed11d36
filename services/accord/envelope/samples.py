"""One fixed, valid sample message per type: for the golden vectors, tests and demos.

Everything here is deterministic (fixed ids and times) so the vectors built from it
are byte-for-byte reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from accord.areas import Area
from accord.envelope.header import Header, topic_for
from accord.labels import Caveat, Classification, Label, Policy
from accord.models import (
    Acknowledgement,
    ActionPlanUpdate,
    ActivityKind,
    Attachment,
    Confidence,
    CoordinatedActivityNotice,
    DialogueKind,
    DialogueRecord,
    ExerciseKind,
    ExerciseNotice,
    InformationReport,
    KeyJudgment,
    Likelihood,
    MeasureStatus,
    MessageBody,
    Participant,
    PersonnelExchangeNotice,
    Priority,
    Receipt,
    Reliability,
    Retract,
    Source,
    StrategicAssessment,
    Subject,
    Supersede,
)
from accord.parties import Country, Scope

ISSUED_AT = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
"""When every sample message is issued."""


def fixed_id(n: int, at: datetime = ISSUED_AT) -> UUID:
    """A deterministic UUIDv7 for ``at``, distinguished by ``n``."""
    ms = int(at.timestamp() * 1000)
    return UUID(int=ms << 80 | 0x7 << 76 | (n & 0xFFF) << 64 | 0b10 << 62 | n)


ASSESSMENT_ID = fixed_id(1)


@dataclass(frozen=True)
class Sample:
    sender: str
    scope: Scope
    area: Area
    body: MessageBody
    message_id: UUID


def sample_label(sender: str, scope: Scope, *, at: datetime = ISSUED_AT) -> Label:
    return Label(
        policy=Policy.ACCORD_JPN_AUS_2007,
        classification=Classification.RESTRICTED,
        releasable_to=tuple(sorted(scope.members)),
        caveats=(Caveat.ORCON,),
        originator=sender,
        created_at=at,
        review_on=(at + timedelta(days=365)).date(),
        legal_basis="Released under the originator's national laws and regulations "
        "(illustrative test value).",
    )


def sample_header(
    sample: Sample, *, sequence: int = 0, issued_at: datetime = ISSUED_AT, sender: str | None = None
) -> Header:
    header = Header.create(
        sample.body.TYPE,
        sender=sender or sample.sender,
        scope=sample.scope,
        area=sample.area,
        sequence=sequence,
        issued_at=issued_at,
        message_id=sample.message_id,
    )
    assert header.topic == topic_for(header)
    return header


_T = ISSUED_AT
_EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def _samples() -> dict[str, Sample]:
    bodies: list[tuple[str, Scope, Area, MessageBody]] = [
        (
            "JPN.MOFA",
            Scope.BILATERAL,
            Area.STRATEGIC_ASSESSMENTS,
            StrategicAssessment(
                title="Ballistic missile activity on the Korean Peninsula, Q1 outlook",
                summary="Test launches are expected to continue at the 2025 rate.",
                key_judgments=(
                    KeyJudgment(
                        statement="Further medium-range launches this quarter.",
                        likelihood=Likelihood.LIKELY,
                        confidence=Confidence.MODERATE,
                    ),
                    KeyJudgment(
                        statement="A nuclear test this quarter.",
                        likelihood=Likelihood.UNLIKELY,
                        confidence=Confidence.LOW,
                    ),
                ),
                sources=(
                    Source(
                        description="Open-source launch reporting",
                        reliability=Reliability.B,
                        credibility=2,
                    ),
                ),
                subjects=(Subject.NORTH_KOREA_NUCLEAR, Subject.BALLISTIC_MISSILES),
                region="Korean Peninsula",
                valid_from=_T,
                valid_until=_T + timedelta(days=90),
                attachments=(
                    Attachment(
                        sha256=_EMPTY_SHA256,
                        size=0,
                        media_type="application/pdf",
                        name="annex-a.pdf",
                    ),
                ),
            ),
        ),
        (
            "AUS.DFAT",
            Scope.TRILATERAL,
            Area.COUNTER_TERRORISM,
            InformationReport(
                title="Credible threat to a regional transport hub",
                priority=Priority.IMMEDIATE,
                details="Reporting indicates planning against a transport hub within 72 hours.",
                subjects=(Subject.TERRORISM,),
                region="South-East Asia",
                observed_at=_T - timedelta(hours=2),
            ),
        ),
        (
            "JPN.MOD",
            Scope.BILATERAL,
            Area.JOINT_EXERCISES,
            ExerciseNotice(
                name="Nichi-Gō Trident 2026",
                kind=ExerciseKind.EXERCISE,
                description="Combined humanitarian relief exercise.",
                participants=("JPN.MOD", "AUS.DEFENCE"),
                location="Darwin",
                starts_at=_T + timedelta(days=30),
                ends_at=_T + timedelta(days=37),
                focus_areas=(Area.HUMANITARIAN_RELIEF,),
            ),
        ),
        (
            "AUS.DEFENCE",
            Scope.BILATERAL,
            Area.PERSONNEL_EXCHANGE,
            PersonnelExchangeNotice(
                home_agency="AUS.DEFENCE",
                host_agency="JPN.MOD",
                position="Liaison officer, Joint Staff",
                starts_on=date(2026, 4, 1),
                ends_on=date(2028, 3, 31),
            ),
        ),
        (
            "AUS.DFAT",
            Scope.BILATERAL,
            Area.COORDINATED_ACTIVITIES,
            CoordinatedActivityNotice(
                title="Pacific maritime law-enforcement capacity building",
                kind=ActivityKind.REGIONAL_CAPACITY_BUILDING,
                description="Joint training for Pacific island coast guards.",
                participants=("AUS.DFAT", "JPN.MOFA"),
                region="South Pacific",
                starts_at=_T + timedelta(days=10),
            ),
        ),
        (
            "JPN.MOFA",
            Scope.BILATERAL,
            Area.ACTION_PLAN,
            ActionPlanUpdate(
                measure_id="AP-2007-06",
                title="Exchange of strategic assessments at working level",
                area=Area.STRATEGIC_ASSESSMENTS,
                status=MeasureStatus.IN_PROGRESS,
                owners=("JPN.MOFA", "AUS.DFAT"),
                due_on=date(2026, 12, 31),
            ),
        ),
        (
            "USA.STATE",
            Scope.TRILATERAL,
            Area.DIALOGUE,
            DialogueRecord(
                kind=DialogueKind.TRILATERAL_STRATEGIC_DIALOGUE,
                held_on=date(2026, 1, 10),
                location="Washington, D.C.",
                participants=(
                    Participant(country=Country.JPN, office="Minister for Foreign Affairs"),
                    Participant(country=Country.AUS, office="Minister for Foreign Affairs"),
                    Participant(country=Country.USA, office="Secretary of State"),
                ),
                outcomes=("Agreed to deepen trilateral maritime security cooperation.",),
            ),
        ),
        (
            "AUS.DFAT",
            Scope.BILATERAL,
            Area.STRATEGIC_ASSESSMENTS,
            Receipt(
                receiving_agency="AUS.DFAT",
                received_at=_T + timedelta(seconds=2),
                status="delivered",
                acknowledgements=(
                    Acknowledgement(
                        message_id=ASSESSMENT_ID, sender="JPN.MOFA", payload_sha256="0" * 64
                    ),
                ),
            ),
        ),
        (
            "JPN.MOFA",
            Scope.BILATERAL,
            Area.STRATEGIC_ASSESSMENTS,
            Supersede(
                target_message_id=ASSESSMENT_ID,
                target_sender="JPN.MOFA",
                reason="Corrected launch count.",
                replacement_summary="Launch rate revised down after re-examination.",
            ),
        ),
        (
            "JPN.MOFA",
            Scope.BILATERAL,
            Area.STRATEGIC_ASSESSMENTS,
            Retract(
                target_message_id=ASSESSMENT_ID,
                target_sender="JPN.MOFA",
                reason="Issued in error.",
            ),
        ),
    ]
    return {
        body.TYPE: Sample(sender, scope, area, body, fixed_id(i + 1))
        for i, (sender, scope, area, body) in enumerate(bodies)
    }


SAMPLES: dict[str, Sample] = _samples()
"""One valid sample per message type, keyed by type name."""
