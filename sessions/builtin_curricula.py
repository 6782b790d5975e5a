"""The competencies and curriculum templates mentorcircle ships, as data, and their loader.

All titles and prompts are our own words; no CIMER text is shipped. `load_builtin_curricula` is
idempotent: `mentorcircle migrate` runs it after the migrations, and it adds what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sessions.tables import Competency, CurriculumTemplate, SessionTemplate


@dataclass(frozen=True)
class CompetencyData:
    code: str
    name: str
    core: bool
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class SessionData:
    title: str
    minutes: int
    competencies: tuple[str, ...]
    prompt: str
    objectives: str = ""
    alternate_for: int | None = None


@dataclass(frozen=True)
class CurriculumData:
    slug: str
    name: str
    description: str
    sessions: tuple[SessionData, ...] = field(default_factory=tuple)


COMPETENCIES: tuple[CompetencyData, ...] = (
    CompetencyData(
        "communication", "Maintaining Effective Communication", True, ("Communication",)
    ),
    CompetencyData("expectations", "Aligning Expectations", True, ("Expectations",)),
    CompetencyData("understanding", "Assessing Understanding", True, ("Understanding",)),
    CompetencyData(
        "equity_inclusion",
        "Reflecting on Diversity and Establishing a Practice of Inclusion",
        True,
        ("Addressing Equity and Inclusion", "Addressing Diversity", "Equity and Inclusion"),
    ),
    CompetencyData("independence", "Fostering Independence", True, ("Independence",)),
    CompetencyData(
        "professional_development",
        "Promoting Professional Development",
        True,
        ("Professional Development",),
    ),
    CompetencyData(
        "philosophy_plan",
        "Articulating Your Mentoring Philosophy and Plan",
        False,
        ("Mentoring Philosophy and Plan", "Philosophy and Plan"),
    ),
    CompetencyData("ethics", "Cultivating Ethical Behavior", False, ("Ethics",)),
    CompetencyData("work_life", "Enhancing Work-Life Integration", False, ("Work-Life Balance",)),
    CompetencyData(
        "self_efficacy",
        "Promoting Mentee Research Self-Efficacy",
        False,
        ("Research Self-Efficacy", "Self-Efficacy"),
    ),
)

_EIGHT_WEEKS = (
    SessionData(
        "Building our learning community",
        60,
        (),
        "Before we meet, draft a one-paragraph statement of your mentoring philosophy: what you "
        "believe a mentor owes a mentee, and what you hope a mentee takes away. Keep it; we will "
        "come back to it in the last session.",
        "Meet the group, agree on ground rules, and name what each of us wants from mentoring.",
    ),
    SessionData(
        "Communicating across differences",
        60,
        ("communication",),
        "Recall a conversation with a mentee that went badly. Write down what you said, what you "
        "think your mentee heard, and what each of you needed from the other.",
    ),
    SessionData(
        "Getting on the same page",
        60,
        ("expectations",),
        "Collect what you tell mentees about expectations today (a welcome email, a lab handbook, "
        "a habit), and read a sample mentoring compact.",
    ),
    SessionData(
        "Checking what your mentee understands",
        60,
        ("understanding",),
        "Draft or revise a mentoring compact with one of your mentees, and note one thing you "
        "learned about their expectations.",
    ),
    SessionData(
        "Reflecting on diversity, building inclusive practice",
        60,
        ("equity_inclusion",),
        "Try one check of understanding with a mentee that goes beyond 'any questions?', and do "
        "the self-reflection pre-work for this session.",
    ),
    SessionData(
        "Growing independence and confidence",
        60,
        ("independence", "self_efficacy"),
        "Name one inclusive practice you will try in your group over the next month.",
    ),
    SessionData(
        "Supporting career and whole-person development",
        60,
        ("professional_development", "work_life"),
        "Sketch one mentee's next step toward independence, and what you will do to support it.",
    ),
    SessionData(
        "My mentoring philosophy and plan",
        60,
        ("philosophy_plan",),
        "Revise the philosophy you drafted before our first meeting, and list two or three "
        "changes you will make in your mentoring. Optionally, write up a dilemma of your own.",
    ),
    SessionData(
        "Acting with integrity in research mentoring",
        60,
        ("ethics",),
        "Think of a moment when a mentee faced a research-integrity question. What did you model, "
        "and what would you do differently?",
        alternate_for=7,
    ),
)

CURRICULA: tuple[CurriculumData, ...] = (
    CurriculumData(
        "entering-mentoring-8x60",
        "Eight weekly one-hour sessions",
        "Our default: eight 60-minute sessions, weekly, from building the learning community to "
        "each mentor's philosophy and plan. An ethics session can be swapped in for session 7.",
        _EIGHT_WEEKS,
    ),
    CurriculumData(
        "seven-modules-120-90",
        "Seven modules (120 minutes, then 90)",
        "A longer first module to build the community, then six 90-minute modules.",
        (
            SessionData(
                "Building our community and communicating well",
                120,
                ("communication",),
                "Draft a one-paragraph mentoring philosophy, and recall a conversation with a "
                "mentee that went badly.",
            ),
            SessionData(
                "Aligning expectations",
                90,
                ("expectations",),
                "Collect what you tell mentees about expectations today; read a sample compact.",
            ),
            SessionData(
                "Assessing understanding",
                90,
                ("understanding",),
                "Draft or revise a compact with one mentee.",
            ),
            SessionData(
                "Diversity and inclusive practice",
                90,
                ("equity_inclusion",),
                "Try one check of understanding; do the self-reflection pre-work.",
            ),
            SessionData(
                "Fostering independence and self-efficacy",
                90,
                ("independence", "self_efficacy"),
                "Name one inclusive practice you will try.",
            ),
            SessionData(
                "Professional development and work-life integration",
                90,
                ("professional_development", "work_life"),
                "Sketch one mentee's next step toward independence.",
            ),
            SessionData(
                "Mentoring philosophy and plan",
                90,
                ("philosophy_plan",),
                "Revise your philosophy and list two or three changes you will make.",
            ),
        ),
    ),
    CurriculumData(
        "three-by-two-hours",
        "Three two-hour sessions",
        "A compact format: three 120-minute sessions covering all six core competencies.",
        (
            SessionData(
                "Community, communication and expectations",
                120,
                ("communication", "expectations"),
                "Draft a one-paragraph mentoring philosophy and collect what you tell mentees "
                "about expectations today.",
            ),
            SessionData(
                "Understanding and inclusion",
                120,
                ("understanding", "equity_inclusion"),
                "Draft or revise a compact with one mentee; do the self-reflection pre-work.",
            ),
            SessionData(
                "Independence, development and your plan",
                120,
                ("independence", "professional_development", "philosophy_plan"),
                "Sketch one mentee's next step toward independence, and bring your philosophy "
                "to revise.",
            ),
        ),
    ),
    CurriculumData(
        "one-day-workshop-8h",
        "One- or two-day workshop (8 hours)",
        "Four two-hour blocks on one or two days. Pre-work goes out one week ahead; each "
        "mentor leaves with an action plan to revisit one week after.",
        (
            SessionData(
                "Community and communication",
                120,
                ("communication",),
                "Pre-work, one week ahead: draft a one-paragraph mentoring philosophy and recall "
                "a conversation with a mentee that went badly.",
            ),
            SessionData(
                "Expectations and understanding",
                120,
                ("expectations", "understanding"),
                "Bring what you tell mentees about expectations today.",
            ),
            SessionData(
                "Inclusion and independence",
                120,
                ("equity_inclusion", "independence"),
                "No new assignment: bring one mentee in mind.",
            ),
            SessionData(
                "Professional development and action plan",
                120,
                ("professional_development", "philosophy_plan"),
                "Bring your philosophy draft. One week after the workshop, revisit the action "
                "plan you write today.",
            ),
        ),
    ),
)


async def load_builtin_curricula() -> int:
    """Add the shipped competencies and curricula that are missing. Returns how many were added."""
    added = 0
    existing = {row["code"] for row in await Competency.select(Competency.code)}
    for position, data in enumerate(COMPETENCIES, start=1):
        if data.code in existing:
            continue
        await Competency(
            code=data.code,
            name=data.name,
            aliases=list(data.aliases),
            core=data.core,
            position=position,
        ).save()
        added += 1
    slugs = {row["slug"] for row in await CurriculumTemplate.select(CurriculumTemplate.slug)}
    for curriculum in CURRICULA:
        if curriculum.slug in slugs:
            continue
        async with CurriculumTemplate._meta.db.transaction():
            template = CurriculumTemplate(
                slug=curriculum.slug,
                name=curriculum.name,
                description=curriculum.description,
                builtin=True,
            )
            await template.save()
            await SessionTemplate.insert(
                *[
                    SessionTemplate(
                        curriculum=template.id,
                        position=position,
                        title=session.title,
                        competencies=list(session.competencies),
                        minutes=session.minutes,
                        objectives=session.objectives,
                        assignment_prompt=session.prompt,
                        alternate_for=session.alternate_for,
                    )
                    for position, session in enumerate(curriculum.sessions, start=1)
                ]
            )
        added += 1
    return added
