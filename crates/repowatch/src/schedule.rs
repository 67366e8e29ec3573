//! The daily reconcile of `repowatch serve`: a five-field cron expression in
//! the configured IANA time zone (the same one SAM's ScheduleV2 gets), and a
//! catch-up run when the machine was off at the scheduled time.
//!
//! Occurrences are found by walking whole minutes in absolute time and
//! matching each minute's civil time in the zone: a wall-clock time skipped
//! by a DST change never fires, one repeated by it fires twice.

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// How far ahead (and back) occurrences are searched: a year and a day.
const HORIZON_MINUTES: i64 = 366 * 24 * 60 + 24 * 60;

pub struct Schedule {
    cron: Cron,
    tz: TimeZone,
}

impl Schedule {
    /// `expr` was checked when the configuration loaded; this fails only on a bug.
    pub fn new(expr: &str, tz: TimeZone) -> Result<Self, String> {
        let parser = CronParser::builder().seconds(Seconds::Disallowed).year(Year::Disallowed).build();
        let cron = parser.parse(expr).map_err(|e| format!("{expr:?}: {e}"))?;
        Ok(Self { cron, tz })
    }

    fn matches(&self, t: Timestamp) -> bool {
        let civil = t.to_zoned(self.tz.clone()).datetime();
        let Some(date) =
            chrono::NaiveDate::from_ymd_opt(i32::from(civil.year()), civil.month() as u32, civil.day() as u32)
        else {
            return false;
        };
        let Some(naive) = date.and_hms_opt(civil.hour() as u32, civil.minute() as u32, 0) else { return false };
        self.cron.is_time_matching(&naive.and_utc()).unwrap_or(false)
    }

    /// The first occurrence strictly after `t`.
    pub fn next_after(&self, t: Timestamp) -> Option<Timestamp> {
        let start = floor_minute(t);
        (1..=HORIZON_MINUTES).map(|m| start + SignedDuration::from_mins(m)).find(|&c| self.matches(c))
    }

    /// The latest occurrence at or before `t`.
    pub fn last_at_or_before(&self, t: Timestamp) -> Option<Timestamp> {
        let start = floor_minute(t);
        (0..=HORIZON_MINUTES).map(|m| start - SignedDuration::from_mins(m)).find(|&c| self.matches(c))
    }
}

fn floor_minute(t: Timestamp) -> Timestamp {
    let s = t.as_second();
    Timestamp::from_second(s - s.rem_euclid(60)).unwrap_or(t)
}

/// What to do at start-up, given the last occurrence that was run.
#[derive(Debug, PartialEq, Eq)]
pub enum StartUp {
    /// First start: nothing was missed; remember this occurrence as the baseline.
    Baseline(Timestamp),
    /// The run at this occurrence was missed (the machine was off): run now.
    CatchUp(Timestamp),
    /// Nothing missed.
    UpToDate,
}

pub fn on_start(schedule: &Schedule, now: Timestamp, last_run: Option<Timestamp>) -> StartUp {
    match (schedule.last_at_or_before(now), last_run) {
        (None, _) => StartUp::UpToDate,
        (Some(due), None) => StartUp::Baseline(due),
        (Some(due), Some(last)) if last < due => StartUp::CatchUp(due),
        _ => StartUp::UpToDate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokyo() -> TimeZone {
        TimeZone::get("Asia/Tokyo").unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn daily_at_17_tokyo_is_08_utc() {
        let s = Schedule::new("0 17 * * *", tokyo()).unwrap();
        assert_eq!(s.next_after(ts("2026-11-24T07:59:30Z")), Some(ts("2026-11-24T08:00:00Z")));
        assert_eq!(s.next_after(ts("2026-11-24T08:00:00Z")), Some(ts("2026-11-25T08:00:00Z")));
        assert_eq!(s.last_at_or_before(ts("2026-11-24T08:00:00Z")), Some(ts("2026-11-24T08:00:00Z")));
        assert_eq!(s.last_at_or_before(ts("2026-11-24T07:59:59Z")), Some(ts("2026-11-23T08:00:00Z")));
    }

    #[test]
    fn a_dst_zone_keeps_wall_clock_time() {
        // New York: 17:00 is 22:00 UTC in winter, 21:00 UTC in summer.
        let s = Schedule::new("0 17 * * 1-5", TimeZone::get("America/New_York").unwrap()).unwrap();
        assert_eq!(s.next_after(ts("2026-01-05T12:00:00Z")), Some(ts("2026-01-05T22:00:00Z")));
        assert_eq!(s.next_after(ts("2026-07-06T12:00:00Z")), Some(ts("2026-07-06T21:00:00Z")));
        // Friday evening → Monday.
        assert_eq!(s.next_after(ts("2026-07-10T21:00:00Z")), Some(ts("2026-07-13T21:00:00Z")));
    }

    #[test]
    fn start_up_catches_up_a_missed_run_once() {
        let s = Schedule::new("0 17 * * *", tokyo()).unwrap();
        let now = ts("2026-11-24T10:00:00Z"); // 19:00 in Tokyo, two hours after the run
        let due = ts("2026-11-24T08:00:00Z");
        assert_eq!(on_start(&s, now, None), StartUp::Baseline(due));
        assert_eq!(on_start(&s, now, Some(ts("2026-11-23T08:00:00Z"))), StartUp::CatchUp(due));
        // Off for a week: one catch-up run, not seven.
        assert_eq!(on_start(&s, now, Some(ts("2026-11-17T08:00:00Z"))), StartUp::CatchUp(due));
        assert_eq!(on_start(&s, now, Some(due)), StartUp::UpToDate);
    }
}
