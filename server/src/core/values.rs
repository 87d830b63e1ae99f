//! Validated values from the edge ("parse, don't validate"): once built, they are known good.

use chrono::{NaiveDate, NaiveTime};
use sotto_domain::FieldError;

macro_rules! text_newtype {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

text_newtype!(
    /// An NHS ODS organisation code, e.g. `FA123`: 3–10 letters and digits, stored upper-case.
    OdsCode
);
text_newtype!(
    /// A service's reference for a person, e.g. `SU-1042`: what the counter searches by.
    Reference
);
text_newtype!(
    /// An e-mail address, as far as we can tell without sending to it.
    Email
);
text_newtype!(
    /// A person's or organisation's name: trimmed, 1–100 characters, no control characters.
    Name
);

impl OdsCode {
    pub fn parse(field: &str, s: &str) -> Result<OdsCode, FieldError> {
        let s = s.trim().to_ascii_uppercase();
        if (3..=10).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric()) {
            Ok(OdsCode(s))
        } else {
            Err(FieldError::new(
                field,
                "must be an ODS code of 3–10 letters and digits, e.g. FA123",
            ))
        }
    }
}

impl Reference {
    pub fn parse(field: &str, s: &str) -> Result<Reference, FieldError> {
        let s = s.trim().to_ascii_uppercase();
        let ok = (3..=32).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if ok {
            Ok(Reference(s))
        } else {
            Err(FieldError::new(
                field,
                "must be 3–32 letters, digits or '-', starting with a letter or digit, e.g. SU-1042",
            ))
        }
    }
}

impl Email {
    pub fn parse(field: &str, s: &str) -> Result<Email, FieldError> {
        let s = s.trim();
        let valid = s.len() <= 254
            && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            && match s.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                }
                None => false,
            };
        if valid {
            Ok(Email(s.to_string()))
        } else {
            Err(FieldError::new(
                field,
                "must be an e-mail address like name@example.org",
            ))
        }
    }
}

impl Name {
    pub fn parse(field: &str, s: &str) -> Result<Name, FieldError> {
        let s = s.trim();
        if s.is_empty() {
            Err(FieldError::new(field, "must not be empty"))
        } else if s.chars().count() > 100 {
            Err(FieldError::new(field, "must be at most 100 characters"))
        } else if s.chars().any(char::is_control) {
            Err(FieldError::new(
                field,
                "must not contain control characters",
            ))
        } else {
            Ok(Name(s.to_string()))
        }
    }
}

/// Free text a person wrote (a hold reason, a note): trimmed, bounded, may be required.
pub fn parse_text(field: &str, s: &str, max: usize, required: bool) -> Result<String, FieldError> {
    let s = s.trim();
    if required && s.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if s.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(s.to_string())
}

/// A date of birth: not in the future and not before 1900.
pub fn parse_date_of_birth(
    field: &str,
    d: NaiveDate,
    today: NaiveDate,
) -> Result<NaiveDate, FieldError> {
    let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date");
    if d > today {
        Err(FieldError::new(field, "must not be in the future"))
    } else if d < earliest {
        Err(FieldError::new(field, "must be on or after 1900-01-01"))
    } else {
        Ok(d)
    }
}

/// `HH:MM`, 24-hour.
pub fn parse_closing_time(field: &str, s: &str) -> Result<NaiveTime, FieldError> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M")
        .map_err(|_| FieldError::new(field, "must be a 24-hour time like 18:00"))
}

/// An IANA time zone name such as `Europe/London`.
pub fn parse_timezone(field: &str, s: &str) -> Result<chrono_tz::Tz, FieldError> {
    s.trim()
        .parse::<chrono_tz::Tz>()
        .map_err(|_| FieldError::new(field, "must be an IANA time zone such as Europe/London"))
}

/// Collects the errors of several parses, so one response names every field at fault.
#[derive(Default)]
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    pub fn take<T>(&mut self, r: Result<T, FieldError>) -> Option<T> {
        r.map_err(|e| self.0.push(e)).ok()
    }

    pub fn into_result(self) -> Result<(), crate::error::Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(crate::error::Error::Validation(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ods_codes_are_normalised_and_checked() {
        assert_eq!(
            OdsCode::parse("ods_code", " fa123 ").unwrap().as_str(),
            "FA123"
        );
        assert!(OdsCode::parse("ods_code", "F-1").is_err());
        assert!(OdsCode::parse("ods_code", "").is_err());
    }

    #[test]
    fn references_reject_spaces_and_punctuation() {
        assert_eq!(
            Reference::parse("r", "su-1042").unwrap().as_str(),
            "SU-1042"
        );
        assert!(Reference::parse("r", "SU 1042").is_err());
        assert!(Reference::parse("r", "-SU").is_err());
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        assert!(Email::parse("e", "kw@service.nhs.uk").is_ok());
        for bad in [
            "",
            "kw",
            "kw@",
            "@x.org",
            "kw@localhost",
            "a b@x.org",
            "a@b@c.org",
        ] {
            assert!(Email::parse("e", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(Name::parse("n", "  Ann ").unwrap().as_str(), "Ann");
        assert!(Name::parse("n", "   ").is_err());
        assert!(Name::parse("n", &"x".repeat(101)).is_err());
    }

    #[test]
    fn dates_of_birth_in_the_future_are_refused() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert!(parse_date_of_birth("d", today.succ_opt().unwrap(), today).is_err());
        assert!(
            parse_date_of_birth("d", NaiveDate::from_ymd_opt(1899, 12, 31).unwrap(), today)
                .is_err()
        );
        assert!(
            parse_date_of_birth("d", NaiveDate::from_ymd_opt(1980, 2, 29).unwrap(), today).is_ok()
        );
    }

    #[test]
    fn closing_times_and_zones_are_parsed() {
        assert!(parse_closing_time("t", "18:00").is_ok());
        assert!(parse_closing_time("t", "25:00").is_err());
        assert!(parse_timezone("z", "Europe/London").is_ok());
        assert!(parse_timezone("z", "Mars/Olympus").is_err());
    }
}
