//! What happens at the counter, as the pharmacies report it: supplies and withheld instalments
//! (dispense history), missed doses, closed days — and the consecutive-missed-days safety rule.

pub mod alerts;
pub mod history;
pub mod ingest;
pub mod late_closure;
pub mod ledger;
pub mod missed;
pub mod schedulers;
