//! Opening hours in the console: the enrolment form's table of weekdays (each with its opening
//! and closing time, a day left blank closed) and the week in words for the pharmacies list.

use sotto_domain::{DayHoursText, FieldError, OpeningHours, OpeningHoursText, Weekday};

use super::enrol_form::EnrolForm;
use super::html::{self, esc};

impl EnrolForm {
    /// The opening and closing time typed for `d` (both blank: closed that day).
    fn hours(&self, d: Weekday) -> (&str, &str) {
        let (open, close) = match d {
            Weekday::Mon => (&self.open_mon, &self.close_mon),
            Weekday::Tue => (&self.open_tue, &self.close_tue),
            Weekday::Wed => (&self.open_wed, &self.close_wed),
            Weekday::Thu => (&self.open_thu, &self.close_thu),
            Weekday::Fri => (&self.open_fri, &self.close_fri),
            Weekday::Sat => (&self.open_sat, &self.close_sat),
            Weekday::Sun => (&self.open_sun, &self.close_sun),
        };
        (open.trim(), close.trim())
    }

    pub(super) fn set_hours(&mut self, d: Weekday, open: &str, close: &str) {
        let (o, c) = match d {
            Weekday::Mon => (&mut self.open_mon, &mut self.close_mon),
            Weekday::Tue => (&mut self.open_tue, &mut self.close_tue),
            Weekday::Wed => (&mut self.open_wed, &mut self.close_wed),
            Weekday::Thu => (&mut self.open_thu, &mut self.close_thu),
            Weekday::Fri => (&mut self.open_fri, &mut self.close_fri),
            Weekday::Sat => (&mut self.open_sat, &mut self.close_sat),
            Weekday::Sun => (&mut self.open_sun, &mut self.close_sun),
        };
        (*o, *c) = (open.to_string(), close.to_string());
    }

    /// The API's opening hours from the form's table (a day left blank is closed), or `None`
    /// when the form was posted the older way (one closing time, closed weekdays).
    pub(super) fn opening_hours(&self) -> Option<OpeningHoursText> {
        if !self.closing_time.trim().is_empty() {
            return None;
        }
        let mut text = OpeningHoursText::default();
        for d in Weekday::ALL {
            let (open, close) = self.hours(d);
            if open.is_empty() && close.is_empty() {
                continue;
            }
            *text.day_mut(d) = Some(DayHoursText {
                open: open.to_string(),
                close: close.to_string(),
            });
        }
        Some(text)
    }
}

/// The week in words, runs of weekdays with the same hours together: "mon–fri 08:00–01:00
/// (next day), sat 09:00–13:00, sun closed".
pub(super) fn hours_summary(hours: &OpeningHours) -> String {
    let said = |d: Weekday| match hours.on(d) {
        None => "closed".to_string(),
        Some(h) => format!(
            "{}–{}{}",
            h.open().format("%H:%M"),
            h.close().format("%H:%M"),
            if h.closes_after_midnight() {
                " (next day)"
            } else {
                ""
            }
        ),
    };
    let mut runs: Vec<(Weekday, Weekday, String)> = Vec::new();
    for d in Weekday::ALL {
        match runs.last_mut() {
            Some((_, last, text)) if *text == said(d) => *last = d,
            _ => runs.push((d, d, said(d))),
        }
    }
    runs.into_iter()
        .map(|(first, last, text)| {
            if first == last {
                format!("{first} {text}")
            } else {
                format!("{first}–{last} {text}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The opening hours as a table of weekdays, each with its opening and closing time and their
/// errors (`opening_hours.sat.close`); a day left blank is closed.
pub(super) fn hours_table(f: &EnrolForm, errors: &[FieldError]) -> String {
    let cell = |d: Weekday, part: &str, value: &str| {
        let (name, field) = (format!("{part}_{d}"), format!("opening_hours.{d}.{part}"));
        let err = html::field_error(errors, &field);
        let invalid = if err.is_empty() {
            String::new()
        } else {
            format!(" aria-invalid=\"true\" aria-describedby=\"{field}-error\"")
        };
        let label = if part == "open" { "opens" } else { "closes" };
        format!(
            "<td><label class=\"visually-hidden\" for=\"{name}\">{d} {label} (HH:MM)</label>\
             <input id=\"{name}\" name=\"{name}\" size=\"5\" value=\"{v}\"{invalid}>{err}</td>",
            v = esc(value),
        )
    };
    let rows: String = Weekday::ALL
        .into_iter()
        .map(|d| {
            let (open, close) = f.hours(d);
            format!(
                "<tr><th scope=\"row\">{d}</th>{}{}</tr>",
                cell(d, "open", open),
                cell(d, "close", close)
            )
        })
        .collect();
    format!(
        "<fieldset><legend>Opening hours (HH:MM, local; leave a day blank if closed; a close \
         before the opening time is after midnight, e.g. 08:00 to 01:00; a half day is an open \
         day)</legend><div class=\"scroll\"><table><thead><tr><th scope=\"col\">Day</th>\
         <th scope=\"col\">Opens</th><th scope=\"col\">Closes</th></tr></thead><tbody>{rows}</tbody>\
         </table></div>{all}</fieldset>",
        all = html::field_error(errors, "opening_hours"),
    )
}
