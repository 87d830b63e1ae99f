//! Quantities in words, as a controlled-drug register writes them ("sixty-two point five
//! milligrams"): the same words on the server's supply log and the counter's.

/// `60`, `62.5`: milligrams without trailing zeros.
pub fn format_mg(mg: f64) -> String {
    let s = format!("{mg:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// "sixty-two point five milligrams": the register writes quantities in words as well.
pub fn mg_in_words(mg: f64) -> String {
    let hundredths = (mg * 100.0).round() as u64;
    let whole = hundredths / 100;
    let frac = hundredths % 100;
    let mut words = number_words(whole);
    if frac > 0 {
        words.push_str(" point");
        let digits = if frac.is_multiple_of(10) {
            format!("{}", frac / 10)
        } else {
            format!("{frac:02}")
        };
        for c in digits.chars() {
            words.push(' ');
            words.push_str(ONES[c.to_digit(10).unwrap_or(0) as usize]);
        }
    }
    let unit = if whole == 1 && frac == 0 {
        "milligram"
    } else {
        "milligrams"
    };
    format!("{words} {unit}")
}

const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// British English number words (0 to 999,999): "one hundred and five".
fn number_words(n: u64) -> String {
    fn below_thousand(n: u64) -> String {
        let (h, rest) = (n / 100, n % 100);
        let rest_words = match rest {
            0 => String::new(),
            1..=19 => ONES[rest as usize].to_string(),
            _ if rest % 10 == 0 => TENS[(rest / 10) as usize].to_string(),
            _ => format!(
                "{}-{}",
                TENS[(rest / 10) as usize],
                ONES[(rest % 10) as usize]
            ),
        };
        match (h, rest) {
            (0, _) => rest_words,
            (_, 0) => format!("{} hundred", ONES[h as usize]),
            _ => format!("{} hundred and {rest_words}", ONES[h as usize]),
        }
    }
    if n == 0 {
        return "zero".into();
    }
    let (th, rest) = (n / 1000, n % 1000);
    match (th, rest) {
        (0, _) => below_thousand(rest),
        (_, 0) => format!("{} thousand", below_thousand(th)),
        (_, r) if r < 100 => format!("{} thousand and {}", below_thousand(th), below_thousand(r)),
        _ => format!("{} thousand {}", below_thousand(th), below_thousand(rest)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_read_as_the_register_writes_them() {
        for (mg, words) in [
            (60.0, "sixty milligrams"),
            (62.5, "sixty-two point five milligrams"),
            (1.0, "one milligram"),
            (0.4, "zero point four milligrams"),
            (105.0, "one hundred and five milligrams"),
            (420.0, "four hundred and twenty milligrams"),
            (1260.0, "one thousand two hundred and sixty milligrams"),
            (2005.0, "two thousand and five milligrams"),
            (8.25, "eight point two five milligrams"),
            (14.0, "fourteen milligrams"),
        ] {
            assert_eq!(mg_in_words(mg), words, "{mg}");
        }
        assert_eq!(format_mg(62.5), "62.5");
        assert_eq!(format_mg(60.0), "60");
    }
}
