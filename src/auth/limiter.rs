//! Throttles password guessing: after too many failures for one login within a window, further
//! attempts for that login are refused until the window has passed.

use crate::locks::MutexExt;
use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

pub struct FailedLogins {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl FailedLogins {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, Instant)>> {
        self.failures.lock_or_recover()
    }

    /// How long `login` must still wait, if it is blocked.
    pub fn blocked_for(&self, login: &str) -> Option<Duration> {
        let map = self.map();
        let (count, since) = map.get(login)?;
        let elapsed = since.elapsed();
        (*count >= self.max_failures && elapsed < self.window).then(|| self.window - elapsed)
    }

    pub fn failed(&self, login: &str) {
        let mut map = self.map();
        // Bound memory under a spray of random logins: forget stale entries first.
        if map.len() > 100_000 {
            let window = self.window;
            map.retain(|_, (_, since)| since.elapsed() < window);
        }
        let entry = map.entry(login.to_owned()).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    pub fn succeeded(&self, login: &str) {
        self.map().remove(login);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_and_forgets_on_success() {
        let limiter = FailedLogins::new(3, Duration::from_secs(60));
        for _ in 0..2 {
            limiter.failed("bob");
        }
        assert!(limiter.blocked_for("bob").is_none());
        limiter.failed("bob");
        assert!(limiter.blocked_for("bob").is_some());
        assert!(limiter.blocked_for("alice").is_none());
        limiter.succeeded("bob");
        assert!(limiter.blocked_for("bob").is_none());
    }
}
