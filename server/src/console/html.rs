//! HTML building blocks for the console: escaping, the page shell with navigation, form errors.
//! No template engine (as in the counter client): pages are small and built with `format!`, and
//! every value that comes from data goes through [`esc`].

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use sotto_domain::FieldError;

use crate::core::access::Role;

/// Escapes text for HTML content and quoted attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Who is signed in, for the header (None on the sign-in page).
pub struct Viewer<'a> {
    pub name: &'a str,
    pub role: Role,
    pub csrf: &'a str,
}

/// The page shell: header with navigation for the viewer's role, then `body` in `<main>`.
pub fn page(status: StatusCode, title: &str, viewer: Option<&Viewer>, body: &str) -> Response {
    let nav = match viewer {
        None => String::new(),
        Some(v) => {
            let links: &[(&str, &str)] = match v.role {
                Role::Keyworker | Role::Clinician => &[
                    ("/console/caseload", "Caseload"),
                    ("/console/risk", "Whose risk"),
                ],
                Role::Admin => &[
                    ("/console/pharmacies", "Pharmacies"),
                    ("/console/staff", "Staff"),
                ],
                Role::Pharmacist => &[],
            };
            let items: String = links
                .iter()
                .map(|(href, label)| format!("<li><a href=\"{href}\">{label}</a></li>"))
                .collect();
            format!(
                "<nav aria-label=\"Console\"><ul>{items}</ul>\
                 <form method=\"post\" action=\"/console/sign-out\" class=\"signout\">\
                 <span>{name} ({role})</span>{csrf}<button type=\"submit\">Sign out</button></form></nav>",
                name = esc(v.name),
                role = v.role.as_str(),
                csrf = csrf_field(v.csrf),
            )
        }
    };
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Sotto console</title><style>{STYLE}</style></head><body>\
         <header><p class=\"brand\">Sotto console</p>{nav}</header>\
         <main id=\"main\"><h1>{title}</h1>{body}</main></body></html>\n",
        title = esc(title),
    );
    (status, Html(html)).into_response()
}

/// A table in its own horizontally scrolling box, so a narrow screen scrolls the table and not
/// the page; the box is named and reachable by keyboard (so it can be scrolled without a mouse).
pub fn scroll(label: &str, table: &str) -> String {
    format!(
        "<div class=\"scroll\" role=\"region\" aria-label=\"{}\" tabindex=\"0\">{table}</div>",
        esc(label)
    )
}

/// "1 hold placed", "2 holds placed": a count with the word that agrees with it.
pub fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "an attend hold", "a safety hold": the article the next word needs (by its first letter,
/// which is right for every word the console puts after one).
pub fn article(word: &str) -> &'static str {
    match word.chars().next().map(|c| c.to_ascii_lowercase()) {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

/// The hidden CSRF field every form carries.
pub fn csrf_field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(token)
    )
}

/// A summary of every error at the top of a form, linked to the fields it names.
pub fn error_summary(errors: &[FieldError]) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let items: String = errors
        .iter()
        .map(|e| {
            format!(
                "<li><strong>{}</strong>: {}</li>",
                esc(&field_label(&e.field)),
                esc(&in_words(&e.message))
            )
        })
        .collect();
    format!(
        "<div class=\"errors\" role=\"alert\" tabindex=\"-1\"><h2>Please correct the following</h2><ul>{items}</ul></div>"
    )
}

/// What a person calls a field the API names: "Effective from" for `effective_from`,
/// "Saturday closes" for `opening_hours.sat.close` — never the identifier itself.
pub fn field_label(field: &str) -> String {
    let named = match field {
        "effective_from" => "Effective from",
        "daily_dose_mg" => "Daily dose",
        "collections" => "Weekly collections",
        "reason" => "Reason",
        "kind" => "Kind",
        "ods_code" => "ODS code",
        "name" => "Name",
        "email" => "E-mail",
        "role" => "Role",
        "pharmacy_id" => "Pharmacy",
        "keyworker_id" => "Keyworker",
        "prescriber_id" => "Prescriber",
        "reference" => "Service reference",
        "given_name" => "Given name",
        "family_name" => "Family name",
        "date_of_birth" => "Date of birth",
        "heads_up_email" => "E-mail for a heads-up",
        "password" => "Password",
        "timezone" => "Time zone",
        "opening_hours" => "Opening hours",
        "closing_time" => "Closing time",
        "closed_weekdays" => "Closed weekdays",
        "stamp" => "This confirmation",
        _ => "",
    };
    if !named.is_empty() {
        return named.to_string();
    }
    let weekday_name = |d: &str| match d {
        "mon" => "Monday",
        "tue" => "Tuesday",
        "wed" => "Wednesday",
        "thu" => "Thursday",
        "fri" => "Friday",
        "sat" => "Saturday",
        "sun" => "Sunday",
        _ => "",
    };
    let parts: Vec<&str> = field
        .split(['.', '_', '[', ']'])
        .filter(|p| !p.is_empty())
        .collect();
    match parts.as_slice() {
        ["opening", "hours", d, part] if !weekday_name(d).is_empty() => format!(
            "{} {}",
            weekday_name(d),
            if *part == "open" { "opens" } else { "closes" }
        ),
        ["days", d] if !weekday_name(d).is_empty() => {
            format!("{}: days collected", weekday_name(d))
        }
        _ => {
            let words = parts.join(" ");
            let mut c = words.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        }
    }
}

/// A message as the API words it, with any field it names (`daily_dose_mg`) said as the
/// form's words ("daily dose").
pub fn in_words(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let snake = word.contains('_')
            && word
                .split('_')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()));
        if snake {
            out.push_str(&field_label(word).to_lowercase());
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in message.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// The message for one field (shown under its input), if any.
pub fn field_error(errors: &[FieldError], field: &str) -> String {
    errors
        .iter()
        .filter(|e| e.field == field || e.field.starts_with(&format!("{field}[")))
        .map(|e| {
            format!(
                "<p class=\"field-error\" id=\"{field}-error\">{}</p>",
                esc(&in_words(&e.message))
            )
        })
        .collect()
}

/// A labelled text input with its error, keeping what the user typed.
pub fn input(
    errors: &[FieldError],
    name: &str,
    label: &str,
    kind: &str,
    value: &str,
    extra: &str,
) -> String {
    let err = field_error(errors, name);
    let described = if err.is_empty() {
        String::new()
    } else {
        format!(" aria-invalid=\"true\" aria-describedby=\"{name}-error\"")
    };
    format!(
        "<label for=\"{name}\">{label}</label>\
         <input id=\"{name}\" name=\"{name}\" type=\"{kind}\" value=\"{value}\"{described} {extra}>{err}",
        label = esc(label),
        value = esc(value),
    )
}

/// High contrast (text ≥ 7:1 on white), visible focus, no colour-only meaning.
/// The headers every console answer carries (`sotto_protocol::web`), for its stylesheet.
pub static SECURITY_HEADERS: std::sync::LazyLock<[(&str, String); 5]> =
    std::sync::LazyLock::new(|| sotto_protocol::web::security_headers(STYLE));

const STYLE: &str = "\
body{font:16px/1.45 system-ui,Arial,sans-serif;margin:0;color:#1a1a1a;background:#fff}\
header{background:#1d3557;color:#fff;padding:.4rem 1rem;display:flex;flex-wrap:wrap;\
align-items:center;justify-content:space-between;gap:.4rem 1rem}\
header a,header span{color:#fff}.brand{font-weight:700;margin:0}\
nav{display:flex;flex-wrap:wrap;gap:.4rem 1.5rem;align-items:center}\
nav ul{display:flex;flex-wrap:wrap;gap:.2rem 1rem;list-style:none;margin:0;padding:0}\
nav a{display:inline-block;padding:.35rem 0;min-height:24px}\
.signout{display:flex;flex-wrap:wrap;gap:.2rem .6rem;align-items:center;border:0;padding:0;margin:0}\
.signout button{margin:0;background:#fff;color:#1d3557}\
main{padding:1rem;max-width:72rem;overflow-wrap:break-word}h1{font-size:1.5rem;margin:.2rem 0 .8rem}\
h2{font-size:1.15rem;margin:1.2rem 0 .4rem}\
a{color:#0b4a8b}th a,td a,p>a:only-child{display:inline-block;min-height:24px;padding:.15rem 0}\
form{border:1px solid #8a94a6;padding:.75rem;border-radius:4px;margin:.5rem 0;max-width:40rem}\
form.inline{display:inline;border:0;padding:0;margin:0}\
label{display:block;font-weight:600;margin-top:.5rem}\
input,select,textarea{font-size:1rem;padding:.3rem;border:1px solid #444;border-radius:3px;\
max-width:100%;box-sizing:border-box;min-height:44px}\
input[type=checkbox]{width:1.5rem;height:1.5rem;min-height:0;margin:0 .4rem 0 0;vertical-align:middle}\
textarea{width:100%}fieldset{min-width:0;margin:.5rem 0;padding:.3rem .6rem .6rem}\
button{font-size:1rem;padding:.35rem 1.1rem;margin-top:.6rem;background:#1d3557;color:#fff;\
border:0;border-radius:4px;cursor:pointer;min-height:44px;min-width:44px}\
button.secondary{background:#fff;color:#1d3557;border:2px solid #1d3557}\
.confirm{display:flex;flex-wrap:wrap;gap:.4rem 1rem;align-items:center}\
.confirm a{display:inline-block;padding:.6rem 0}\
:focus{outline:3px solid #e9a800;outline-offset:1px}\
.scroll{overflow-x:auto;max-width:100%;position:relative}\
table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #c8d0dc;padding:.3rem .55rem;text-align:left;vertical-align:top}\
th{background:#eef2f7}th a{color:#1a1a1a}td.num,th.num{text-align:right}caption{text-align:left}\
.errors{border:3px solid #b00020;padding:.5rem .8rem;margin:.5rem 0;background:#fff5f5}\
.errors h2{margin:0;font-size:1.05rem;color:#8a0019}\
.field-error{color:#8a0019;font-weight:600;margin:.2rem 0}\
.notice{padding:.5rem .8rem;background:#f1f3f6;border-left:5px solid #1d3557;margin:.5rem 0}\
.warning{padding:.5rem .8rem;background:#fff8e1;border-left:5px solid #8a5a00;margin:.5rem 0;font-weight:600}\
.identity{font-size:1.2rem;border:2px solid #1d3557;padding:.5rem .8rem;margin:.5rem 0;display:inline-block;max-width:100%;box-sizing:border-box}\
.code{font-size:2.2rem;font-weight:700;background:#e3eaf3;color:#1d3557;padding:.1rem .7rem;border-radius:4px}\
.cal{display:grid;grid-template-columns:repeat(7,minmax(6.5rem,1fr));gap:3px;max-width:60rem}\
.day{border:1px solid #8a94a6;padding:.25rem .35rem;font-size:.85rem;min-height:3.6rem}\
.day b,.day>span{display:block}.day .long{display:none}\
.day.head{min-height:0;border:0;padding:.1rem .35rem}.day.missed{border:2px solid #8a0019;background:#fff5f5}\
.day.supplied{background:#eef7ee}.day.closed{background:#f0f0f0}.day.today{outline:3px solid #1d3557}\
@media (max-width:600px){\
.cal{display:block}.cal>[aria-hidden]{display:none}\
.day{display:flex;flex-wrap:wrap;gap:0 .3rem;font-size:1rem;min-height:0;margin:0 0 3px;padding:.35rem .5rem}\
.day b{flex:1 0 100%}.day .long{display:inline}.day .short{display:none}.day>span{display:inline}\
.day .how::before,.day .state::before{content:'· '}\
header{padding:.4rem .6rem}main{padding:.6rem}.identity{font-size:1.05rem}}\
.filters{display:flex;flex-wrap:wrap;gap:1rem;align-items:end;border:0;padding:0}\
.filters label{margin:0}.filters button{margin:0}\
.secret{font-family:monospace;background:#f1f3f6;padding:.5rem;white-space:pre-wrap;word-break:break-all}\
.chart{display:flex;flex-wrap:wrap;gap:2rem;align-items:flex-start}.chart>*{min-width:0;max-width:100%}svg{max-width:100%;height:auto}\
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}\
label.inline-check{display:inline-block;font-weight:400;margin-right:.6rem}\
label:has(>input[type=checkbox]){display:flex;align-items:center;min-height:44px}\
";

/// `next` if it is a page of the console, else `None`: the return address after sign-in is
/// never another site (an open redirect would let a phishing link borrow our address) nor the
/// sign-in page itself. Only a plain path: `/console` or `/console/…`, no `//`, `\`, `..`,
/// scheme or control characters.
pub fn return_path(next: &str) -> Option<&str> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.~/?=&%".contains(c);
    let in_console =
        next == "/console" || next.starts_with("/console/") || next.starts_with("/console?");
    let ok = in_console
        && next.chars().all(allowed)
        && !next.contains("//")
        && !next.contains("..")
        && !next.starts_with("/console/sign-");
    ok.then_some(next)
}

/// Percent-encodes a query value (everything but unreserved characters and `/`).
pub fn encode_component(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_summaries_name_fields_in_words() {
        assert_eq!(field_label("effective_from"), "Effective from");
        assert_eq!(field_label("opening_hours.sat.close"), "Saturday closes");
        assert_eq!(field_label("days_mon"), "Monday: days collected");
        assert_eq!(
            field_label("collections[2].weekday"),
            "Collections 2 weekday"
        );
        let html = error_summary(&[FieldError::new("pharmacy_id", "choose one")]);
        assert!(
            html.contains("<strong>Pharmacy</strong>: choose one"),
            "{html}"
        );
    }

    #[test]
    fn messages_say_the_fields_they_name_in_words() {
        assert_eq!(
            in_words("give a new daily_dose_mg, new collections, or both"),
            "give a new daily dose, new collections, or both"
        );
        assert_eq!(in_words("must be 1 to 7 (mon)"), "must be 1 to 7 (mon)");
    }

    #[test]
    fn counts_and_articles_agree_with_their_words() {
        assert_eq!(counted(1, "hold placed", "holds placed"), "1 hold placed");
        assert_eq!(counted(2, "hold placed", "holds placed"), "2 holds placed");
        assert_eq!(counted(0, "person", "people"), "0 people");
        assert_eq!(article("attend"), "an");
        assert_eq!(article("safety"), "a");
    }

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<b a='1'>"x" & y</b>"#),
            "&lt;b a=&#39;1&#39;&gt;&quot;x&quot; &amp; y&lt;/b&gt;"
        );
    }
}
