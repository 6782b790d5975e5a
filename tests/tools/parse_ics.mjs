// Parses iCalendar text from stdin with ical.js (Mozilla's parser, the one in Thunderbird) and
// prints what a calendar client would take from it, as JSON. Used by tests/sessions.
import ICAL from "ical.js";

let text = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) text += chunk;

const calendar = new ICAL.Component(ICAL.parse(text));
const events = calendar.getAllSubcomponents("vevent").map((vevent) => {
  const event = new ICAL.Event(vevent);
  const organizer = vevent.getFirstProperty("organizer");
  return {
    uid: event.uid,
    sequence: event.sequence,
    summary: event.summary,
    start: event.startDate.toJSDate().toISOString(),
    end: event.endDate.toJSDate().toISOString(),
    start_is_utc: event.startDate.zone === ICAL.Timezone.utcTimezone,
    status: vevent.getFirstPropertyValue("status"),
    location: event.location,
    organizer: organizer ? { value: organizer.getFirstValue(), cn: organizer.getParameter("cn") } : null,
    attendees: event.attendees.map((a) => ({
      value: a.getFirstValue(),
      cn: a.getParameter("cn"),
      role: a.getParameter("role"),
      partstat: a.getParameter("partstat"),
      rsvp: a.getParameter("rsvp"),
    })),
    alarms: vevent.getAllSubcomponents("valarm").length,
  };
});
process.stdout.write(JSON.stringify({ method: calendar.getFirstPropertyValue("method"), events }));
