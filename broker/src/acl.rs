//! Topic and client-id rules: who may subscribe or publish where. Pure functions, no I/O, so the
//! whole policy is readable (and unit-tested) in one place; `hooks.rs` only wires them to rmqtt.
//!
//! Topic names mirror `sotto-protocol` (`sotto/v1/pharmacy/{id}/state|reports`); they are
//! restated here so the broker crate stays self-contained.

use crate::Identity;

/// Every Sotto topic lives under this prefix; the server may use anything below it.
const ROOT: &str = "sotto/v1/";

/// Pharmacy client ids must start with this, followed by the pharmacy id (see [`client_id_allowed`]).
const PHARMACY_CLIENT_PREFIX: &str = "pharmacy/";

/// The client id a pharmacy should connect with. A pharmacy with several devices may append
/// `/<anything>` to keep their sessions apart.
pub fn pharmacy_client_id(pharmacy_id: &str) -> String {
    format!("{PHARMACY_CLIENT_PREFIX}{pharmacy_id}")
}

fn state_topic(pharmacy_id: &str) -> String {
    format!("{ROOT}pharmacy/{pharmacy_id}/state")
}

fn reports_topic(pharmacy_id: &str) -> String {
    format!("{ROOT}pharmacy/{pharmacy_id}/reports")
}

/// A pharmacy id is spliced into topics and client ids, so it must not be able to change their
/// structure: no level separator, no wildcards, no NUL, not empty.
pub fn valid_pharmacy_id(pharmacy_id: &str) -> bool {
    !pharmacy_id.is_empty() && !pharmacy_id.contains(['/', '+', '#', '\0'])
}

/// May `identity` subscribe to `filter`? `filter` is the filter as parsed by the broker, i.e.
/// with any `$share/<group>/` prefix already removed.
pub fn may_subscribe(identity: &Identity, filter: &str) -> bool {
    match identity {
        Identity::Server => under_root(filter),
        // Exact match only: a wildcard would also match other pharmacies' topics.
        Identity::Pharmacy { pharmacy_id } => {
            valid_pharmacy_id(pharmacy_id) && filter == state_topic(pharmacy_id)
        }
    }
}

/// May `identity` publish to `topic` (a topic name; the broker rejects wildcards in names)?
pub fn may_publish(identity: &Identity, topic: &str) -> bool {
    match identity {
        Identity::Server => under_root(topic),
        Identity::Pharmacy { pharmacy_id } => {
            valid_pharmacy_id(pharmacy_id) && topic == reports_topic(pharmacy_id)
        }
    }
}

/// May `identity` use `client_id`? rmqtt keys sessions by client id alone, and a persistent
/// session keeps its subscriptions across reconnects without re-checking them. Without this
/// rule pharmacy A could connect with pharmacy B's (or the server's) client id, take over that
/// session and inherit its subscriptions. So a pharmacy's client id must be
/// `pharmacy/<its id>` or `pharmacy/<its id>/<suffix>`, and nobody else may use that namespace.
pub fn client_id_allowed(identity: &Identity, client_id: &str) -> bool {
    match identity {
        Identity::Server => !client_id.starts_with(PHARMACY_CLIENT_PREFIX),
        Identity::Pharmacy { pharmacy_id } => {
            let own = pharmacy_client_id(pharmacy_id);
            valid_pharmacy_id(pharmacy_id)
                && client_id
                    .strip_prefix(own.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        }
    }
}

/// `sotto/v1/` followed by at least one character: `sotto/v1/#` and `sotto/v1/+/x` qualify,
/// `#`, `+/v1/x` and `sotto/#` do not (they reach beyond our namespace).
fn under_root(topic: &str) -> bool {
    topic.len() > ROOT.len() && topic.starts_with(ROOT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pharmacy(id: &str) -> Identity {
        Identity::Pharmacy {
            pharmacy_id: id.to_owned(),
        }
    }

    #[test]
    fn a_pharmacy_may_subscribe_only_to_its_own_state_topic() {
        let p = pharmacy("p1");
        assert!(may_subscribe(&p, "sotto/v1/pharmacy/p1/state"));
        for denied in [
            "sotto/v1/pharmacy/p2/state",
            "sotto/v1/pharmacy/+/state",
            "sotto/v1/pharmacy/p1/+",
            "sotto/v1/pharmacy/p1/#",
            "sotto/v1/pharmacy/p1/reports",
            "sotto/v1/#",
            "#",
            "+/+/+/+/+",
        ] {
            assert!(!may_subscribe(&p, denied), "{denied}");
        }
    }

    #[test]
    fn a_pharmacy_may_publish_only_to_its_own_reports_topic() {
        let p = pharmacy("p1");
        assert!(may_publish(&p, "sotto/v1/pharmacy/p1/reports"));
        for denied in [
            "sotto/v1/pharmacy/p2/reports",
            "sotto/v1/pharmacy/p1/state",
            "sotto/v1/pharmacy/p1/reports/x",
            "other",
        ] {
            assert!(!may_publish(&p, denied), "{denied}");
        }
    }

    #[test]
    fn the_server_may_use_anything_under_the_root_and_nothing_else() {
        let s = Identity::Server;
        for allowed in [
            "sotto/v1/#",
            "sotto/v1/pharmacy/+/reports",
            "sotto/v1/pharmacy/p1/state",
        ] {
            assert!(may_subscribe(&s, allowed), "{allowed}");
        }
        for denied in [
            "#",
            "+/v1/pharmacy/p1/state",
            "sotto/#",
            "sotto/v1",
            "sotto/v1/",
            "$SYS/#",
        ] {
            assert!(!may_subscribe(&s, denied), "{denied}");
        }
        assert!(may_publish(&s, "sotto/v1/pharmacy/p1/state"));
        assert!(!may_publish(&s, "elsewhere/x"));
    }

    #[test]
    fn an_invalid_pharmacy_id_grants_nothing() {
        // "+" would turn the exact state topic into a wildcard over every pharmacy.
        for bad in ["", "+", "#", "a/b", "a\0"] {
            let p = pharmacy(bad);
            assert!(!valid_pharmacy_id(bad));
            assert!(!may_subscribe(
                &p,
                &format!("sotto/v1/pharmacy/{bad}/state")
            ));
            assert!(!may_publish(
                &p,
                &format!("sotto/v1/pharmacy/{bad}/reports")
            ));
            assert!(!client_id_allowed(&p, &pharmacy_client_id(bad)));
        }
    }

    #[test]
    fn client_ids_are_bound_to_the_identity() {
        let p = pharmacy("p1");
        assert!(client_id_allowed(&p, "pharmacy/p1"));
        assert!(client_id_allowed(&p, "pharmacy/p1/till-2"));
        assert!(!client_id_allowed(&p, "pharmacy/p10"));
        assert!(!client_id_allowed(&p, "pharmacy/p2"));
        assert!(!client_id_allowed(&p, "sotto-server-1"));
        assert!(!client_id_allowed(&p, ""));
        assert!(client_id_allowed(&Identity::Server, "sotto-server-1"));
        assert!(!client_id_allowed(&Identity::Server, "pharmacy/p1"));
    }
}
