//! Topic names. One place builds and parses them so server, client and broker ACL agree.

/// Prefix of every Sotto topic.
pub const TOPIC_ROOT: &str = "sotto/v1";

/// The MQTT client id a pharmacy connects with. The embedded broker insists on it, so no client
/// can take over another's (or the server's) persistent session.
pub fn pharmacy_client_id(pharmacy_id: &str) -> String {
    format!("pharmacy/{pharmacy_id}")
}

/// Server → pharmacy state topic.
pub fn state_topic(pharmacy_id: &str) -> String {
    format!("{TOPIC_ROOT}/pharmacy/{pharmacy_id}/state")
}

/// Pharmacy → server reports topic.
pub fn reports_topic(pharmacy_id: &str) -> String {
    format!("{TOPIC_ROOT}/pharmacy/{pharmacy_id}/reports")
}

/// What the server subscribes to: every pharmacy's reports.
pub const REPORTS_FILTER: &str = "sotto/v1/pharmacy/+/reports";

/// The pharmacy id in a reports topic, if `topic` is one.
pub fn pharmacy_of_reports_topic(topic: &str) -> Option<&str> {
    let rest = topic.strip_prefix("sotto/v1/pharmacy/")?;
    let id = rest.strip_suffix("/reports")?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

/// The pharmacy id in a state topic, if `topic` is one.
pub fn pharmacy_of_state_topic(topic: &str) -> Option<&str> {
    let rest = topic.strip_prefix("sotto/v1/pharmacy/")?;
    let id = rest.strip_suffix("/state")?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_round_trip() {
        assert_eq!(pharmacy_of_reports_topic(&reports_topic("p1")), Some("p1"));
        assert_eq!(pharmacy_of_state_topic(&state_topic("p1")), Some("p1"));
        assert_eq!(pharmacy_of_reports_topic(&state_topic("p1")), None);
        assert_eq!(
            pharmacy_of_reports_topic("sotto/v1/pharmacy/a/b/reports"),
            None
        );
        assert_eq!(
            pharmacy_of_reports_topic("sotto/v1/pharmacy//reports"),
            None
        );
    }
}
