//! Shared subscriptions (`$share/<group>/<filter>`): rmqtt parses them but, without its plugin,
//! delivers to no member. This picks one member per message, round-robin, preferring members
//! that are online, so several server connections can split the pharmacies' reports.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use rmqtt::context::ServerContext;
use rmqtt::subscribe::SharedSubscription;
use rmqtt::types::{
    ClientId, Id, IsOnline, NodeId, SharedGroup, SubscriptionIdentifier, SubscriptionOptions,
    TopicName,
};

/// Round-robin over a group's members; an offline member (a persistent session that is
/// disconnected) is chosen only when no member is online, so its queue still gets the message.
#[derive(Default)]
pub(crate) struct RoundRobin {
    next: AtomicUsize,
}

type Member = (
    NodeId,
    ClientId,
    SubscriptionOptions,
    Option<Vec<SubscriptionIdentifier>>,
    Option<IsOnline>,
);

#[async_trait]
impl SharedSubscription for RoundRobin {
    fn is_supported(&self) -> bool {
        true
    }

    async fn choice(
        &self,
        _scx: &ServerContext,
        _group: &SharedGroup,
        _publisher_id: &Id,
        _topic: &TopicName,
        members: &[Member],
    ) -> Option<(usize, IsOnline)> {
        pick(
            self.next.fetch_add(1, Ordering::Relaxed),
            members.iter().map(|m| m.4),
        )
    }
}

/// The member to deliver to, starting the search at `start`. Unknown status counts as online.
fn pick(
    start: usize,
    online: impl ExactSizeIterator<Item = Option<bool>>,
) -> Option<(usize, bool)> {
    let online: Vec<bool> = online.map(|o| o.unwrap_or(true)).collect();
    let n = online.len();
    if n == 0 {
        return None;
    }
    (0..n)
        .map(|k| (start + k) % n)
        .find(|&i| online[i])
        .map(|i| (i, true))
        .or(Some((start % n, false)))
}

#[cfg(test)]
mod tests {
    use super::pick;

    #[test]
    fn rotates_over_online_members_and_skips_offline_ones() {
        let members = [Some(true), Some(false), Some(true)];
        assert_eq!(pick(0, members.into_iter()), Some((0, true)));
        assert_eq!(pick(1, members.into_iter()), Some((2, true)));
        assert_eq!(pick(2, members.into_iter()), Some((2, true)));
        assert_eq!(pick(3, members.into_iter()), Some((0, true)));
    }

    #[test]
    fn falls_back_to_an_offline_member_and_handles_an_empty_group() {
        assert_eq!(
            pick(5, [Some(false), Some(false)].into_iter()),
            Some((1, false))
        );
        assert_eq!(pick(0, std::iter::empty()), None);
    }
}
