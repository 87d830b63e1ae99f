//! The only way to build a [`Mail`]. Each template takes a service reference (e.g. `SU-1042`),
//! dates and a link — never a name, date of birth, medicine or dose — so none can leak into an
//! inbox, a notification preview or a relay's logs. Subject lines stay neutral ("an update
//! about SU-1042"): a subject is often seen by people other than the recipient.
//!
//! Bodies are plain ASCII with short lines, so they travel as 7-bit text, unencoded.
//! Links are [`super::person_link`] (`{public_url}/console/people/{service_user_id}`), built
//! by the caller.

use chrono::{NaiveDate, NaiveDateTime};

use super::Mail;

const FOOTER: &str = "This message leaves out personal and clinical details on purpose.\n\
                      It was sent automatically; please do not reply to it.\n\nSotto\n";

/// One missed day as a keyworker's alert names it: the service reference, the day without a
/// collection, when it was reported if that was late, and the link to the person's page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissedDay {
    pub reference: String,
    pub date: NaiveDate,
    /// When the report reached Sotto (service time), if after the morning digest that would
    /// normally have listed it: the pharmacy's system was offline until then.
    pub reported_late: Option<NaiveDateTime>,
    pub link: String,
}

/// One missed day, to the service user's keyworker.
pub fn missed_dose(to: &str, day: &MissedDay) -> Mail {
    let body = format!(
        "Hello,\n\n\
         No collection was recorded for {reference} on {date}.\n{late}\n\
         Please check in with them when you can. The details are in Sotto:\n\
         {link}\n\n{FOOTER}",
        reference = day.reference,
        date = long_date(day.date),
        late = late_note(day, ""),
        link = day.link,
    );
    mail(
        to,
        format!("Sotto: an update about {}", day.reference),
        body,
        "missed_dose",
    )
}

/// A keyworker's morning digest, sent on `sent_on`: one entry per missed day not mailed before,
/// whatever its date, each with the date missed, a late report's time, and its link.
pub fn missed_digest(to: &str, items: &[MissedDay], sent_on: NaiveDate) -> Mail {
    let list = if items.is_empty() {
        "Nothing needs following up today.\n".to_string()
    } else {
        let mut list = String::from("No collection was recorded for:\n\n");
        for day in items {
            list.push_str(&format!(
                "- {}, on {}\n{}  {}\n",
                day.reference,
                long_date(day.date),
                late_note(day, "  "),
                day.link
            ));
        }
        list
    };
    let body = format!(
        "Hello,\n\nYour Sotto update of {}.\n\n{list}\nPlease check in with them when you can.\n\n{FOOTER}",
        long_date(sent_on)
    );
    mail(
        to,
        format!("Sotto: your daily update, {}", short_date(sent_on)),
        body,
        "missed_digest",
    )
}

/// "reported late, on Tuesday 3 March 2026 at 09:00: the pharmacy's\nsystem was offline\n",
/// each line after `indent`; empty when the report was on time.
fn late_note(day: &MissedDay, indent: &str) -> String {
    day.reported_late.map_or_else(String::new, |at| {
        format!(
            "{indent}reported late, on {} at {}: the pharmacy's\n{indent}system was offline\n",
            long_date(at.date()),
            at.format("%H:%M")
        )
    })
}

/// Urgent, to a clinician: collections are paused until a prescriber reviews.
pub fn safety_hold(to: &str, reference: &str, consecutive_days: u32, link: &str) -> Mail {
    let days = match consecutive_days {
        1 => "1 day".to_string(),
        n => format!("{n} days in a row"),
    };
    let body = format!(
        "Hello,\n\n\
         Collections for {reference} are paused after {days}\n\
         without a collection.\n\
         A prescriber needs to review before the next collection can go ahead.\n\n\
         Please review in Sotto:\n\
         {link}\n\n{FOOTER}"
    );
    mail(
        to,
        format!("Sotto: action needed for {reference}"),
        body,
        "safety_hold",
    )
}

/// To the service (and the person's keyworker of record): a staff member opened a record outside
/// their caseload. The reason they gave stays in Sotto (it may name the person); the mail says
/// who, whose record by reference, and when.
pub fn break_glass(to: &str, staff_name: &str, reference: &str, until: &str, link: &str) -> Mail {
    let body = format!(
        "Hello,\n\n\
         {staff_name} opened the record of {reference} outside their caseload\n\
         (\"break glass\"), with a reason recorded in Sotto. The record stays open\n\
         to them until {until} (UTC). If this was not expected, please follow it up.\n\n\
         The record, its access log and the reason:\n\
         {link}\n\n{FOOTER}"
    );
    mail(
        to,
        format!("Sotto: record of {reference} opened outside the caseload"),
        body,
        "break_glass",
    )
}

/// To the service user (opt-in): the service's own wording, and its phone number if given.
/// No clinical words at all: other people may see this person's inbox.
pub fn heads_up_placed(to: &str, text: &str, phone: Option<&str>) -> Mail {
    let phone = phone
        .map(|p| format!("You can ring us on {p}.\n\n"))
        .unwrap_or_default();
    mail(
        to,
        SERVICE_SUBJECT.into(),
        service_body(&format!("{}\n\n{phone}", text.trim())),
        "heads_up_placed",
    )
}

/// To the service user (opt-in), when the heads-up no longer applies.
pub fn heads_up_lifted(to: &str, text: &str) -> Mail {
    mail(
        to,
        SERVICE_SUBJECT.into(),
        service_body(&format!("{}\n\n", text.trim())),
        "heads_up_lifted",
    )
}

/// To the service's staff: a pharmacy has not closed its day, so the absence of missed-dose
/// reports for that day means nothing yet.
pub fn pharmacy_silent(to: &str, ods_code: &str, date: NaiveDate, link: &str) -> Mail {
    let body = format!(
        "Hello,\n\n\
         Pharmacy {ods_code} has not closed its day in Sotto for\n\
         {day}.\n\n\
         Until it does, Sotto cannot tell whether collections were missed that day:\n\
         no reports from this pharmacy does NOT mean nobody missed a collection.\n\n\
         Please contact the pharmacy. The details are in Sotto:\n\
         {link}\n\n{FOOTER}",
        day = long_date(date),
    );
    mail(
        to,
        format!(
            "Sotto: pharmacy {ods_code} has not closed its day ({})",
            short_date(date)
        ),
        body,
        "pharmacy_silent",
    )
}

/// Urgent, to the service's staff: a closure was posted after the collection that should have
/// covered its day, and no open day is left on which the pharmacy could hand that dose over.
pub fn closure_leaves_no_day(
    to: &str,
    ods_code: &str,
    date: NaiveDate,
    references: &[String],
    link: &str,
) -> Mail {
    let list: String = references.iter().map(|r| format!("- {r}\n")).collect();
    let body = format!(
        "Hello,\n\n\
         Pharmacy {ods_code} was recorded as closed on {day} after the\n\
         collection that should have covered that day. No open day is left on\n\
         which the pharmacy can hand over that day's dose for:\n\n{list}\n\
         Please arrange that day's dose with them (another pharmacy, or the\n\
         prescriber). The details are in Sotto:\n\
         {link}\n\n{FOOTER}",
        day = long_date(date),
    );
    mail(
        to,
        format!(
            "Sotto: action needed: doses for {} cannot be supplied",
            short_date(date)
        ),
        body,
        "closure_leaves_no_day",
    )
}

const SERVICE_SUBJECT: &str = "A message from your treatment service";

fn service_body(message: &str) -> String {
    format!("Hello,\n\n{message}This message was sent automatically; please do not reply to it.\n")
}

fn mail(to: &str, subject: String, body: String, kind: &'static str) -> Mail {
    Mail {
        to: to.to_string(),
        subject,
        body,
        kind,
    }
}

/// "Tuesday 4 March 2025"
fn long_date(d: NaiveDate) -> String {
    d.format("%A %-d %B %Y").to_string()
}

/// "4 Mar 2025"
fn short_date(d: NaiveDate) -> String {
    d.format("%-d %b %Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_stay_neutral_and_bodies_carry_reference_and_link() {
        let d = NaiveDate::from_ymd_opt(2025, 3, 4).unwrap();
        let m = missed_dose(
            "kw@s.test",
            &day("SU-1042", d, None, "https://s.test/console/people/x"),
        );
        assert_eq!(m.subject, "Sotto: an update about SU-1042");
        assert!(m.body.contains("Tuesday 4 March 2025"), "{}", m.body);
        assert!(m.body.contains("https://s.test/console/people/x"));
        assert!(!m.body.contains("late"), "{}", m.body);
        let h = safety_hold("c@s.test", "SU-1042", 3, "L");
        assert!(h.body.contains("3 days in a row"), "{}", h.body);
        assert!(!h.subject.to_lowercase().contains("hold"));
    }

    #[test]
    fn bodies_are_short_lined_ascii() {
        let d = NaiveDate::from_ymd_opt(2025, 9, 24).unwrap(); // the longest day name and month
        let late = Some(d.succ_opt().unwrap().and_hms_opt(23, 59, 0).unwrap());
        let items = vec![day("SU-1", d, None, "L"), day("SU-2", d, late, "L")];
        for m in [
            missed_dose("a@b.c", &items[0]),
            missed_dose("a@b.c", &items[1]),
            missed_digest("a@b.c", &items, d),
            safety_hold("a@b.c", "SU-1", 1, "L"),
            heads_up_placed("a@b.c", "Ring us.", Some("0161 000 0000")),
            heads_up_lifted("a@b.c", "All set."),
            pharmacy_silent("a@b.c", "FA123", d, "L"),
        ] {
            assert!(m.body.is_ascii() && m.subject.is_ascii(), "{}", m.kind);
            assert!(
                m.body.lines().all(|l| l.len() <= 76),
                "{}: {}",
                m.kind,
                m.body
            );
        }
    }

    #[test]
    fn a_late_report_says_when_it_arrived_and_why_an_on_time_one_does_not() {
        let monday = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        let tuesday_9am = monday.succ_opt().unwrap().and_hms_opt(9, 0, 0).unwrap();
        let items = vec![
            day("SU-1", monday.succ_opt().unwrap(), None, "L1"),
            day("SU-2", monday, Some(tuesday_9am), "L2"),
        ];
        let m = missed_digest("kw@s.test", &items, monday + chrono::Duration::days(2));
        assert_eq!(m.subject, "Sotto: your daily update, 4 Mar 2026");
        let expected = "- SU-1, on Tuesday 3 March 2026\n  L1\n\
                        - SU-2, on Monday 2 March 2026\n  \
                        reported late, on Tuesday 3 March 2026 at 09:00: the pharmacy's\n  \
                        system was offline\n  L2\n";
        assert!(m.body.contains(expected), "{}", m.body);
        let each = missed_dose("kw@s.test", &items[1]);
        assert!(
            each.body.contains(
                "on Monday 2 March 2026.\nreported late, on Tuesday 3 March 2026 at 09:00"
            ),
            "{}",
            each.body
        );
    }

    fn day(reference: &str, date: NaiveDate, late: Option<NaiveDateTime>, link: &str) -> MissedDay {
        MissedDay {
            reference: reference.into(),
            date,
            reported_late: late,
            link: link.into(),
        }
    }
}
