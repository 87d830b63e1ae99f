//! Slows down token guessing: after too many failed authentications from one address within a
//! minute, further attempts get 429 until the minute is over. Tokens are 256-bit, so this is
//! about noise and log flooding more than brute force; it is small enough to keep by hand
//! (a general rate-limiting crate would count every request, not failures).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct AuthLimiter {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl AuthLimiter {
    pub fn new(max_failures: u32, window: Duration) -> AuthLimiter {
        AuthLimiter {
            max_failures,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(seconds to wait)` while `ip` is blocked.
    pub fn blocked(&self, ip: IpAddr) -> Option<u64> {
        let map = self.failures.lock().expect("limiter lock");
        let (count, since) = map.get(&ip)?;
        let elapsed = since.elapsed();
        (*count >= self.max_failures && elapsed < self.window)
            .then(|| (self.window - elapsed).as_secs().max(1))
    }

    pub fn record_failure(&self, ip: IpAddr) {
        let mut map = self.failures.lock().expect("limiter lock");
        // Bound memory under a spray of addresses: forget windows that are over.
        if map.len() > 10_000 {
            let window = self.window;
            map.retain(|_, (_, since)| since.elapsed() < window);
        }
        let entry = map.entry(ip).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_blocked_after_too_many_failures_and_others_are_not() {
        let limiter = AuthLimiter::new(3, Duration::from_secs(60));
        let ip: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..3 {
            assert!(limiter.blocked(ip).is_none());
            limiter.record_failure(ip);
        }
        assert!(limiter.blocked(ip).is_some());
        assert!(limiter.blocked([10, 0, 0, 2].into()).is_none());
    }

    #[test]
    fn the_block_ends_with_the_window() {
        let limiter = AuthLimiter::new(1, Duration::from_millis(20));
        let ip: IpAddr = [10, 0, 0, 1].into();
        limiter.record_failure(ip);
        assert!(limiter.blocked(ip).is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(limiter.blocked(ip).is_none());
    }
}
