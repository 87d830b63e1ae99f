//! The ordering rules of the state stream (protocol crate docs, TECH.md "Lossless sync"):
//! given the last applied `seq` and a message, what to do. Pure, so every case is unit-tested.

use sotto_protocol::ServerBody;

/// What a server message means for the local store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A delta with `seq == last + 1`: apply it.
    ApplyDelta,
    /// A snapshot at or after what we hold: replace everything.
    ReplaceAll,
    /// A delta we already applied (redelivery or replay): ignore.
    Duplicate,
    /// A snapshot older than what we hold (a late answer to an earlier request): ignore.
    OlderSnapshot,
    /// The server is ahead of us by more than this message: something was lost; resync.
    Gap,
    /// We have never had a snapshot, so deltas and heartbeats can't be placed: resync.
    AwaitingSnapshot,
    /// Contact only (a heartbeat in step, a report ack).
    Contact,
}

impl Decision {
    /// Decides for `body` when the last applied seq is `last` (`None`: no snapshot yet).
    pub fn of(last: Option<u64>, body: &ServerBody) -> Decision {
        match (body, last) {
            (ServerBody::ReportAck { .. }, _) => Decision::Contact,
            (ServerBody::Snapshot { .. }, None) => Decision::ReplaceAll,
            (ServerBody::Snapshot { seq, .. }, Some(last)) if *seq >= last => Decision::ReplaceAll,
            (ServerBody::Snapshot { .. }, Some(_)) => Decision::OlderSnapshot,
            (ServerBody::Delta { .. } | ServerBody::Heartbeat { .. }, None) => {
                Decision::AwaitingSnapshot
            }
            (ServerBody::Delta { seq, .. }, Some(last)) if *seq <= last => Decision::Duplicate,
            (ServerBody::Delta { seq, .. }, Some(last)) if *seq == last + 1 => Decision::ApplyDelta,
            (ServerBody::Delta { .. }, Some(_)) => Decision::Gap,
            (ServerBody::Heartbeat { seq }, Some(last)) if *seq > last => Decision::Gap,
            (ServerBody::Heartbeat { .. }, Some(_)) => Decision::Contact,
        }
    }

    /// Whether our data is known to be behind the server after this message: then we must
    /// ask for a snapshot.
    pub fn needs_resync(self) -> bool {
        matches!(self, Decision::Gap | Decision::AwaitingSnapshot)
    }

    /// Whether this message confirms our data is current, refreshing `synced_at`. A message
    /// that shows we are behind must not make stale data look confirmed.
    pub fn confirms_current(self) -> bool {
        !self.needs_resync()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_protocol::{Change, ServerBody};

    fn delta(seq: u64) -> ServerBody {
        ServerBody::Delta {
            seq,
            change: Change::PersonRemoved {
                service_user_id: "x".into(),
            },
        }
    }

    fn snapshot(seq: u64) -> ServerBody {
        ServerBody::Snapshot {
            seq,
            pharmacy: sotto_protocol::PharmacyInfo {
                id: "p".into(),
                ods_code: "F1".into(),
                name: "P".into(),
                closed_weekdays: vec![],
                closing_time: "18:00".into(),
                timezone: "Europe/London".into(),
                closures: vec![],
                service_phone: None,
                opening_hours: None,
            },
            people: vec![],
        }
    }

    #[test]
    fn deltas_apply_only_in_sequence() {
        assert_eq!(Decision::of(Some(4), &delta(5)), Decision::ApplyDelta);
        assert_eq!(Decision::of(Some(4), &delta(4)), Decision::Duplicate);
        assert_eq!(Decision::of(Some(4), &delta(1)), Decision::Duplicate);
        assert_eq!(Decision::of(Some(4), &delta(6)), Decision::Gap);
        assert_eq!(Decision::of(None, &delta(1)), Decision::AwaitingSnapshot);
    }

    #[test]
    fn snapshots_replace_unless_older() {
        assert_eq!(Decision::of(None, &snapshot(9)), Decision::ReplaceAll);
        assert_eq!(Decision::of(Some(9), &snapshot(9)), Decision::ReplaceAll);
        assert_eq!(Decision::of(Some(9), &snapshot(12)), Decision::ReplaceAll);
        assert_eq!(Decision::of(Some(9), &snapshot(8)), Decision::OlderSnapshot);
    }

    #[test]
    fn heartbeats_reveal_a_lost_last_delta() {
        let beat = |seq| ServerBody::Heartbeat { seq };
        assert_eq!(Decision::of(Some(3), &beat(3)), Decision::Contact);
        assert_eq!(Decision::of(Some(3), &beat(2)), Decision::Contact);
        assert_eq!(Decision::of(Some(3), &beat(4)), Decision::Gap);
        assert_eq!(Decision::of(None, &beat(4)), Decision::AwaitingSnapshot);
        assert!(!Decision::Gap.confirms_current());
        assert!(Decision::Duplicate.confirms_current());
    }
}
