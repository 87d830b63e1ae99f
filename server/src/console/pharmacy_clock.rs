//! "The pharmacy PC's clock is 1 day ahead": from the last message's `sent_at` against the
//! server's clock (`pharmacy_contact.clock_skew_ms`). A counter that far out supplies nothing
//! and closes no day by itself, so the service needs to know to phone the pharmacy.

use sqlx::AnyPool;

use crate::error::Result;

/// Beyond this the counter refuses to supply (its own `SOTTO_MAX_CLOCK_SKEW` default).
const LIMIT_MS: i64 = 2 * 60 * 1000;

/// The warning for `pharmacy_id`, if its PC's clock was out by more than the limit.
pub async fn warning(pool: &AnyPool, pharmacy_id: &str) -> Result<Option<String>> {
    let skew = crate::core::queries::contact(pool, pharmacy_id)
        .await?
        .clock_skew_ms;
    Ok(skew.and_then(words))
}

/// "The pharmacy PC's clock is 1 day 2 h ahead of the service's …", past the limit.
fn words(skew_ms: i64) -> Option<String> {
    if skew_ms.abs() <= LIMIT_MS {
        return None;
    }
    // To the nearest minute: a message's transit takes a moment off a whole day.
    let minutes = (skew_ms.abs() + 30_000) / 60_000;
    let (days, hours, mins) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    let size = match (days, hours) {
        (0, 0) => format!("{mins} min"),
        (0, h) => format!("{h} h {mins} min"),
        (d, h) => format!("{d} day{} {h} h", if d == 1 { "" } else { "s" }),
    };
    let way = if skew_ms > 0 { "ahead of" } else { "behind" };
    Some(format!(
        "The pharmacy PC's clock is {size} {way} the service's: its counter supplies nothing \
         and closes no day until the clock is corrected. Consider phoning the pharmacy."
    ))
}

#[cfg(test)]
mod tests {
    use super::words;

    #[test]
    fn a_clock_within_two_minutes_says_nothing_and_one_further_out_says_how_far() {
        assert_eq!(words(119_000), None);
        assert_eq!(words(-120_000), None);
        assert!(
            words(86_400_000 + 7_200_000)
                .unwrap()
                .starts_with("The pharmacy PC's clock is 1 day 2 h ahead of the service's")
        );
        assert!(
            words(-600_000)
                .unwrap()
                .contains("10 min behind the service's")
        );
    }
}
