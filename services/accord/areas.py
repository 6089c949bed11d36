"""Areas of cooperation: one per provision of the 2007 Joint Declaration.

Every message names exactly one area; topics are keyed by scope and area.
"""

from __future__ import annotations

from enum import StrEnum


class Area(StrEnum):
    LAW_ENFORCEMENT = "law-enforcement"
    BORDER_SECURITY = "border-security"
    COUNTER_TERRORISM = "counter-terrorism"
    COUNTER_PROLIFERATION = "counter-proliferation"
    PEACE_OPERATIONS = "peace-operations"
    STRATEGIC_ASSESSMENTS = "strategic-assessments"
    MARITIME_AVIATION_SECURITY = "maritime-aviation-security"
    HUMANITARIAN_RELIEF = "humanitarian-relief"
    CONTINGENCY_PLANNING = "contingency-planning"
    PERSONNEL_EXCHANGE = "personnel-exchange"
    JOINT_EXERCISES = "joint-exercises"
    COORDINATED_ACTIVITIES = "coordinated-activities"
    ACTION_PLAN = "action-plan"
    DIALOGUE = "dialogue"

    @property
    def provision(self) -> str:
        return PROVISIONS[self]


PROVISIONS: dict[Area, str] = {
    Area.LAW_ENFORCEMENT: "Areas of Cooperation (i): law enforcement on combating transnational "
    "crime, including trafficking in illegal narcotics and precursors, people smuggling and "
    "trafficking, counterfeiting currency and arms smuggling",
    Area.BORDER_SECURITY: "Areas of Cooperation (ii): border security",
    Area.COUNTER_TERRORISM: "Areas of Cooperation (iii): counter-terrorism",
    Area.COUNTER_PROLIFERATION: "Areas of Cooperation (iv): disarmament and counter-proliferation "
    "of weapons of mass destruction and their means of delivery",
    Area.PEACE_OPERATIONS: "Areas of Cooperation (v): peace operations",
    Area.STRATEGIC_ASSESSMENTS: "Areas of Cooperation (vi): exchange of strategic assessments and "
    "related information",
    Area.MARITIME_AVIATION_SECURITY: "Areas of Cooperation (vii): maritime and aviation security",
    Area.HUMANITARIAN_RELIEF: "Areas of Cooperation (viii): humanitarian relief operations, "
    "including disaster relief",
    Area.CONTINGENCY_PLANNING: "Areas of Cooperation (ix): contingency planning, including for "
    "pandemics",
    Area.PERSONNEL_EXCHANGE: "Practical cooperation (i): exchange of personnel",
    Area.JOINT_EXERCISES: "Practical cooperation (ii): joint exercises and training",
    Area.COORDINATED_ACTIVITIES: "Practical cooperation (iii): coordinated activities including "
    "law enforcement, peace operations and regional capacity building",
    Area.ACTION_PLAN: "The action plan with specific measures to advance security cooperation",
    Area.DIALOGUE: "Annual Foreign Ministers' and Defence Ministers' dialogues, the joint Foreign "
    "and Defence ministerial dialogue, and the Trilateral Strategic Dialogue",
}
