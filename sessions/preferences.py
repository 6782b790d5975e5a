"""A participant's mail preferences: reminders on or off (prompts and invites always go).

The link in every reminder carries a signature of the person, so switching reminders off takes
one click and no password (RFC 8058 one-click unsubscribe)."""

from __future__ import annotations

from dataclasses import dataclass

from errors import NotFound
from facilitators import audit
from facilitators.tables import Person
from sessions import links, prompts


@dataclass(frozen=True)
class ReminderPreference:
    id: int
    name: str
    email: str
    reminders_off: bool


async def preference(person_id: int) -> ReminderPreference:
    row = (
        await Person.select(Person.id, Person.name, Person.email, Person.reminders_off)
        .where(Person.id == person_id)
        .first()
    )
    if row is None:
        raise NotFound(f"no person with id {person_id}")
    return ReminderPreference(**row)


async def person_from_token(token: str) -> ReminderPreference:
    return await preference(links.person_from_unsubscribe_token(token))


async def set_reminders(person_id: int, *, on: bool, actor_id: int | None) -> bool:
    """Switch reminders on or off; off also cancels the reminders waiting to go. Returns
    whether anything changed."""
    async with Person._meta.db.transaction():
        changed = (
            await Person.update({Person.reminders_off: not on})
            .where((Person.id == person_id) & (Person.reminders_off == on))
            .returning(Person.id)
        )
        if not changed:
            return False
        if not on:
            await prompts.stop_reminders(person_id)
        await audit.record(
            actor_id,
            "person.reminders_on" if on else "person.reminders_off",
            "person",
            person_id,
            summary="Switched reminders on" if on else "Switched reminders off",
        )
    return True
