//! DynamoDB as `jobgen dev`'s handlers can see it on a bad day: a seeded share of their calls fail,
//! half before the request leaves (throttled past the SDK's retries: nothing was written) and half
//! after it was sent (the connection dropped with the answer: the write may have been applied, and
//! the handler cannot know). To the handler both are an error it returns, so its invocation fails
//! and is retried the way Lambda and EventBridge retry it; the second kind is also what a handler
//! killed between two of its calls leaves behind. The fault harness turns it on to check that no
//! such failure launches a job twice, leaks a slot or loses a job.
//!
//! It is an SDK interceptor on the handlers' DynamoDB client only: the simulator's and the tests'
//! own reads go to the emulator undisturbed.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use jobgen_runtime::contract;

/// A seeded share of calls: each call, numbered in the order calls arrive, draws whether it is
/// one of the share (`jobgen dev`'s refused RunTask calls and failed DynamoDB calls).
#[derive(Debug, Default)]
pub struct SeededShare {
    share_bits: AtomicU64,
    seed: AtomicU64,
    calls: AtomicU64,
}

impl SeededShare {
    /// `share` (0 to 1) of the calls from now on, drawn from `seed`.
    pub fn set(&self, share: f64, seed: u64) {
        self.share_bits.store(share.clamp(0.0, 1.0).to_bits(), Ordering::SeqCst);
        self.seed.store(seed, Ordering::SeqCst);
    }

    /// Calls drawn so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Draws the next call, under `label` (so two shares with one seed draw apart): its number and
    /// its draw when it is one of the share, else `None`.
    pub fn draw(&self, label: &str) -> Option<(u64, u64)> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let share = f64::from_bits(self.share_bits.load(Ordering::SeqCst));
        if share <= 0.0 {
            return None;
        }
        let seed = self.seed.load(Ordering::SeqCst);
        let draw =
            contract::jitter_seed(&format!("{label}-{seed}"), u32::try_from(n % u64::from(u32::MAX)).unwrap_or(0));
        let fraction = (draw >> 11) as f64 / (1u64 << 53) as f64;
        (fraction < share).then_some((n, draw))
    }
}

/// The share of the handlers' DynamoDB calls to fail, and how many failed each way.
#[derive(Debug, Default)]
pub struct DynamoFaults {
    share: SeededShare,
    before: AtomicU64,
    after: AtomicU64,
}

/// Where a call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// Before it was sent: nothing was written.
    Before,
    /// After it was sent: it may have been applied.
    After,
}

impl DynamoFaults {
    /// Fail `share` (0 to 1) of the calls from now on, drawn from `seed`.
    pub fn set_share(&self, share: f64, seed: u64) {
        self.share.set(share, seed);
    }

    /// Calls made, failed before they were sent, and failed after.
    pub fn counts(&self) -> (u64, u64, u64) {
        (self.share.calls(), self.before.load(Ordering::SeqCst), self.after.load(Ordering::SeqCst))
    }

    /// Draws this call's fate: `None` (it goes through), or where it fails.
    fn draw(&self) -> Option<Failure> {
        let (_, draw) = self.share.draw("dev-dynamo")?;
        // A bit below the ones the share is drawn from splits the failures between the two kinds.
        Some(if draw & (1 << 10) == 0 {
            self.before.fetch_add(1, Ordering::SeqCst);
            Failure::Before
        } else {
            self.after.fetch_add(1, Ordering::SeqCst);
            Failure::After
        })
    }
}

/// The interceptor: decides each call's fate before it is sent and fails it at that point.
#[derive(Debug)]
pub struct FaultInterceptor {
    faults: std::sync::Arc<DynamoFaults>,
}

impl FaultInterceptor {
    /// An interceptor failing calls as `faults` says.
    pub fn new(faults: std::sync::Arc<DynamoFaults>) -> FaultInterceptor {
        FaultInterceptor { faults }
    }
}

/// This call's fate, kept in its config bag between the two hooks.
#[derive(Debug, Clone, Copy)]
struct Fate(Option<Failure>);

impl aws_smithy_types::config_bag::Storable for Fate {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Fate>;
}

impl Intercept for FaultInterceptor {
    fn name(&self) -> &'static str {
        "jobgen-dev-dynamodb-faults"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let fate = self.faults.draw();
        cfg.interceptor_state().store_put(Fate(fate));
        match fate {
            Some(Failure::Before) => {
                Err("ProvisionedThroughputExceededException: throttled (simulated by jobgen dev; nothing was written)"
                    .into())
            }
            _ => Ok(()),
        }
    }

    fn read_after_transmit(
        &self,
        _context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        match cfg.load::<Fate>() {
            Some(Fate(Some(Failure::After))) => {
                Err("connection reset after the request was sent (simulated by jobgen dev; it may have been applied)"
                    .into())
            }
            _ => Ok(()),
        }
    }
}
