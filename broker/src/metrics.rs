//! What the broker counts about itself, for `caplet serve --metrics`:
//! invocations, loads and capability calls by outcome, their latencies,
//! limit trips by kind, store operations, live workers, and the busiest
//! principals, rendered as Prometheus text by [`Metrics::render`].
//!
//! The hot path only bumps `Cell`s: the broker runs on one thread, so a
//! count costs an add, with no lock and no atomic. Every label takes its
//! value from a fixed list (an unknown outcome counts as `other`), except
//! `principal`, whose series are bounded by [`TopN`]. The Prometheus text
//! itself is built only when scraped, from a snapshot, with the
//! `prometheus-client` crate.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::{Duration, Instant};

use prometheus_client::encoding::{EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The `outcome` label's values: `ok`, the `InvokeError.Kind`s (snake
/// case), and the kinds broker, store and gateway errors start with.
/// Anything else is `other`.
pub const OUTCOMES: &[&str] = &[
    "ok",
    // InvokeError.Kind
    "exception",
    "entrypoint_not_found",
    "output_not_serializable",
    "bad_input",
    "never_settled",
    "cpu_limit_exceeded",
    "memory_limit_exceeded",
    "wall_time_exceeded",
    "stack_overflow",
    "output_too_large",
    "internal",
    "subrequest_limit_exceeded",
    "calls_in_flight_exceeded",
    "timer_limit_exceeded",
    // Cap'n Proto exception types
    "failed",
    "overloaded",
    "disconnected",
    "unimplemented",
    // Kinds of broker, grant, store and gateway errors
    "bad_code",
    "bad_grant",
    "bad_request",
    "budget_exhausted",
    "id_conflict",
    "limit_too_high",
    "module_too_large",
    "no_host",
    "quota_exceeded",
    "revoked",
    "schema_error",
    "too_large",
    "unavailable",
    "not_found",
    "exists",
    "not_a_directory",
    "is_a_directory",
    "not_empty",
    "bad_path",
    "read_only",
    "too_many",
    "bad_key",
    "bad_cursor",
    "bad_name",
    "storage",
    "denied",
    "timeout",
    "connect_failed",
    "resolve_failed",
    "upstream_error",
    "method_not_allowed",
    // Kinds of load errors on the host
    "syntax_error",
    "module_not_found",
    "module_evaluation_failed",
    "other",
];

const OTHER: usize = OUTCOMES.len() - 1;

/// The `InvokeError.Kind`s that are a limit tripping, counted again in
/// `caplet_limit_trips_total{kind}`; broker quotas trip as `quota_exceeded`.
const LIMIT_KINDS: &[&str] = &[
    "cpu_limit_exceeded",
    "memory_limit_exceeded",
    "wall_time_exceeded",
    "stack_overflow",
    "output_too_large",
    "subrequest_limit_exceeded",
    "calls_in_flight_exceeded",
    "timer_limit_exceeded",
    "quota_exceeded",
    "budget_exhausted",
];

/// The `op` label of `caplet_store_operations_total`: the methods of the
/// `fs` built-in's `Volume` and the `kv` built-in's `Store`.
const FS_OPS: &[(&str, &str)] = &[
    ("read", "fs.read"),
    ("write", "fs.write"),
    ("append", "fs.append"),
    ("list", "fs.list"),
    ("stat", "fs.stat"),
    ("mkdir", "fs.mkdir"),
    ("remove", "fs.remove"),
    ("rename", "fs.rename"),
    ("glob", "fs.glob"),
    ("batch", "fs.batch"),
    ("usage", "fs.usage"),
];
const KV_OPS: &[(&str, &str)] = &[
    ("get", "kv.get"),
    ("put", "kv.put"),
    ("delete", "kv.delete"),
    ("list", "kv.list"),
    ("putMany", "kv.putMany"),
];

/// The store operation a call of `method` on `interface_id` is, if that is
/// the built-in `fs` or `kv` interface.
pub fn store_op(interface_id: u64, method: &str) -> Option<&'static str> {
    use capnp::traits::HasTypeId;
    let ops = if interface_id == caplet::fs_capnp::volume::Client::TYPE_ID {
        FS_OPS
    } else if interface_id == caplet::kv_capnp::store::Client::TYPE_ID {
        KV_OPS
    } else {
        return None;
    };
    ops.iter()
        .find(|(name, _)| *name == method)
        .map(|(_, op)| *op)
}

/// How many principals get series of their own in
/// `caplet_principal_invocations_total`.
pub const TOP_PRINCIPALS: usize = 20;

/// The index of `outcome` in [`OUTCOMES`] (`other` when unknown).
pub fn outcome_index(outcome: &str) -> usize {
    OUTCOMES
        .iter()
        .position(|known| *known == outcome)
        .unwrap_or(OTHER)
}

/// The snake-case name of an `InvokeError.Kind`, as in [`OUTCOMES`].
pub fn invoke_error_kind(kind: caplet::caplet_capnp::invoke_error::Kind) -> &'static str {
    use caplet::caplet_capnp::invoke_error::Kind;
    match kind {
        Kind::Exception => "exception",
        Kind::EntrypointNotFound => "entrypoint_not_found",
        Kind::OutputNotSerializable => "output_not_serializable",
        Kind::BadInput => "bad_input",
        Kind::NeverSettled => "never_settled",
        Kind::CpuLimitExceeded => "cpu_limit_exceeded",
        Kind::MemoryLimitExceeded => "memory_limit_exceeded",
        Kind::WallTimeExceeded => "wall_time_exceeded",
        Kind::StackOverflow => "stack_overflow",
        Kind::OutputTooLarge => "output_too_large",
        Kind::Internal => "internal",
        Kind::SubrequestLimitExceeded => "subrequest_limit_exceeded",
        Kind::CallsInFlightExceeded => "calls_in_flight_exceeded",
        Kind::TimerLimitExceeded => "timer_limit_exceeded",
    }
}

/// Upper bounds of the latency buckets, in seconds (50 µs to 30 s).
const BUCKETS: [f64; 19] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// A latency histogram: a count per bucket (the last one is `+Inf`) and
/// the sum in nanoseconds.
#[derive(Default)]
pub struct Histogram {
    buckets: [Cell<u64>; BUCKETS.len() + 1],
    sum_nanos: Cell<u64>,
}

impl Histogram {
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let index = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        bump(&self.buckets[index]);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos
            .set(self.sum_nanos.get().saturating_add(nanos));
    }

    /// How many durations were observed.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(Cell::get).sum()
    }

    fn snapshot(&self) -> HistogramSnapshot {
        let mut buckets: Vec<(f64, u64)> = BUCKETS
            .iter()
            .zip(&self.buckets)
            .map(|(bound, count)| (*bound, count.get()))
            .collect();
        buckets.push((f64::INFINITY, self.buckets[BUCKETS.len()].get()));
        HistogramSnapshot {
            sum: self.sum_nanos.get() as f64 / 1e9,
            count: self.count(),
            buckets,
        }
    }
}

/// A histogram's values at scrape time, encoded by `prometheus-client`.
#[derive(Debug)]
struct HistogramSnapshot {
    sum: f64,
    count: u64,
    /// (upper bound, count in this bucket alone).
    buckets: Vec<(f64, u64)>,
}

impl EncodeMetric for HistogramSnapshot {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            self.sum,
            self.count,
            &self.buckets,
            None,
        )
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

fn bump(cell: &Cell<u64>) {
    cell.set(cell.get().wrapping_add(1));
}

/// Counts per outcome.
struct ByOutcome([Cell<u64>; OUTCOMES.len()]);

impl Default for ByOutcome {
    fn default() -> Self {
        Self(std::array::from_fn(|_| Cell::new(0)))
    }
}

impl ByOutcome {
    fn count(&self, outcome: usize) {
        bump(&self.0[outcome.min(OTHER)]);
    }

    fn family(&self) -> Family<Vec<(&'static str, &'static str)>, Counter> {
        let family = Family::<Vec<(&'static str, &'static str)>, Counter>::default();
        for (name, count) in OUTCOMES.iter().zip(&self.0) {
            if count.get() > 0 {
                family
                    .get_or_create(&vec![("outcome", *name)])
                    .inc_by(count.get());
            }
        }
        family
    }
}

/// Counts for the principals that did the most, with everyone else's in
/// one `other` count: at most `capacity` + 1 series, whatever the number
/// of principals.
///
/// This is the space-saving idea (Metwally et al.) kept exact: when a new
/// principal arrives and the table is full, the entry with the smallest
/// count leaves it, and its count moves to `other`. The sum of all series
/// is always the true total; a principal's own series counts from when it
/// (last) entered the table, so a busy principal keeps its place.
pub struct TopN {
    capacity: usize,
    counts: HashMap<String, u64>,
    other: u64,
}

impl TopN {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            counts: HashMap::new(),
            other: 0,
        }
    }

    pub fn count(&mut self, principal: &str) {
        if let Some(count) = self.counts.get_mut(principal) {
            *count += 1;
            return;
        }
        if self.counts.len() >= self.capacity {
            let smallest = self
                .counts
                .iter()
                .min_by_key(|(_, count)| **count)
                .map(|(name, count)| (name.clone(), *count));
            if let Some((name, count)) = smallest {
                self.counts.remove(&name);
                self.other += count;
            }
        }
        self.counts.insert(principal.to_string(), 1);
    }

    /// Every series: (principal, count), then `other` when non-zero.
    pub fn series(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = self
            .counts
            .iter()
            .map(|(name, count)| (name.clone(), *count))
            .collect();
        out.sort();
        if self.other > 0 {
            out.push(("other".to_string(), self.other));
        }
        out
    }
}

/// A store operation's key: (operation, outcome index).
type StoreKey = (&'static str, usize);

/// Everything one broker counts. Shared (`Rc`) by its services.
pub struct Metrics {
    invocations: ByOutcome,
    capability_calls: ByOutcome,
    loads: ByOutcome,
    limit_trips: [Cell<u64>; LIMIT_KINDS.len()],
    store_operations: RefCell<HashMap<StoreKey, u64>>,
    live_workers: Cell<u64>,
    invoke_duration: Histogram,
    load_duration: Histogram,
    capability_call_duration: Histogram,
    principals: RefCell<TopN>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            invocations: ByOutcome::default(),
            capability_calls: ByOutcome::default(),
            loads: ByOutcome::default(),
            limit_trips: std::array::from_fn(|_| Cell::new(0)),
            store_operations: RefCell::new(HashMap::new()),
            live_workers: Cell::new(0),
            invoke_duration: Histogram::default(),
            load_duration: Histogram::default(),
            capability_call_duration: Histogram::default(),
            principals: RefCell::new(TopN::new(TOP_PRINCIPALS)),
        }
    }
}

/// What the broker reports besides its counters, read at scrape time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    /// Isolate-hosts up, and configured.
    pub hosts_up: usize,
    pub hosts: usize,
    /// Hosts started again after one exited.
    pub host_restarts: u64,
    /// Open client connections on the Unix socket and on TCP.
    pub unix_connections: usize,
    pub tcp_connections: usize,
    /// Whether the store answered its last ping (`None`: not opened yet).
    pub store_up: Option<bool>,
}

/// One live worker, counted in `caplet_live_workers` while it is held.
pub struct LiveWorker(std::rc::Rc<Metrics>);

impl Drop for LiveWorker {
    fn drop(&mut self) {
        self.0.live_workers.set(self.0.live_workers.get() - 1);
    }
}

impl Metrics {
    pub fn new() -> std::rc::Rc<Self> {
        std::rc::Rc::new(Self::default())
    }

    /// One invocation by `principal` answered with `outcome` (an index
    /// into [`OUTCOMES`]) after `elapsed`.
    pub fn invocation(&self, principal: &str, outcome: usize, elapsed: Duration) {
        self.invocations.count(outcome);
        self.invoke_duration.observe(elapsed);
        self.limit_trip(OUTCOMES[outcome.min(OTHER)]);
        self.principals.borrow_mut().count(principal);
    }

    /// One load (by `load` or a `get` that missed), and how it ended.
    pub fn load(&self, outcome: usize, elapsed: Duration) {
        self.loads.count(outcome);
        self.load_duration.observe(elapsed);
        self.limit_trip(OUTCOMES[outcome.min(OTHER)]);
    }

    /// One capability call a worker made through a membrane; `store_op`
    /// names it (`fs.write`, `kv.get`) when it went to a store.
    pub fn capability_call(
        &self,
        outcome: usize,
        started: Instant,
        store_op: Option<&'static str>,
    ) {
        self.capability_calls.count(outcome);
        self.capability_call_duration.observe(started.elapsed());
        self.limit_trip(OUTCOMES[outcome.min(OTHER)]);
        if let Some(op) = store_op {
            *self
                .store_operations
                .borrow_mut()
                .entry((op, outcome.min(OTHER)))
                .or_default() += 1;
        }
    }

    fn limit_trip(&self, kind: &str) {
        if let Some(index) = LIMIT_KINDS.iter().position(|k| *k == kind) {
            bump(&self.limit_trips[index]);
        }
    }

    /// Counts a worker as live until the guard drops.
    pub fn live_worker(self: &std::rc::Rc<Self>) -> LiveWorker {
        self.live_workers.set(self.live_workers.get() + 1);
        LiveWorker(self.clone())
    }

    /// The Prometheus text format (version 0.0.4) of every metric.
    pub fn render(&self, gauges: Gauges) -> String {
        let mut registry = Registry::with_prefix("caplet");
        registry.register(
            "invocations",
            "Worker invocations, by outcome (ok, or the error's kind)",
            self.invocations.family(),
        );
        registry.register(
            "capability_calls",
            "Calls workers made on their granted capabilities, by outcome",
            self.capability_calls.family(),
        );
        registry.register(
            "loads",
            "Worker loads (load, and get when not cached), by outcome",
            self.loads.family(),
        );
        let trips = Family::<Vec<(&'static str, &'static str)>, Counter>::default();
        for (kind, count) in LIMIT_KINDS.iter().zip(&self.limit_trips) {
            if count.get() > 0 {
                trips
                    .get_or_create(&vec![("kind", *kind)])
                    .inc_by(count.get());
            }
        }
        registry.register(
            "limit_trips",
            "Limits and quotas that tripped, by kind",
            trips,
        );
        let store = Family::<Vec<(&'static str, &'static str)>, Counter>::default();
        for ((op, outcome), count) in self.store_operations.borrow().iter() {
            store
                .get_or_create(&vec![("op", *op), ("outcome", OUTCOMES[*outcome])])
                .inc_by(*count);
        }
        registry.register(
            "store_operations",
            "Calls workers made on fs volumes and kv stores, by operation and outcome",
            store,
        );
        let store_errors = Counter::<u64>::default();
        store_errors.inc_by(
            self.store_operations
                .borrow()
                .iter()
                .filter(|((_, outcome), _)| OUTCOMES[*outcome] != "ok")
                .map(|(_, count)| *count)
                .sum(),
        );
        registry.register(
            "store_errors",
            "Store operations that failed, whatever the kind",
            store_errors,
        );
        let principals = Family::<Vec<(&'static str, String)>, Counter>::default();
        for (principal, count) in self.principals.borrow().series() {
            principals
                .get_or_create(&vec![("principal", principal)])
                .inc_by(count);
        }
        registry.register(
            "principal_invocations",
            "Invocations by principal: the busiest ones, the rest as `other`",
            principals,
        );
        registry.register(
            "invoke_duration_seconds",
            "How long invocations took, as the broker saw them",
            self.invoke_duration.snapshot(),
        );
        registry.register(
            "load_duration_seconds",
            "How long loads took, as the broker saw them",
            self.load_duration.snapshot(),
        );
        registry.register(
            "capability_call_duration_seconds",
            "How long workers' capability calls took through the broker",
            self.capability_call_duration.snapshot(),
        );
        let gauge = |value: i64| {
            let gauge = Gauge::<i64>::default();
            gauge.set(value);
            gauge
        };
        let int = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        registry.register(
            "live_workers",
            "Workers the broker holds (loaded, or loaded again at their next call)",
            gauge(int(self.live_workers.get())),
        );
        registry.register(
            "hosts_up",
            "Isolate-hosts running",
            gauge(int(gauges.hosts_up as u64)),
        );
        registry.register(
            "hosts",
            "Isolate-hosts configured",
            gauge(int(gauges.hosts as u64)),
        );
        let restarts = Counter::<u64>::default();
        restarts.inc_by(gauges.host_restarts);
        registry.register(
            "host_restarts",
            "Isolate-hosts started again after one exited",
            restarts,
        );
        let connections = Family::<Vec<(&'static str, &'static str)>, Gauge>::default();
        connections
            .get_or_create(&vec![("listener", "unix")])
            .set(int(gauges.unix_connections as u64));
        connections
            .get_or_create(&vec![("listener", "tcp")])
            .set(int(gauges.tcp_connections as u64));
        registry.register("connections", "Open client connections", connections);
        registry.register(
            "store_up",
            "1 when the store answered its last ping, 0 when not, -1 before it is opened",
            gauge(match gauges.store_up {
                None => -1,
                Some(up) => i64::from(up),
            }),
        );
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)
            .expect("writing to a String cannot fail");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_n_bounds_the_series_and_keeps_the_total() {
        let mut top = TopN::new(3);
        for _ in 0..50 {
            top.count("busy");
        }
        for i in 0..1000 {
            top.count(&format!("one-off-{i}"));
        }
        let series = top.series();
        assert!(series.len() <= 4, "{series:?}");
        assert!(series.contains(&("busy".to_string(), 50)), "{series:?}");
        assert_eq!(series.iter().map(|(_, n)| n).sum::<u64>(), 1050);
    }

    #[test]
    fn unknown_outcomes_count_as_other() {
        assert_eq!(OUTCOMES[outcome_index("ok")], "ok");
        assert_eq!(OUTCOMES[outcome_index("made_up_by_a_provider")], "other");
    }

    #[test]
    fn renders_counts_and_histograms() {
        let metrics = Metrics::new();
        metrics.invocation("alice", outcome_index("ok"), Duration::from_micros(80));
        metrics.invocation(
            "alice",
            outcome_index("cpu_limit_exceeded"),
            Duration::from_millis(3),
        );
        metrics.capability_call(outcome_index("ok"), Instant::now(), Some("kv.put"));
        let live = metrics.live_worker();
        let text = metrics.render(Gauges::default());
        for line in [
            "caplet_invocations_total{outcome=\"ok\"} 1",
            "caplet_invocations_total{outcome=\"cpu_limit_exceeded\"} 1",
            "caplet_limit_trips_total{kind=\"cpu_limit_exceeded\"} 1",
            "caplet_store_operations_total{op=\"kv.put\",outcome=\"ok\"} 1",
            "caplet_capability_calls_total{outcome=\"ok\"} 1",
            "caplet_principal_invocations_total{principal=\"alice\"} 2",
            "caplet_invoke_duration_seconds_bucket{le=\"0.0001\"} 1",
            "caplet_invoke_duration_seconds_bucket{le=\"+Inf\"} 2",
            "caplet_invoke_duration_seconds_count 2",
            "caplet_live_workers 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        drop(live);
        assert!(metrics
            .render(Gauges::default())
            .lines()
            .any(|l| l == "caplet_live_workers 0"));
    }
}
