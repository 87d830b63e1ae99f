//! The medicines we dispense and the daily dose, held as a checked newtype.
//!
//! Doses are stored as whole micrograms: comparing and storing floats invites "60.000001 mg".

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize, Serializer};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};

/// A medicine used in opioid substitution treatment; serde names are the API's exact names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Medicine {
    /// Methadone oral solution 1 mg/ml (the usual UK methadone).
    #[serde(rename = "methadone_oral_solution_1mg_ml")]
    MethadoneOralSolution1mgMl,
    /// Buprenorphine sublingual tablets.
    #[serde(rename = "buprenorphine_sublingual")]
    BuprenorphineSublingual,
    /// Buprenorphine oral lyophilisate (Espranor), dosed differently from sublingual tablets.
    #[serde(rename = "buprenorphine_oral_lyophilisate")]
    BuprenorphineOralLyophilisate,
}

impl Medicine {
    /// Every medicine, for listing accepted names in messages.
    const ALL: [Medicine; 3] = [
        Medicine::MethadoneOralSolution1mgMl,
        Medicine::BuprenorphineSublingual,
        Medicine::BuprenorphineOralLyophilisate,
    ];

    /// The API name, e.g. `"buprenorphine_sublingual"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Medicine::MethadoneOralSolution1mgMl => "methadone_oral_solution_1mg_ml",
            Medicine::BuprenorphineSublingual => "buprenorphine_sublingual",
            Medicine::BuprenorphineOralLyophilisate => "buprenorphine_oral_lyophilisate",
        }
    }

    /// The name people read (console pages, labels): "Methadone 1 mg/ml oral solution". Kept
    /// here, beside the list, so a new medicine cannot reach a page without one.
    pub fn display_name(self) -> &'static str {
        match self {
            Medicine::MethadoneOralSolution1mgMl => "Methadone 1 mg/ml oral solution",
            Medicine::BuprenorphineSublingual => "Buprenorphine sublingual tablets",
            Medicine::BuprenorphineOralLyophilisate => "Buprenorphine oral lyophilisate (Espranor)",
        }
    }

    /// The largest daily dose we accept as plausible; above it is almost surely a typo
    /// (e.g. ml entered as µg), and a typo here can kill.
    pub fn max_daily_dose_mg(self) -> f64 {
        match self {
            Medicine::MethadoneOralSolution1mgMl => 300.0,
            Medicine::BuprenorphineSublingual => 32.0,
            Medicine::BuprenorphineOralLyophilisate => 18.0,
        }
    }
}

impl fmt::Display for Medicine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Medicine {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|m| m.as_str()).collect();
                format!(
                    "unknown medicine {s:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// A daily dose, stored as whole micrograms so equality and storage are exact.
///
/// Only [`DoseMg::parse_mg`] and [`DoseMg::from_micrograms`] build one, so a zero, negative or
/// non-finite dose cannot exist past the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DoseMg(u32);

impl DoseMg {
    /// Parses a dose in mg for `medicine`: finite, more than 0, no more than the medicine's
    /// plausible maximum, and a multiple of 0.1 mg (what a pharmacy can measure).
    pub fn parse_mg(mg: f64, medicine: Medicine) -> Result<DoseMg, String> {
        if !mg.is_finite() {
            return Err("must be a finite number of mg".into());
        }
        if mg <= 0.0 {
            return Err("must be more than 0 mg".into());
        }
        let max = medicine.max_daily_dose_mg();
        if mg > max {
            return Err(format!(
                "{mg} mg is more than the largest plausible daily dose of {} ({max} mg)",
                medicine.display_name()
            ));
        }
        let tenths = mg * 10.0;
        if (tenths - tenths.round()).abs() > 1e-6 {
            return Err("must be a multiple of 0.1 mg".into());
        }
        // A dose within the tolerance of zero (say 1e-9 mg) would be stored as 0 µg, a dose no
        // one can hand over and that storage refuses to read back.
        if tenths.round() < 1.0 {
            return Err("must be at least 0.1 mg".into());
        }
        // Bounded by the maximum above, so this cannot overflow.
        Ok(DoseMg(tenths.round() as u32 * 100))
    }

    /// Rebuilds a dose read back from storage; `None` if not positive or too large for a dose.
    pub fn from_micrograms(ug: i64) -> Option<DoseMg> {
        u32::try_from(ug).ok().filter(|&ug| ug > 0).map(DoseMg)
    }

    /// The exact value for storage.
    pub fn micrograms(self) -> i64 {
        i64::from(self.0)
    }

    /// The dose in mg, as shown to people and sent in JSON.
    pub fn as_mg(self) -> f64 {
        f64::from(self.0) / 1000.0
    }
}

impl fmt::Display for DoseMg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} mg", self.as_mg())
    }
}

impl Serialize for DoseMg {
    /// As a plain number of mg, matching `daily_dose_mg` in requests.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.as_mg())
    }
}

impl<'de> serde::Deserialize<'de> for DoseMg {
    /// From a number of mg, as the server sends it to pharmacies. Only the representation is
    /// checked (positive, finite, whole micrograms): plausibility for a medicine is
    /// [`DoseMg::parse_mg`]'s job at the API edge, and the server's messages are authenticated.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mg = f64::deserialize(deserializer)?;
        let ug = (mg * 1000.0).round();
        if !mg.is_finite() || (mg * 1000.0 - ug).abs() > 1e-6 {
            return Err(serde::de::Error::custom(
                "a dose must be a whole number of micrograms",
            ));
        }
        DoseMg::from_micrograms(ug as i64)
            .ok_or_else(|| serde::de::Error::custom("a dose must be more than 0 mg"))
    }
}

impl utoipa::PartialSchema for DoseMg {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Number)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Double)))
            .description(Some("A dose in mg, a multiple of 0.1"))
            .into()
    }
}

impl utoipa::ToSchema for DoseMg {}

#[cfg(test)]
mod tests {
    use super::*;

    const METHADONE: Medicine = Medicine::MethadoneOralSolution1mgMl;

    #[test]
    fn a_plausible_dose_is_stored_exactly() {
        let dose = DoseMg::parse_mg(60.1, METHADONE).unwrap();
        assert_eq!(dose.micrograms(), 60_100);
        assert_eq!(dose.as_mg(), 60.1);
        assert_eq!(DoseMg::from_micrograms(60_100), Some(dose));
    }

    #[test]
    fn zero_negative_nan_and_absurd_doses_are_rejected() {
        assert_eq!(
            DoseMg::parse_mg(0.0, METHADONE),
            Err("must be more than 0 mg".into())
        );
        assert_eq!(
            DoseMg::parse_mg(-5.0, METHADONE),
            Err("must be more than 0 mg".into())
        );
        assert!(DoseMg::parse_mg(f64::NAN, METHADONE).is_err());
        assert!(DoseMg::parse_mg(f64::INFINITY, METHADONE).is_err());
        assert_eq!(
            DoseMg::parse_mg(120_000.0, METHADONE),
            Err(
                "120000 mg is more than the largest plausible daily dose of \
                 Methadone 1 mg/ml oral solution (300 mg)"
                    .into()
            )
        );
        assert!(DoseMg::parse_mg(33.0, Medicine::BuprenorphineSublingual).is_err());
        assert!(DoseMg::parse_mg(18.0, Medicine::BuprenorphineOralLyophilisate).is_ok());
    }

    #[test]
    fn a_dose_that_would_round_to_zero_is_rejected() {
        // Found by schemathesis: 1e-9 mg passed every check and was stored as 0 µg.
        assert_eq!(
            DoseMg::parse_mg(1e-9, METHADONE),
            Err("must be at least 0.1 mg".into())
        );
        assert_eq!(DoseMg::parse_mg(0.1, METHADONE).unwrap().micrograms(), 100);
    }

    #[test]
    fn a_dose_finer_than_a_tenth_of_a_mg_is_rejected() {
        assert_eq!(
            DoseMg::parse_mg(60.05, METHADONE),
            Err("must be a multiple of 0.1 mg".into())
        );
    }

    #[test]
    fn stored_values_out_of_range_are_refused() {
        assert_eq!(DoseMg::from_micrograms(0), None);
        assert_eq!(DoseMg::from_micrograms(-1), None);
        assert_eq!(DoseMg::from_micrograms(i64::MAX), None);
    }

    #[test]
    fn every_medicine_has_a_display_name_in_words_not_its_api_name() {
        assert_eq!(
            Medicine::MethadoneOralSolution1mgMl.display_name(),
            "Methadone 1 mg/ml oral solution"
        );
        for m in Medicine::ALL {
            let name = m.display_name();
            assert!(!name.contains('_') && name != m.as_str(), "{name}");
            assert!(name.starts_with(char::is_uppercase), "{name}");
        }
    }

    #[test]
    fn medicine_parses_api_names_and_lists_them_on_error() {
        assert_eq!(
            "buprenorphine_sublingual".parse(),
            Ok(Medicine::BuprenorphineSublingual)
        );
        let err = "heroin".parse::<Medicine>().unwrap_err();
        assert!(err.contains("methadone_oral_solution_1mg_ml"), "{err}");
    }
}
