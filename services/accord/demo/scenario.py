"""The demo's messages, as data: one plausible week of traffic under the 2007 declaration.

Every entry is a real message the publisher checks, signs and sends; nothing here
is special-cased by the exchange. Content is illustrative (no real intelligence),
but shaped like the traffic the declaration provides for: strategic assessments on
North Korea and the abduction issue, counter-terrorism alerts, maritime reports,
disaster relief, the practical-cooperation notices, the action plan, and records
of the dialogues. Times are relative to ``now`` so labels and validity windows are
always current.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from accord.areas import Area
from accord.labels import Caveat, Classification, Label, Policy
from accord.models import (
    ActionPlanUpdate,
    ActivityKind,
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
    Reliability,
    Retract,
    Source,
    StrategicAssessment,
    Subject,
    Supersede,
)
from accord.parties import Country, Scope, country_of

B, T = Scope.BILATERAL, Scope.TRILATERAL

RELEASED = "nk-missile-outlook"
"""The bilateral assessment its originator (JPN.MOFA) releases to the trilateral scope."""
SUPERSEDED = "splashdown-report"
"""The report JPN.MOD corrects: a replacement report, then a Supersede pointing at both."""
REPLACEMENT = "splashdown-report-revised"
RETRACTED = "precursor-purchase-alert"
"""The alert AUS.AFP withdraws with a signed Retract."""
DUPLICATED = "transport-hub-threat"
"""The message whose signed bytes the demo sends a second time, as a producer retry would."""

_LEGAL_BASIS = {
    Country.JPN: "Provided in accordance with the laws and regulations of Japan under the "
    "Japan-Australia Joint Declaration on Security Cooperation (Tokyo, 13 March 2007).",
    Country.AUS: "Provided in accordance with the laws and regulations of Australia under the "
    "Japan-Australia Joint Declaration on Security Cooperation (Tokyo, 13 March 2007).",
    Country.USA: "Provided in accordance with the laws and regulations of the United States "
    "for the Trilateral Strategic Dialogue.",
}


@dataclass(frozen=True)
class Planned:
    """One message to publish: who sends it, where, at which level, and its body."""

    key: str
    sender: str
    scope: Scope
    area: Area
    body: MessageBody
    classification: Classification = Classification.RESTRICTED
    caveats: tuple[Caveat, ...] = (Caveat.ORCON,)

    @property
    def title(self) -> str:
        for attr in ("title", "name", "position"):
            value = getattr(self.body, attr, None)
            if isinstance(value, str):
                return value
        return self.key


def label_for(
    sender: str,
    scope: Scope,
    now: datetime,
    *,
    classification: Classification = Classification.RESTRICTED,
    caveats: tuple[Caveat, ...] = (Caveat.ORCON,),
    releasable_to: tuple[Country, ...] | None = None,
) -> Label:
    """The label an originator puts on a message; by default releasable to the whole scope."""
    return Label(
        policy=Policy.ACCORD_JPN_AUS_2007,
        classification=classification,
        releasable_to=releasable_to or tuple(sorted(scope.members)),
        caveats=caveats,
        originator=sender,
        created_at=now,
        review_on=(now + timedelta(days=365)).date(),
        legal_basis=_LEGAL_BASIS[country_of(sender)],
    )


def _judgment(statement: str, likelihood: Likelihood, confidence: Confidence) -> KeyJudgment:
    return KeyJudgment(statement=statement, likelihood=likelihood, confidence=confidence)


def _assessments(now: datetime) -> list[Planned]:
    until = now + timedelta(days=90)  # a quarter, the usual assessment horizon
    return [
        Planned(
            RELEASED,
            "JPN.MOFA",
            B,
            Area.STRATEGIC_ASSESSMENTS,
            StrategicAssessment(
                title="North Korea: ballistic missile activity, next-quarter outlook",
                summary="Launch activity is expected to continue at last year's tempo, weighted "
                "towards solid-fuel systems that shorten warning times for Japan.",
                key_judgments=(
                    _judgment(
                        "Further intermediate-range launches over or near Japan this quarter.",
                        Likelihood.LIKELY,
                        Confidence.MODERATE,
                    ),
                    _judgment(
                        "A seventh nuclear test this quarter.", Likelihood.UNLIKELY, Confidence.LOW
                    ),
                ),
                sources=(
                    Source(
                        description="Open-source launch reporting and official announcements",
                        reliability=Reliability.B,
                        credibility=2,
                    ),
                    Source(
                        description="Radar track data shared by the Ministry of Defense",
                        reliability=Reliability.A,
                        credibility=2,
                    ),
                ),
                subjects=(Subject.NORTH_KOREA_NUCLEAR, Subject.BALLISTIC_MISSILES),
                region="Korean Peninsula",
                valid_from=now,
                valid_until=until,
            ),
            Classification.CONFIDENTIAL,
        ),
        Planned(
            "abduction-issue",
            "AUS.DFAT",
            B,
            Area.STRATEGIC_ASSESSMENTS,
            StrategicAssessment(
                title="The abduction issue: prospects for progress in regional fora",
                summary="Assessment of how regional fora (ARF, EAS) can keep the abduction issue "
                "on the agenda alongside denuclearisation, as the declaration foresees.",
                key_judgments=(
                    _judgment(
                        "North Korea engages on the abduction issue within the year.",
                        Likelihood.VERY_UNLIKELY,
                        Confidence.MODERATE,
                    ),
                    _judgment(
                        "Joint Japan-Australia statements at the ARF keep the issue visible.",
                        Likelihood.LIKELY,
                        Confidence.HIGH,
                    ),
                ),
                subjects=(Subject.ABDUCTION_ISSUE, Subject.NORTH_KOREA_NUCLEAR),
                region="North-East Asia",
                valid_from=now,
                valid_until=until,
            ),
        ),
        Planned(
            "nk-nuclear",
            "JPN.MOD",
            T,
            Area.STRATEGIC_ASSESSMENTS,
            StrategicAssessment(
                title="North Korea: fissile material production and test-site readiness",
                summary="Enrichment capacity is assessed to have grown; the test site remains "
                "ready for a device test at short notice.",
                key_judgments=(
                    _judgment(
                        "Fissile material production increased over the past year.",
                        Likelihood.VERY_LIKELY,
                        Confidence.MODERATE,
                    ),
                    _judgment(
                        "The test site could support a test within weeks of a decision.",
                        Likelihood.LIKELY,
                        Confidence.MODERATE,
                    ),
                ),
                sources=(
                    Source(
                        description="Commercial satellite imagery",
                        reliability=Reliability.B,
                        credibility=3,
                    ),
                ),
                subjects=(Subject.NORTH_KOREA_NUCLEAR, Subject.WMD_PROLIFERATION),
                region="Korean Peninsula",
                valid_from=now,
                valid_until=until,
            ),
            Classification.SECRET,
        ),
        Planned(
            "nk-missiles-dod",
            "USA.DOD",
            T,
            Area.STRATEGIC_ASSESSMENTS,
            StrategicAssessment(
                title="North Korea: road-mobile ICBM programme status",
                summary="The programme is moving from testing towards operational deployment.",
                key_judgments=(
                    _judgment(
                        "A further full-range ICBM test within six months.",
                        Likelihood.ROUGHLY_EVEN_CHANCE,
                        Confidence.LOW,
                    ),
                ),
                subjects=(Subject.BALLISTIC_MISSILES, Subject.NORTH_KOREA_NUCLEAR),
                region="Korean Peninsula",
                valid_from=now,
                valid_until=until,
            ),
            Classification.SECRET,
        ),
        Planned(
            "maritime-outlook",
            "AUS.DEFENCE",
            T,
            Area.STRATEGIC_ASSESSMENTS,
            StrategicAssessment(
                title="Maritime security in the Indo-Pacific: annual outlook",
                summary="Grey-zone activity and illegal ship-to-ship transfers remain the main "
                "maritime security concerns for the coming year.",
                key_judgments=(
                    _judgment(
                        "Ship-to-ship transfers evading UN sanctions continue at current levels.",
                        Likelihood.VERY_LIKELY,
                        Confidence.HIGH,
                    ),
                ),
                subjects=(Subject.MARITIME_SECURITY,),
                region="Indo-Pacific",
                valid_from=now,
                valid_until=until,
            ),
        ),
        Planned(
            "un-reform",
            "JPN.MOFA",
            B,
            Area.STRATEGIC_ASSESSMENTS,
            StrategicAssessment(
                title="United Nations Security Council reform: state of negotiations",
                summary="Intergovernmental negotiations remain deadlocked on the expansion of "
                "permanent membership, which Australia supports for Japan.",
                key_judgments=(
                    _judgment(
                        "A text-based negotiation begins in the current session.",
                        Likelihood.UNLIKELY,
                        Confidence.MODERATE,
                    ),
                ),
                subjects=(Subject.UN_REFORM,),
                region="Global",
                valid_from=now,
                valid_until=until,
            ),
            Classification.UNCLASSIFIED,
            (),
        ),
        Planned(
            "proliferation-networks",
            "USA.STATE",
            T,
            Area.COUNTER_PROLIFERATION,
            StrategicAssessment(
                title="North Korean procurement networks for missile components",
                summary="Front companies in third countries continue to source dual-use "
                "machine tools and electronics for the missile programme.",
                key_judgments=(
                    _judgment(
                        "Procurement relies on fewer than ten principal intermediaries.",
                        Likelihood.LIKELY,
                        Confidence.MODERATE,
                    ),
                ),
                subjects=(Subject.WMD_PROLIFERATION, Subject.BALLISTIC_MISSILES),
                region="Asia",
                valid_from=now,
                valid_until=until,
            ),
            Classification.CONFIDENTIAL,
        ),
    ]


def _reports(now: datetime) -> list[Planned]:
    def report(
        title: str,
        priority: Priority,
        details: str,
        subjects: tuple[Subject, ...],
        region: str,
        hours_ago: float,
    ) -> InformationReport:
        return InformationReport(
            title=title,
            priority=priority,
            details=details,
            subjects=subjects,
            region=region,
            observed_at=now - timedelta(hours=hours_ago),
        )

    return [
        # Counter-terrorism
        Planned(
            "ct-network-alert",
            "AUS.AFP",
            B,
            Area.COUNTER_TERRORISM,
            report(
                "Alert: regional network planning attacks on crowded places",
                Priority.IMMEDIATE,
                "Reporting indicates a regional network is planning attacks on crowded places "
                "during an upcoming holiday period; two members are believed to be travelling.",
                (Subject.TERRORISM,),
                "South-East Asia",
                6,
            ),
        ),
        Planned(
            "transit-hub-travel",
            "JPN.NPA",
            B,
            Area.COUNTER_TERRORISM,
            report(
                "Suspected foreign terrorist fighters transiting regional airports",
                Priority.PRIORITY,
                "Three individuals on national watch lists were recorded transiting two regional "
                "hubs on forged travel documents.",
                (Subject.TERRORISM,),
                "Asia-Pacific",
                20,
            ),
        ),
        Planned(
            DUPLICATED,
            "USA.STATE",
            T,
            Area.COUNTER_TERRORISM,
            report(
                "Threat to a regional transport hub within 72 hours",
                Priority.FLASH,
                "Credible reporting of attack planning against a regional transport hub within "
                "72 hours; protective measures are recommended.",
                (Subject.TERRORISM,),
                "South-East Asia",
                2,
            ),
            Classification.CONFIDENTIAL,
        ),
        Planned(
            RETRACTED,
            "AUS.AFP",
            B,
            Area.COUNTER_TERRORISM,
            report(
                "Suspicious purchase of precursor chemicals",
                Priority.PRIORITY,
                "A bulk purchase of explosive precursors by a person of interest was reported "
                "by a retailer.",
                (Subject.TERRORISM,),
                "Queensland",
                30,
            ),
        ),
        # Maritime and aviation security
        Planned(
            "sts-transfer",
            "JPN.JCG",
            T,
            Area.MARITIME_AVIATION_SECURITY,
            report(
                "Suspected ship-to-ship transfer in the East China Sea",
                Priority.PRIORITY,
                "A patrol vessel observed a tanker alongside a North Korean-flagged vessel at "
                "night with transponders off; imagery attached to the national report.",
                (Subject.MARITIME_SECURITY, Subject.WMD_PROLIFERATION),
                "East China Sea",
                12,
            ),
        ),
        Planned(
            SUPERSEDED,
            "JPN.MOD",
            T,
            Area.MARITIME_AVIATION_SECURITY,
            report(
                "Ballistic missile splashdown inside Japan's exclusive economic zone",
                Priority.FLASH,
                "A ballistic missile launched this morning fell inside Japan's EEZ, about 200 km "
                "west of Okushiri Island. Mariners and aircraft in the area are warned.",
                (Subject.BALLISTIC_MISSILES, Subject.MARITIME_SECURITY),
                "Sea of Japan",
                1,
            ),
        ),
        Planned(
            "sanctions-patrol",
            "USA.DOD",
            T,
            Area.MARITIME_AVIATION_SECURITY,
            report(
                "Surveillance flights against sanctions evasion: next rotation",
                Priority.ROUTINE,
                "Maritime patrol aircraft rotate to the region next month to monitor illicit "
                "ship-to-ship transfers, coordinated with Japan and Australia.",
                (Subject.MARITIME_SECURITY,),
                "East China Sea",
                48,
            ),
        ),
        Planned(
            "p8-observation",
            "AUS.DEFENCE",
            B,
            Area.MARITIME_AVIATION_SECURITY,
            report(
                "P-8A patrol observes unsafe intercept by a foreign fighter",
                Priority.PRIORITY,
                "An RAAF P-8A on a routine patrol in international airspace was intercepted "
                "unsafely; details for the bilateral working group.",
                (Subject.AVIATION_SECURITY,),
                "South China Sea",
                10,
            ),
        ),
        # Border security and law enforcement (bilateral only)
        Planned(
            "people-smuggling-vessel",
            "AUS.ABF",
            B,
            Area.BORDER_SECURITY,
            report(
                "Suspected people-smuggling vessel departing for the Australian coast",
                Priority.IMMEDIATE,
                "A fishing vessel carrying an estimated 40 passengers departed a regional port; "
                "the crew is linked to a known smuggling syndicate.",
                (Subject.PEOPLE_SMUGGLING,),
                "Timor Sea",
                8,
            ),
        ),
        Planned(
            "precursor-shipment",
            "JPN.NPA",
            B,
            Area.LAW_ENFORCEMENT,
            report(
                "Methamphetamine precursor shipment bound for the Pacific",
                Priority.PRIORITY,
                "Customs data links a consignment of ephedrine precursors to a syndicate supplying "
                "both Japanese and Australian markets.",
                (Subject.NARCOTICS,),
                "Pacific",
                72,
            ),
        ),
        Planned(
            "counterfeit-notes",
            "AUS.AFP",
            B,
            Area.LAW_ENFORCEMENT,
            report(
                "Counterfeit 10,000-yen notes seized in Sydney",
                Priority.ROUTINE,
                "A seizure of high-quality counterfeit yen notes indicates a printing operation "
                "outside Japan; serial ranges for the National Police Agency.",
                (Subject.COUNTERFEIT_CURRENCY,),
                "New South Wales",
                96,
            ),
        ),
        # Counter-proliferation, peace operations, contingency planning
        Planned(
            "proliferation-finance",
            "AUS.DFAT",
            T,
            Area.COUNTER_PROLIFERATION,
            report(
                "Proliferation financing through regional shell companies",
                Priority.PRIORITY,
                "Shell companies registered in the region moved funds for North Korean "
                "procurement; names proposed for designation under UN sanctions.",
                (Subject.WMD_PROLIFERATION,),
                "Asia-Pacific",
                40,
            ),
        ),
        Planned(
            "pko-rotation",
            "JPN.MOFA",
            B,
            Area.PEACE_OPERATIONS,
            report(
                "UN peacekeeping: engineering unit rotation and airlift",
                Priority.ROUTINE,
                "Proposal to coordinate the airlift for the next rotation of engineering units "
                "serving with a UN peacekeeping mission.",
                (Subject.UN_PEACEKEEPING,),
                "Africa",
                120,
            ),
        ),
        Planned(
            "pandemic-planning",
            "JPN.MOD",
            B,
            Area.CONTINGENCY_PLANNING,
            report(
                "Pandemic contingency planning: medical airlift arrangements",
                Priority.ROUTINE,
                "Draft arrangements for mutual medical airlift and evacuation in a pandemic, for "
                "discussion at the next working group.",
                (Subject.PANDEMICS,),
                "Asia-Pacific",
                24,
            ),
        ),
        # Humanitarian relief, including disaster relief
        Planned(
            "cyclone-request",
            "AUS.DFAT",
            T,
            Area.HUMANITARIAN_RELIEF,
            report(
                "Severe tropical cyclone: request for relief coordination",
                Priority.IMMEDIATE,
                "A category 5 cyclone made landfall in a Pacific island country; the government "
                "has requested shelter, water purification and airlift.",
                (Subject.DISASTER_RELIEF,),
                "South Pacific",
                5,
            ),
        ),
        Planned(
            "jdr-team",
            "JPN.MOFA",
            T,
            Area.HUMANITARIAN_RELIEF,
            report(
                "Japan Disaster Relief team deploying to the cyclone area",
                Priority.PRIORITY,
                "A Japan Disaster Relief medical team and relief goods depart within 24 hours; "
                "landing slots requested through the Australian coordination cell.",
                (Subject.DISASTER_RELIEF,),
                "South Pacific",
                3,
            ),
        ),
        Planned(
            "usaid-airlift",
            "USA.STATE",
            T,
            Area.HUMANITARIAN_RELIEF,
            report(
                "United States airlift support for cyclone relief",
                Priority.PRIORITY,
                "Two transport aircraft are available for relief airlift from next week.",
                (Subject.DISASTER_RELIEF,),
                "South Pacific",
                2,
            ),
        ),
        Planned(
            "jcg-relief-vessel",
            "JPN.JCG",
            B,
            Area.HUMANITARIAN_RELIEF,
            report(
                "Coast guard patrol vessel available for relief logistics",
                Priority.ROUTINE,
                "A large patrol vessel with a helicopter can carry relief supplies to outer "
                "islands once ports reopen.",
                (Subject.DISASTER_RELIEF,),
                "South Pacific",
                4,
            ),
        ),
    ]


def _cooperation(now: datetime) -> list[Planned]:
    today = now.date()
    return [
        Planned(
            "trident-exercise",
            "JPN.MOD",
            B,
            Area.JOINT_EXERCISES,
            ExerciseNotice(
                name="Nichi-Go Trident: humanitarian relief exercise",
                kind=ExerciseKind.EXERCISE,
                description="Combined humanitarian assistance and disaster relief exercise, "
                "including a maritime evacuation and a field hospital.",
                participants=("JPN.MOD", "AUS.DEFENCE", "JPN.JCG"),
                location="Darwin, Northern Territory",
                starts_at=now + timedelta(days=30),
                ends_at=now + timedelta(days=37),
                focus_areas=(Area.HUMANITARIAN_RELIEF, Area.MARITIME_AVIATION_SECURITY),
            ),
        ),
        Planned(
            "liaison-posting",
            "AUS.DEFENCE",
            B,
            Area.PERSONNEL_EXCHANGE,
            PersonnelExchangeNotice(
                home_agency="AUS.DEFENCE",
                host_agency="JPN.MOD",
                position="Liaison officer, Joint Staff, Tokyo",
                description="Two-year posting under the exchange of personnel.",
                starts_on=today + timedelta(days=60),
                ends_on=today + timedelta(days=790),
            ),
            Classification.UNCLASSIFIED,
            (),
        ),
        Planned(
            "pacific-capacity",
            "AUS.AFP",
            B,
            Area.COORDINATED_ACTIVITIES,
            CoordinatedActivityNotice(
                title="Pacific policing capacity-building programme",
                kind=ActivityKind.REGIONAL_CAPACITY_BUILDING,
                description="Joint training in investigations and maritime law enforcement for "
                "Pacific island police forces.",
                participants=("AUS.AFP", "JPN.NPA"),
                region="South Pacific",
                starts_at=now + timedelta(days=14),
            ),
        ),
        Planned(
            "action-plan-ap6",
            "JPN.MOFA",
            B,
            Area.ACTION_PLAN,
            ActionPlanUpdate(
                measure_id="AP-2007-06",
                title="Regular exchange of strategic assessments at working level",
                area=Area.STRATEGIC_ASSESSMENTS,
                status=MeasureStatus.IN_PROGRESS,
                owners=("JPN.MOFA", "AUS.DFAT"),
                progress="Working-level exchanges now run quarterly over accord.",
                due_on=date(today.year, 12, 31),
            ),
        ),
    ]


def _dialogues(now: datetime) -> list[Planned]:
    held = (now - timedelta(days=7)).date()

    def jpn(office: str) -> Participant:
        return Participant(country=Country.JPN, office=office)

    def aus(office: str) -> Participant:
        return Participant(country=Country.AUS, office=office)

    return [
        Planned(
            "fm-dialogue",
            "JPN.MOFA",
            B,
            Area.DIALOGUE,
            DialogueRecord(
                kind=DialogueKind.FOREIGN_MINISTERS,
                held_on=held,
                location="Tokyo",
                participants=(
                    jpn("Minister for Foreign Affairs"),
                    aus("Minister for Foreign Affairs"),
                ),
                outcomes=(
                    "Reaffirmed cooperation on a peaceful resolution of issues related to "
                    "North Korea, including the abduction issue.",
                    "Agreed to coordinate positions on United Nations reform.",
                ),
            ),
            Classification.UNCLASSIFIED,
            (),
        ),
        Planned(
            "dm-dialogue",
            "AUS.DEFENCE",
            B,
            Area.DIALOGUE,
            DialogueRecord(
                kind=DialogueKind.DEFENCE_MINISTERS,
                held_on=held,
                location="Canberra",
                participants=(jpn("Minister of Defense"), aus("Minister for Defence")),
                outcomes=(
                    "Agreed to expand joint exercises and training, including in "
                    "humanitarian relief operations.",
                ),
            ),
        ),
        Planned(
            "two-plus-two",
            "AUS.DFAT",
            B,
            Area.DIALOGUE,
            DialogueRecord(
                kind=DialogueKind.JOINT_FOREIGN_DEFENCE,
                held_on=held,
                location="Sydney",
                participants=(
                    jpn("Minister for Foreign Affairs"),
                    jpn("Minister of Defense"),
                    aus("Minister for Foreign Affairs"),
                    aus("Minister for Defence"),
                ),
                outcomes=(
                    "Endorsed the updated action plan of specific measures.",
                    "Agreed to hold the 2+2 annually.",
                ),
            ),
        ),
        Planned(
            "tsd",
            "USA.STATE",
            T,
            Area.DIALOGUE,
            DialogueRecord(
                kind=DialogueKind.TRILATERAL_STRATEGIC_DIALOGUE,
                held_on=held,
                location="Washington, D.C.",
                participants=(
                    jpn("Minister for Foreign Affairs"),
                    aus("Minister for Foreign Affairs"),
                    Participant(country=Country.USA, office="Secretary of State"),
                ),
                outcomes=(
                    "Agreed to deepen trilateral maritime security cooperation.",
                    "Called on North Korea to abandon its nuclear and ballistic missile "
                    "programmes.",
                ),
            ),
        ),
    ]


def scenario(now: datetime) -> list[Planned]:
    """The messages published first, in order (releases and corrections come after)."""
    return [*_assessments(now), *_reports(now), *_cooperation(now), *_dialogues(now)]


def replacement(original: Planned, now: datetime) -> Planned:
    """JPN.MOD's corrected splashdown report: the position was re-assessed."""
    body = InformationReport(
        title="Ballistic missile splashdown outside Japan's EEZ (corrected position)",
        priority=Priority.IMMEDIATE,
        details="Re-analysis of track data places the splashdown about 250 km west of "
        "Okushiri Island, outside Japan's EEZ. The warning to mariners is lifted.",
        subjects=(Subject.BALLISTIC_MISSILES, Subject.MARITIME_SECURITY),
        region="Sea of Japan",
        observed_at=now - timedelta(hours=1),
    )
    return Planned(
        REPLACEMENT,
        original.sender,
        original.scope,
        original.area,
        body,
        original.classification,
        original.caveats,
    )


def supersede(original: Planned, original_id: str, replacement_id: str) -> Planned:
    body = Supersede(
        target_message_id=UUID(original_id),
        target_sender=original.sender,
        reason="The splashdown position was corrected after re-analysis of track data.",
        replacement_summary="The missile fell outside Japan's EEZ; see the corrected report.",
        replacement_message_id=UUID(replacement_id),
    )
    return Planned(
        f"{original.key}-supersede",
        original.sender,
        original.scope,
        original.area,
        body,
        original.classification,
        original.caveats,
    )


def retract(original: Planned, original_id: str) -> Planned:
    body = Retract(
        target_message_id=UUID(original_id),
        target_sender=original.sender,
        reason="The retailer's report was found to concern a lawful agricultural purchase.",
    )
    return Planned(
        f"{original.key}-retract",
        original.sender,
        original.scope,
        original.area,
        body,
        original.classification,
        original.caveats,
    )
