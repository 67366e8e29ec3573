//! Time for Wait states, retry back-off and timeouts: the [`Clock`] trait, the
//! real [`SystemClock`] and the virtual [`FakeClock`] for tests.

use futures::future::BoxFuture;
use jiff::Timestamp;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

/// A deadline passed before the future finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("deadline elapsed")]
pub struct Elapsed;

/// The source of time of an execution. Usable as `&dyn Clock` / `Arc<dyn Clock>`.
#[async_trait::async_trait]
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Timestamp;

    /// Wait for `duration`.
    async fn sleep(&self, duration: Duration);

    /// Run `fut` with a deadline; `Err(Elapsed)` when it took longer than
    /// `limit` on this clock. The future's output is `()` to keep the trait
    /// object-safe; use [`with_timeout`] to get a value back.
    async fn timeout<'a>(&self, limit: Duration, fut: BoxFuture<'a, ()>) -> Result<(), Elapsed>;
}

/// Run `fut` under `clock`'s deadline and return its output
/// (the typed form of [`Clock::timeout`]).
pub async fn with_timeout<T, F>(clock: &dyn Clock, limit: Duration, fut: F) -> Result<T, Elapsed>
where
    T: Send,
    F: Future<Output = T> + Send,
{
    let mut slot: Option<T> = None;
    {
        let slot_ref = &mut slot;
        clock
            .timeout(
                limit,
                Box::pin(async move {
                    *slot_ref = Some(fut.await);
                }),
            )
            .await?;
    }
    slot.ok_or(Elapsed)
}

/// Real time: [`Timestamp::now`] and `tokio::time` (needs a tokio runtime with time enabled).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[async_trait::async_trait]
impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }

    async fn timeout<'a>(&self, limit: Duration, fut: BoxFuture<'a, ()>) -> Result<(), Elapsed> {
        tokio::time::timeout(limit, fut).await.map_err(|_| Elapsed)
    }
}

#[derive(Debug)]
struct FakeState {
    now: Timestamp,
    sleeps: Vec<Duration>,
}

/// Virtual time for tests. `sleep` returns (almost) at once and moves the
/// clock forward; sleeps that start at the same virtual instant (concurrent
/// Map iterations, Parallel branches) overlap instead of adding up.
/// `timeout` runs the future to completion, then reports `Elapsed` when the
/// virtual clock moved more than `limit` meanwhile.
#[derive(Debug)]
pub struct FakeClock {
    state: Mutex<FakeState>,
}

impl FakeClock {
    /// A clock that reads `start`.
    pub fn new(start: Timestamp) -> FakeClock {
        FakeClock { state: Mutex::new(FakeState { now: start, sleeps: Vec::new() }) }
    }

    fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Move the clock forward by `duration`.
    pub fn advance(&self, duration: Duration) {
        let mut state = self.lock();
        state.now = state.now.saturating_add(duration).unwrap_or(state.now);
    }

    /// The current virtual time.
    pub fn now(&self) -> Timestamp {
        self.lock().now
    }

    /// Every duration passed to `sleep`, in call order (retry back-off, Wait states…).
    pub fn sleeps(&self) -> Vec<Duration> {
        self.lock().sleeps.clone()
    }
}

/// Yields once so that concurrent sleepers all register before any advances.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[async_trait::async_trait]
impl Clock for FakeClock {
    fn now(&self) -> Timestamp {
        FakeClock::now(self)
    }

    async fn sleep(&self, duration: Duration) {
        let target = {
            let mut state = self.lock();
            state.sleeps.push(duration);
            state.now.saturating_add(duration).unwrap_or(state.now)
        };
        YieldOnce(false).await;
        let mut state = self.lock();
        if target > state.now {
            state.now = target;
        }
    }

    async fn timeout<'a>(&self, limit: Duration, fut: BoxFuture<'a, ()>) -> Result<(), Elapsed> {
        let start = FakeClock::now(self);
        fut.await;
        let moved = FakeClock::now(self).duration_since(start);
        let limit = jiff::SignedDuration::try_from(limit).unwrap_or(jiff::SignedDuration::MAX);
        if moved > limit { Err(Elapsed) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fake_clock_sleeps_and_times_out() {
        let clock = FakeClock::new(Timestamp::UNIX_EPOCH);
        Clock::sleep(&clock, Duration::from_secs(5)).await;
        assert_eq!(clock.now(), Timestamp::from_second(5).unwrap());
        clock.advance(Duration::from_secs(1));
        assert_eq!(clock.now(), Timestamp::from_second(6).unwrap());
        let slow = with_timeout(&clock, Duration::from_secs(2), async {
            Clock::sleep(&clock, Duration::from_secs(3)).await;
            7
        });
        assert_eq!(slow.await, Err(Elapsed));
        let fast = with_timeout(&clock, Duration::from_secs(2), async {
            Clock::sleep(&clock, Duration::from_secs(1)).await;
            7
        });
        assert_eq!(fast.await, Ok(7));
        assert_eq!(clock.sleeps(), [5, 3, 1].map(Duration::from_secs));
    }

    #[tokio::test]
    async fn concurrent_fake_sleeps_overlap() {
        let clock = FakeClock::new(Timestamp::UNIX_EPOCH);
        futures::future::join(
            Clock::sleep(&clock, Duration::from_secs(4)),
            Clock::sleep(&clock, Duration::from_secs(3)),
        )
        .await;
        assert_eq!(clock.now(), Timestamp::from_second(4).unwrap());
    }

    #[tokio::test]
    async fn system_clock_timeout() {
        let clock = SystemClock;
        let r =
            with_timeout(&clock, Duration::from_millis(10), async { tokio::time::sleep(Duration::from_secs(5)).await })
                .await;
        assert_eq!(r, Err(Elapsed));
        let r = with_timeout(&clock, Duration::from_secs(5), async { 1 }).await;
        assert_eq!(r, Ok(1));
    }
}
