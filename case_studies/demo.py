"""The demo library: mentoring dilemmas written for mentorcircle (no curriculum's text), loaded
into the case library as published curriculum material by the demo administrator.

Every person, lab and place in them is invented. Loading is idempotent by title.
"""

from __future__ import annotations

from case_studies.agenda import set_agenda
from case_studies.services import CaseInput, create_case
from case_studies.tables import AgendaItem, CaseStudy, Provenance, Scope
from facilitators.services import CurrentUser, find_person_id_by_email
from facilitators.tables import Person, Role
from sessions.tables import Session

DEMO_ADMIN_EMAIL = "admin@example.org"
DEMO_COHORT = "Entering Mentoring: Life Sciences"
ATTRIBUTION = "mentorcircle demo library"
LICENCE = "CC BY 4.0"


def _case(
    title: str,
    scenario: str,
    questions: tuple[str, ...],
    notes: str,
    primary: str,
    secondary: tuple[str, ...],
    audiences: tuple[str, ...],
    disciplines: tuple[str, ...],
) -> CaseInput:
    return CaseInput(
        title=title,
        scenario=scenario.strip(),
        questions=questions,
        facilitator_notes=notes.strip(),
        primary_competency=primary,
        competencies=secondary,
        audiences=audiences,
        disciplines=disciplines,
        attribution=ATTRIBUTION,
        licence=LICENCE,
    )


DEMO_CASES: tuple[CaseInput, ...] = (
    _case(
        "The thumbs-up reply",
        """
Ines is a second-year graduate student who works mostly from home while she writes code for
the group's simulation pipeline. Her advisor, Dr. Okoro, answers her long chat messages with a
single thumbs-up, or with "ok", often hours later.

Ines has started to read the short replies as impatience. She now spends an evening polishing
each message before she sends it, and she has stopped asking questions she thinks are "too
basic". Dr. Okoro, for his part, believes things are going well: she seems independent, and he
answers everything.

At her committee meeting, Ines says she feels isolated and unsure whether her work is on
track. Dr. Okoro is surprised and a little hurt.
""",
        (
            "What did each of them hear in the thumbs-up?",
            "What agreements about channels and response times could have prevented this?",
            "How might Dr. Okoro check how his messages land without making every exchange long?",
            "What could Ines do the next time a reply leaves her guessing?",
        ),
        """
Surface the gap between intent and impact in brief written replies, and how power makes the
junior person do the interpreting. Probe: how do participants signal "this is fine, carry on"?
Who in the room has agreed on response times with a mentee? Let the group notice that Ines's
silence on basic questions is the costly part.
""",
        "communication",
        ("expectations",),
        ("graduate",),
        ("computer science",),
    ),
    _case(
        "Red ink on the first draft",
        """
Marcus, an undergraduate in his first research term, sends his mentor a two-page introduction
for his poster. Dr. Lindqvist returns it the next morning with tracked changes on nearly every
sentence and a comment at the top: "Needs a lot of work, see edits."

Marcus does not reply. He misses the next two lab meetings, telling a graduate student he has
exams. When Dr. Lindqvist finally asks him about the poster, he says he is thinking of
dropping research this term.

Dr. Lindqvist meant the edits as a gift of her time: she writes this way with everyone, her
own students included.
""",
        (
            "How do you think Marcus read the document, and why?",
            "What makes written feedback useful to someone who has never received it before?",
            "What could Dr. Lindqvist say now to reopen the conversation?",
            "How do you decide how much to correct in a beginner's draft?",
        ),
        """
Issues: feedback calibrated to experts, the absence of anything positive or prioritized, and
how a novice may read volume of edits as a verdict on ability. Probe for strategies such as
three priorities per draft, talking before editing, and asking the mentee what kind of
feedback they want. Connect to self-efficacy if the group goes there.
""",
        "communication",
        ("self_efficacy",),
        ("undergraduate",),
        ("sociology",),
    ),
    _case(
        "Forty hours or forty results?",
        """
Dr. Brandt hired Sam as a postdoc on a two-year grant. Sam arrives at nine, leaves at five, and
is rarely online in the evening. Their experiments are careful and their notebook is the best
in the lab.

Dr. Brandt came up in a lab where people worked late and at weekends, and he believes that is
how projects get finished. He has started to mention, in lab meeting, who was "around on
Saturday". Sam has noticed, and feels judged for something no one ever asked of them.

The grant's first progress report is due in three months, and one aim is behind.
""",
        (
            "Which expectations were never said out loud, by either of them?",
            "Is the concern hours, or the aim that is behind? How would you separate the two?",
            "What would a useful conversation about the next three months sound like?",
            "What belongs in a written agreement for a postdoc, and what does not?",
        ),
        """
Surface the difference between expectations about effort (hours, visibility) and about
outcomes (milestones), and the public remarks as indirect pressure. Probe: what do
participants expect of their own postdocs, and have they said it? Invite discussion of
mentoring compacts revisited at set points rather than once.
""",
        "expectations",
        ("work_life", "communication"),
        ("postdoc",),
        ("chemistry",),
    ),
    _case(
        "Whose summer project?",
        """
Priya, a fourth-year graduate student, supervises Leo, an undergraduate, during a ten-week
summer program. Leo generates most of the data for a figure in Priya's next paper.

At the program's closing poster session, Leo tells a visiting professor that he is "writing it
up as first author". Priya, who designed the experiments and planned the paper for a year, is
stunned. Their faculty mentor, Dr. Haddad, was traveling for most of the summer and never
discussed authorship with either of them.

Leo is applying to graduate programs this fall and wants a publication on his CV.
""",
        (
            "Where did each of them get their idea of what the summer would lead to?",
            "What is Dr. Haddad's responsibility here, and what is Priya's?",
            "How would you handle the conversation about authorship now?",
            "What would you put in writing at the start of the next summer program?",
        ),
        """
Issues: authorship expectations set by nobody, layered mentoring (faculty, graduate student,
undergraduate) and the absent senior mentor. Probe for early, explicit conversations about
credit and how contribution is recognized (acknowledgment, middle authorship, a talk). Link to
ethics: authorship norms differ by field, so ask participants what theirs are.
""",
        "expectations",
        ("ethics",),
        ("undergraduate", "graduate"),
        ("ecology",),
    ),
    _case(
        "Nodding along",
        """
In their weekly meetings, Dr. Moreau explains the mixed-effects model she wants Tariq, a
first-year graduate student, to fit. Tariq nods, says "that makes sense", and takes notes.

Three weeks later Tariq presents results in lab meeting. The model treats each measurement as
independent, which undoes the point of the design. A senior student says so, bluntly, in front
of the group. Tariq is mortified; Dr. Moreau realizes she has no idea what he understood in
any of their meetings.
""",
        (
            "Why might Tariq have said it made sense?",
            "What could Dr. Moreau have asked instead of 'does that make sense?'",
            "How could the lab meeting moment have been handled?",
            "How do you learn what a mentee understands without making it feel like a test?",
        ),
        """
Key issue: "does that make sense?" invites a yes. Probe for techniques: ask the mentee to
explain the plan back, to sketch the model, to predict a result; short written summaries
after meetings. Also surface the public correction and how a lab's culture makes admitting
confusion cheap or costly.
""",
        "understanding",
        ("communication",),
        ("graduate",),
        ("psychology", "statistics"),
    ),
    _case(
        "The protocol that worked once",
        """
Grace worked as a technician for four years before starting graduate school in the same
department. She follows protocols flawlessly, and her mentor, Dr. Abara, relied on that.

This term, a purification that always worked has failed five times in a row. Grace repeats it
exactly each time, and each time asks for a new reagent lot. When Dr. Abara asks what she
thinks is going wrong, she says she does not know what else to change.

Dr. Abara realizes he has never asked Grace why any step of the protocol is there.
""",
        (
            "What did Dr. Abara assume Grace understood, and why?",
            "What is the difference between knowing a procedure and understanding it?",
            "How could he find out what Grace understands, starting this week?",
            "How can a mentor help someone move from executing to troubleshooting?",
        ),
        """
Surface how prior skill can hide gaps in conceptual understanding, and how the mentor's
reliance on Grace made checking feel unnecessary. Probe: asking for predictions, talking
through a failed run together, having her teach the protocol to someone else. Connect to
independence: troubleshooting is where it grows.
""",
        "understanding",
        ("independence",),
        ("graduate",),
        ("molecular biology",),
    ),
    _case(
        "The joke at group lunch",
        """
At a group lunch, a postdoc jokes that the lab "made its diversity quota" this year with its
two new undergraduates. A few people laugh. Aaliyah, one of the two and the first in her
family to attend college, stares at her plate. Dr. Kowalski, the lab's head, is at the table
and says nothing; he tells himself it was a clumsy joke and not worth a scene.

Over the next weeks Aaliyah stops coming to lunches and speaks less in meetings. The other new
student mentions to a graduate student that Aaliyah is thinking of switching labs.
""",
        (
            "What did Dr. Kowalski's silence communicate, to Aaliyah and to the others?",
            "What could he do now, and with whom should he talk first?",
            "How would you respond in the moment, if you were at that table?",
            "What practices make a group a place where such a remark is less likely?",
        ),
        """
Issues: a microaggression, the bystander role of the person with the most power, and the
cost borne by the student. Probe for concrete words participants would use in the moment and
afterwards, and for repair with Aaliyah without putting her on the spot. Keep the discussion
on practices, not on judging the characters.
""",
        "equity_inclusion",
        ("communication",),
        ("undergraduate",),
        ("engineering",),
    ),
    _case(
        "Questions about the accent",
        """
Dr. Ferreira's postdoc, Jun, gives clear, well-built talks. At departmental seminars, though,
the questions Jun gets often concern wording: a faculty member asks him to "say that again,
slowly", another corrects his pronunciation of a term. Colleagues who give similar talks get
questions about the science.

Jun has asked Dr. Ferreira whether he should take an accent-reduction course before going on
the job market. Dr. Ferreira does not know what to say, and is unsure whether to raise what he
has seen with the seminar's organizer.
""",
        (
            "What is Jun asking for, and what might he need?",
            "Whose problem is the pattern of questions?",
            "What could Dr. Ferreira do, in the seminar and outside it?",
            "How do you support a mentee preparing for a market that may treat them unfairly?",
        ),
        """
Surface bias about accents and language as a proxy for competence, and the mentor's choice
between helping the mentee adapt and working to change the environment (both are possible).
Probe: what participants have seen in their own seminars; how to prepare Jun for interviews
without implying the problem is his.
""",
        "equity_inclusion",
        ("professional_development", "communication"),
        ("postdoc",),
        ("physics",),
    ),
    _case(
        "May I?",
        """
Nadia, a third-year graduate student, asks Dr. Chen before every step: which buffer, which
concentration, whether to rerun a sample. She sends drafts of two-line emails for approval.
Dr. Chen answers each question quickly; it feels faster than explaining why.

At Nadia's qualifying exam the committee says she seems to lack ownership of her project. Dr.
Chen realizes that his quick answers may be part of the pattern, and that he does not know
what Nadia would decide on her own.
""",
        (
            "How might Dr. Chen's habits have kept the pattern going?",
            "Which decisions could Nadia own from now on, and how would they agree on them?",
            "What would you say when she next asks a question she could answer?",
            "How do you balance independence with the risk of costly mistakes?",
        ),
        """
Issues: a mentor's efficiency reinforcing dependence; independence as something built in
steps with agreed decision rights. Probe for "what do you think?" before answering, letting
small mistakes happen, and naming the growth explicitly. Connect to self-efficacy: Nadia may
doubt her judgment, not lack it.
""",
        "independence",
        ("self_efficacy", "expectations"),
        ("graduate",),
        ("materials science",),
    ),
    _case(
        "The project that wants to leave",
        """
Dr. Petrov's postdoc, Ama, has built a new imaging method in his lab over three years and has
an offer for an assistant professorship. In her job talk she presented a research program
built on the method, including a question Dr. Petrov had planned to pursue next.

Dr. Petrov is proud of her and also feels that part of his lab's future is walking out of the
door. Ama assumes, as her own postdoc mentor had done, that the project goes with her. Neither
has raised it.
""",
        (
            "What does each of them believe about who owns the project, and why?",
            "How could they divide the work so that both labs can thrive?",
            "When should this conversation have happened?",
            "What does fostering independence mean at the end of a postdoc?",
        ),
        """
Surface unspoken assumptions about intellectual ownership, the mentor's mixed feelings, and
the career stakes for the mentee. Probe for explicit agreements (which questions, data,
materials and collaborations go where), and for naming the transition early in a postdoc.
""",
        "independence",
        ("professional_development", "ethics"),
        ("postdoc",),
        ("neuroscience",),
    ),
    _case(
        "Not the professor path",
        """
Diego, a fourth-year graduate student, has realized he wants to work in health policy rather
than in academia. His advisor, Dr. Nakamura, often says that her best students "become
professors", and introduces Diego at conferences as "a future faculty member".

Diego has quietly taken a policy course and been offered a summer fellowship at a state agency.
He has not told Dr. Nakamura, fearing she will lose interest in him and his dissertation.
""",
        (
            "What signals has Dr. Nakamura been sending, perhaps without meaning to?",
            "How could Diego raise his plans, and what would help him do it?",
            "What would support for a non-academic career look like from this mentor?",
            "How do you learn what your mentees want, not what you hope they want?",
        ),
        """
Issues: a mentor's assumptions about success, the mentee's fear of disappointing, and the
wide range of careers mentees go on to. Probe: do participants ask about career goals each
year? Which resources (individual development plans, alumni, career offices) can they point
to? Keep the mentor's good intentions in view.
""",
        "professional_development",
        ("communication",),
        ("graduate",),
        ("public health",),
    ),
    _case(
        "Every invitation accepted",
        """
Dr. Achebe mentors Rosa, a second-year assistant professor in her department. Rosa has said
yes to two editorial boards, a diversity committee, three thesis committees and a new course.
Her first grant submission has slipped twice.

Rosa tells Dr. Achebe that she cannot say no: she was asked because there are few women in
the department, and she wants things to change. Dr. Achebe wants to protect Rosa's research
time without telling her that the service she cares about does not matter.
""",
        (
            "What is at stake for Rosa in each of these commitments?",
            "How could Dr. Achebe help her choose, rather than choose for her?",
            "What might the department's role be in the load Rosa carries?",
            "What criteria would you offer a junior colleague for saying yes?",
        ),
        """
Surface the uneven service load on under-represented faculty, the mentor's wish to protect
versus respect the mentee's values, and institutional responsibility. Probe for concrete
tools: a yearly plan, a "yes" budget, a mentor who says no on the mentee's behalf when asked.
""",
        "professional_development",
        ("work_life", "equity_inclusion"),
        ("junior_faculty",),
        ("mathematics",),
    ),
    _case(
        "Tidying the data",
        """
Wen, an undergraduate in her second term of research, is asked to "clean up" a spreadsheet of
behavioral measurements before the lab's analysis. She deletes the eleven data points that
make the effect smaller, thinking that is what cleaning means, and notes nothing.

A graduate student spots the missing rows when the numbers do not match the raw files. The
lab's head, Dr. Osei, is alarmed: a paper draft already uses the cleaned data.
""",
        (
            "What did Wen understand 'cleaning' to mean, and where would she have learned it?",
            "Is this a lapse in ethics, in understanding, or in supervision?",
            "How should Dr. Osei talk with Wen, and with the lab?",
            "What would you teach new students about data before they touch any?",
        ),
        """
Issues: research integrity built through explicit teaching, not assumed; the difference
between excluding data by a rule set in advance and deleting what is inconvenient; a response
that corrects without shaming. Probe: how do participants' labs document exclusions? Who
teaches this, and when?
""",
        "ethics",
        ("understanding", "expectations"),
        ("undergraduate",),
        ("psychology",),
    ),
    _case(
        "Emails at two in the morning",
        """
Dr. Abiodun notices that Kai, a graduate student, sends emails at two or three in the morning
several times a week. Kai's work is on time, but Kai looks exhausted, and mentioned once, in
passing, that a parent has been ill.

Dr. Abiodun worries about Kai and also about a conference deadline in four weeks. She is not
sure whether asking about Kai's family would be caring or intrusive, or what she could offer
if Kai does need time.
""",
        (
            "What might Kai need, and how could Dr. Abiodun find out without prying?",
            "What options does a mentor have to offer flexibility, formally and informally?",
            "How do the mentor's own habits (when she sends email) shape what Kai thinks is expected?",
            "Where does mentoring end and other support (counseling, leave policies) begin?",
        ),
        """
Surface care without intrusion, the mentee's right to privacy, the mentor's knowledge of
institutional options (leave, extensions), and the example a mentor sets. Probe for opening
lines participants would use, and for the deadline: can it move?
""",
        "work_life",
        ("communication",),
        ("graduate",),
        ("electrical engineering",),
    ),
    _case(
        '"I just got lucky"',
        """
Jamal, a senior undergraduate, won the university's research prize for work he did in Dr.
Santos's lab. When she congratulates him he says he just got lucky: the experiment happened
to work, and the graduate students did the hard parts.

Dr. Santos has encouraged him to apply to graduate programs. He has not started any
application, and says that programs like that "are for people who are really good at this".
The deadlines are in six weeks.
""",
        (
            "What might lie behind Jamal's account of his success?",
            "What evidence of his ability could Dr. Santos help him see?",
            "How can a mentor build a mentee's confidence in their research skills?",
            "What practical steps would you take with him in the next six weeks?",
        ),
        """
Issues: attributing success to luck, impostor feelings, and how research self-efficacy grows
through mastery experiences named as such, role models and specific feedback. Probe: how do
participants point to a mentee's own contributions? Which concrete tasks (a talk, a section of
a paper) would build his belief in his ability?
""",
        "self_efficacy",
        ("professional_development",),
        ("undergraduate",),
        ("chemistry",),
    ),
    _case(
        "Two mentors, one student",
        """
Dr. Ruiz and Dr. Farouk co-mentor Elif, a graduate student whose project spans their two
labs. Dr. Ruiz believes in structure: weekly written goals and a shared calendar. Dr. Farouk
believes students should find their own way, and meets Elif when she asks.

Elif gets different advice from each and has started to tell each mentor what that mentor
wants to hear. The two faculty members, peers who like each other, are asked by their
department to write a joint mentoring plan for Elif.
""",
        (
            "What does each mentor's approach say about what they believe mentoring is for?",
            "What would you want a joint plan to settle, and what could stay different?",
            "How should Elif take part in writing it?",
            "How would you describe your own philosophy of mentoring in two sentences?",
        ),
        """
Use this case to draw out participants' own mentoring philosophies: structure versus
autonomy, and how each serves different mentees at different times. Probe for what a written
plan should contain (meeting rhythm, decisions, feedback, conflict) and for the mentee's voice
in it. A good lead-in to writing or revising a philosophy statement.
""",
        "philosophy_plan",
        ("expectations", "independence"),
        ("graduate", "peer"),
        ("biomedical engineering",),
    ),
)


async def _demo_admin() -> CurrentUser:
    person_id = await find_person_id_by_email(DEMO_ADMIN_EMAIL)
    if person_id is None:
        raise RuntimeError(f"{DEMO_ADMIN_EMAIL} is missing: load the demo organization first")
    row = await Person.select(Person.name).where(Person.id == person_id).first()
    name = row["name"] if row else "Demo administrator"
    return CurrentUser(person_id, name, DEMO_ADMIN_EMAIL, frozenset({Role.admin.value}))


async def load_demo_cases() -> int:
    """Add the demo library's cases that are missing (by title). Returns how many were added."""
    admin = await _demo_admin()
    titles = [case.title for case in DEMO_CASES]
    existing = {
        row["title"]
        for row in await CaseStudy.select(CaseStudy.title).where(CaseStudy.title.is_in(titles))
    }
    added = 0
    async with CaseStudy._meta.db.transaction():
        for case in DEMO_CASES:
            if case.title in existing:
                continue
            await create_case(
                case,
                actor=admin,
                provenance=Provenance.curriculum.value,
                scope=Scope.library.value,
                publish=True,
            )
            added += 1
        await _demo_agendas(admin)
    return added


async def _demo_agendas(admin: CurrentUser) -> None:
    """Each session of the demo's published cohort without an agenda gets the demo case that
    teaches its first competency, so prompts and session pages show case studies."""
    cases = {
        row["primary_competency"]: row["id"]
        for row in await CaseStudy.select(CaseStudy.id, CaseStudy.primary_competency)
        .where(CaseStudy.title.is_in([case.title for case in DEMO_CASES]))
        .order_by(CaseStudy.id, ascending=False)
    }
    busy = {row["session"] for row in await AgendaItem.select(AgendaItem.session)}
    sessions = await Session.select(Session.id, Session.competencies).where(
        Session.cohort.name == DEMO_COHORT
    )
    for session in sessions:
        picked = [cases[c] for c in session["competencies"] or () if c in cases][:1]
        if picked and session["id"] not in busy:
            await set_agenda(session["id"], picked, actor=admin)
