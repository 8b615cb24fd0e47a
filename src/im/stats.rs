//! Message counts for the portal's dashboard: messages people sent per day. `im_messages` has
//! no index on `ts`, and needs none for this: the single writer hands out `gid`s in commit
//! order with the clock, so the first message of a day is found by a binary search over the
//! primary key (a few dozen point lookups), and only the rows of the days asked for are read.

use sea_orm::{ConnectionTrait, Statement};

use super::{ImError, service::Im};

/// Messages sent on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCount {
    /// Days since the Unix epoch, in the caller's time zone.
    pub day: i64,
    pub messages: u64,
}

const DAY_MS: i64 = 86_400_000;

/// Kinds people send (recalls, edits and system lines are not messages of their own).
const SENT_KINDS: &str = "'text','image','file','voice','location','custom'";

impl Im {
    /// Messages sent on each of the last `days` days up to today (oldest first, days without
    /// messages included), with days cut at midnight `offset_ms` east of UTC.
    pub async fn messages_per_day(
        &self,
        days: u32,
        offset_ms: i64,
        now_ms: i64,
    ) -> Result<Vec<DayCount>, ImError> {
        let today = (now_ms + offset_ms).div_euclid(DAY_MS);
        let first_day = today - i64::from(days.max(1)) + 1;
        let since_ms = first_day * DAY_MS - offset_ms;
        let next_gid = self.state().next_gid;
        let from_gid = self.first_gid_at(since_ms, next_gid).await?;
        let backend = self.backend();
        let sql = format!(
            "SELECT (ts + {offset_ms}) / {DAY_MS} AS day, COUNT(*) AS n FROM im_messages \
             WHERE gid >= {from_gid} AND ts >= {since_ms} AND kind IN ({SENT_KINDS}) \
             GROUP BY (ts + {offset_ms}) / {DAY_MS}"
        );
        let rows = self
            .db()
            .query_all_raw(Statement::from_string(backend, sql))
            .await?;
        let mut counts: Vec<DayCount> = (first_day..=today)
            .map(|day| DayCount { day, messages: 0 })
            .collect();
        for row in rows {
            let day: i64 = row.try_get("", "day")?;
            let n: i64 = row.try_get("", "n")?;
            if let Some(slot) = counts.iter_mut().find(|c| c.day == day) {
                slot.messages = n.max(0) as u64;
            }
        }
        Ok(counts)
    }

    /// The smallest gid whose message is at or after `since_ms` (`next_gid` when none is).
    async fn first_gid_at(&self, since_ms: i64, next_gid: i64) -> Result<i64, ImError> {
        let (mut low, mut high) = (1_i64, next_gid);
        while low < high {
            let middle = low + (high - low) / 2;
            match self.first_at_or_after(middle).await? {
                // Nothing from `middle` on: the answer is below it.
                None => high = middle,
                Some((gid, ts)) if ts >= since_ms => high = middle.min(gid),
                Some((gid, _)) => low = gid + 1,
            }
        }
        Ok(low)
    }

    async fn first_at_or_after(&self, gid: i64) -> Result<Option<(i64, i64)>, ImError> {
        let backend = self.backend();
        let sql =
            format!("SELECT gid, ts FROM im_messages WHERE gid >= {gid} ORDER BY gid LIMIT 1");
        let row = self
            .db()
            .query_one_raw(Statement::from_string(backend, sql))
            .await?;
        Ok(match row {
            Some(row) => Some((row.try_get("", "gid")?, row.try_get("", "ts")?)),
            None => None,
        })
    }
}
