"""Signed links in messages: "I can't attend" (for one person and one session) and "switch
reminders off" (for one person). The signature stands in for signing in; it is an HMAC of
SECRET_KEY, so nothing is stored, and each purpose has its own key.

Previews and test copies carry sample links that open nothing: a facilitator's test copy must
not hold a participant's working link (one click on the mail client's "unsubscribe" would
switch off that participant's reminders).
"""

from __future__ import annotations

from errors import NotFound
from settings import get_settings, sign, signature_matches

SAMPLE = "sample-link-works-only-in-the-real-message"


def _token(purpose: str, message: str, person_id: int) -> str:
    return f"{person_id}-{sign(purpose, message)}"


def _person(purpose: str, token: str, message: str) -> int | None:
    person, _, signature = token.partition("-")
    if not (person.isascii() and person.isdigit() and len(person) <= 12):
        return None
    if not signature_matches(purpose, message.format(person=int(person)), signature):
        return None
    return int(person)


def absence_token(session_id: int, person_id: int) -> str:
    return _token("absence", f"{session_id}:{person_id}", person_id)


def absence_url(session_id: int, person_id: int, *, sample: bool = False) -> str:
    token = SAMPLE if sample else absence_token(session_id, person_id)
    return f"{get_settings().base_url}/sessions/{session_id}/cant-attend/{token}"


def person_from_absence_token(session_id: int, token: str) -> int:
    """The participant an "I can't attend" link was made for; a link we did not make (or one
    for another session) is answered as not found."""
    person = _person("absence", token, f"{session_id}:{{person}}")
    if person is None:
        raise NotFound("this link is not valid: use the link in your latest message")
    return person


def unsubscribe_token(person_id: int) -> str:
    return _token("reminders-off", str(person_id), person_id)


def unsubscribe_url(person_id: int, *, sample: bool = False) -> str:
    token = SAMPLE if sample else unsubscribe_token(person_id)
    return f"{get_settings().base_url}/reminders/off/{token}"


def person_from_unsubscribe_token(token: str) -> int:
    person = _person("reminders-off", token, "{person}")
    if person is None:
        raise NotFound("this link is not valid: use the link in your latest reminder")
    return person
