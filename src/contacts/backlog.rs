//! The queue between the view listeners and the background writer of derived rows. Commits add
//! rows without ever waiting (they run under the writer lock); the writer takes everything
//! queued at once; and the next write waits, before it takes the writer lock
//! (`store::WriteGate`), while more than the limit is queued or being written. A writer that
//! cannot keep up slows the commits down instead of holding their rows in memory without
//! bound. Nothing is dropped or reordered.

use crate::locks::MutexExt;
use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, MutexGuard},
};

use tokio::sync::Notify;

use super::state::Persist;

/// Rows (and log entries) queued or being written, beyond which writes wait.
pub const LIMIT: usize = 200_000;

/// What a queued item costs: one row, plus the entries it carries.
fn weight(item: &Persist) -> usize {
    1 + match item {
        Persist::ClassLog { entries, .. } => entries.len(),
        Persist::TransitionDiff { diff, .. } => diff.entries.len(),
        Persist::Compact { keep, .. } => keep.len(),
        _ => 0,
    }
}

/// The queue of derived rows.
pub struct Backlog {
    limit: usize,
    queue: Mutex<Queue>,
    /// Wakes the writer when rows arrive (or the queue closes).
    ready: Notify,
    /// Wakes waiting writes when the weight falls (or the queue closes).
    room: Notify,
}

#[derive(Default)]
struct Queue {
    items: Vec<Persist>,
    /// Of the queued items and of those taken but not yet written.
    weight: usize,
    closed: bool,
}

impl Backlog {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            queue: Mutex::new(Queue::default()),
            ready: Notify::new(),
            room: Notify::new(),
        }
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock_or_recover()
    }

    /// Queues one commit's rows (after `close`, they are dropped: the service is stopping).
    pub fn push(&self, rows: Vec<Persist>) {
        if rows.is_empty() {
            return;
        }
        let mut queue = self.queue();
        if queue.closed {
            return;
        }
        queue.weight += rows.iter().map(weight).sum::<usize>();
        queue.items.extend(rows);
        drop(queue);
        self.ready.notify_one();
    }

    /// Waits for rows and takes all of them, with their weight (to hand back to `written`);
    /// `None` once the queue is closed and empty.
    pub async fn take(&self) -> Option<(Vec<Persist>, usize)> {
        loop {
            {
                let mut queue = self.queue();
                if !queue.items.is_empty() {
                    let items = std::mem::take(&mut queue.items);
                    let weight = items.iter().map(weight).sum();
                    return Some((items, weight));
                }
                if queue.closed {
                    return None;
                }
            }
            // A push between the check and here leaves a permit: no wake-up is lost.
            self.ready.notified().await;
        }
    }

    /// Rows taken by `take` are on disk (or given up on): they no longer count.
    pub fn written(&self, weight: usize) {
        let mut queue = self.queue();
        queue.weight = queue.weight.saturating_sub(weight);
        drop(queue);
        self.room.notify_waiters();
    }

    /// No more rows: the writer finishes what is queued and stops; nobody waits any more.
    pub fn close(&self) {
        self.queue().closed = true;
        self.ready.notify_one();
        self.room.notify_waiters();
    }

    /// Rows queued or being written.
    pub fn weight(&self) -> usize {
        self.queue().weight
    }

    /// Resolves once the backlog is within its limit (at once when closed).
    pub async fn room(&self) {
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            // Registered before the check, so a `written` in between is not missed.
            notified.as_mut().enable();
            {
                let queue = self.queue();
                if queue.weight <= self.limit || queue.closed {
                    return;
                }
            }
            notified.await;
        }
    }
}

/// Closes the backlog when dropped (held by the background writer: if it ever stops, writes
/// stop waiting for it).
pub struct Closing(pub Arc<Backlog>);

impl Drop for Closing {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Writes wait for room in the backlog before they take the writer lock.
pub struct Gate(pub Arc<Backlog>);

impl crate::store::WriteGate for Gate {
    fn wait(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(self.0.room())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Version;

    #[tokio::test]
    async fn writes_wait_while_the_backlog_is_over_its_limit() {
        let backlog = Arc::new(Backlog::new(3));
        backlog.push(vec![
            Persist::Applied(Version(1)),
            Persist::Applied(Version(2)),
        ]);
        backlog.room().await;
        backlog.push(vec![
            Persist::Applied(Version(3)),
            Persist::Applied(Version(4)),
        ]);
        assert_eq!(backlog.weight(), 4);
        let waiting = tokio::spawn({
            let backlog = backlog.clone();
            async move { backlog.room().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "over the limit: writes wait");

        // Everything comes out at once and in order; it counts until written.
        let (items, weight) = backlog.take().await.expect("rows");
        let versions: Vec<i64> = items
            .iter()
            .map(|item| match item {
                Persist::Applied(v) => v.0,
                _ => 0,
            })
            .collect();
        assert_eq!(versions, vec![1, 2, 3, 4]);
        assert_eq!(backlog.weight(), 4);
        backlog.written(weight);
        waiting
            .await
            .expect("writes go on once the rows are written");

        backlog.push(vec![Persist::Applied(Version(5))]);
        backlog.close();
        let (_, weight) = backlog
            .take()
            .await
            .expect("what was queued is still written");
        backlog.written(weight);
        assert!(backlog.take().await.is_none());
        backlog.push(vec![Persist::Applied(Version(6))]);
        assert_eq!(backlog.weight(), 0, "nothing is queued after close");
    }
}
