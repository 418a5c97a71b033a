//! Worker limits: the broker's defaults and maxima, and the effective limits
//! of a worker (what it asked for, defaulted and checked against the maxima).

use caplet::caplet_capnp::limits;

use crate::error::Error;

/// A full set of limits, every field concrete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub memory_bytes: u64,
    pub cpu_time_ms: u32,
    pub wall_time_ms: u32,
    pub stack_bytes: u32,
    pub module_bytes: u64,
    pub output_bytes: u64,
    pub log_bytes: u64,
    pub subrequests: u32,
    pub calls_in_flight: u32,
    pub pending_timers: u32,
}

impl Limits {
    /// The defaults a worker gets when it asks for nothing.
    pub const DEFAULTS: Limits = Limits {
        memory_bytes: 64 << 20,
        cpu_time_ms: 1_000,
        wall_time_ms: 30_000,
        stack_bytes: 1 << 20,
        module_bytes: 8 << 20,
        output_bytes: 16 << 20,
        log_bytes: 1 << 20,
        subrequests: 1_000,
        calls_in_flight: 100,
        pending_timers: 1_000,
    };

    /// The most any worker may ask for.
    pub const MAXIMA: Limits = Limits {
        memory_bytes: 2 << 30,
        cpu_time_ms: 300_000,
        wall_time_ms: 3_600_000,
        // Isolate-hosts run JS on their main thread (8 MiB of stack by
        // default) and clamp the JS stack to half of that thread's stack.
        stack_bytes: 4 << 20,
        module_bytes: 64 << 20,
        // Output and logs travel in one answer, which must stay under
        // `caplet::MAX_MESSAGE_WORDS` (80 MiB) with room for the rest.
        output_bytes: 32 << 20,
        log_bytes: 8 << 20,
        subrequests: 1_000_000,
        calls_in_flight: 10_000,
        pending_timers: 100_000,
    };

    /// Writes these limits into a capnp `Limits`.
    pub fn write(&self, mut out: limits::Builder<'_>) {
        out.set_memory_bytes(self.memory_bytes);
        out.set_cpu_time_ms(self.cpu_time_ms);
        out.set_wall_time_ms(self.wall_time_ms);
        out.set_stack_bytes(self.stack_bytes);
        out.set_module_bytes(self.module_bytes);
        out.set_output_bytes(self.output_bytes);
        out.set_log_bytes(self.log_bytes);
        out.set_subrequests(self.subrequests);
        out.set_calls_in_flight(self.calls_in_flight);
        out.set_pending_timers(self.pending_timers);
    }
}

/// The broker's limit policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitPolicy {
    pub defaults: Limits,
    pub maxima: Limits,
}

impl Default for LimitPolicy {
    fn default() -> Self {
        Self {
            defaults: Limits::DEFAULTS,
            maxima: Limits::MAXIMA,
        }
    }
}

impl LimitPolicy {
    /// The effective limits for a request: 0 takes the default, anything above
    /// the maximum is an error naming the limit.
    pub fn resolve(&self, asked: limits::Reader<'_>) -> Result<Limits, Error> {
        fn pick(name: &'static str, asked: u64, default: u64, maximum: u64) -> Result<u64, Error> {
            match asked {
                0 => Ok(default),
                n if n > maximum => Err(Error::LimitTooHigh {
                    name,
                    requested: n,
                    maximum,
                }),
                n => Ok(n),
            }
        }
        let (d, m) = (&self.defaults, &self.maxima);
        Ok(Limits {
            memory_bytes: pick(
                "memoryBytes",
                asked.get_memory_bytes(),
                d.memory_bytes,
                m.memory_bytes,
            )?,
            cpu_time_ms: pick(
                "cpuTimeMs",
                asked.get_cpu_time_ms().into(),
                d.cpu_time_ms.into(),
                m.cpu_time_ms.into(),
            )? as u32,
            wall_time_ms: pick(
                "wallTimeMs",
                asked.get_wall_time_ms().into(),
                d.wall_time_ms.into(),
                m.wall_time_ms.into(),
            )? as u32,
            stack_bytes: pick(
                "stackBytes",
                asked.get_stack_bytes().into(),
                d.stack_bytes.into(),
                m.stack_bytes.into(),
            )? as u32,
            module_bytes: pick(
                "moduleBytes",
                asked.get_module_bytes(),
                d.module_bytes,
                m.module_bytes,
            )?,
            output_bytes: pick(
                "outputBytes",
                asked.get_output_bytes(),
                d.output_bytes,
                m.output_bytes,
            )?,
            log_bytes: pick("logBytes", asked.get_log_bytes(), d.log_bytes, m.log_bytes)?,
            subrequests: pick(
                "subrequests",
                asked.get_subrequests().into(),
                d.subrequests.into(),
                m.subrequests.into(),
            )? as u32,
            calls_in_flight: pick(
                "callsInFlight",
                asked.get_calls_in_flight().into(),
                d.calls_in_flight.into(),
                m.calls_in_flight.into(),
            )? as u32,
            pending_timers: pick(
                "pendingTimers",
                asked.get_pending_timers().into(),
                d.pending_timers.into(),
                m.pending_timers.into(),
            )? as u32,
        })
    }

    /// Checks that the policy is consistent: every default at most its
    /// maximum, and every limit above zero.
    pub fn check(&self) -> Result<(), Error> {
        let (d, m) = (&self.defaults, &self.maxima);
        let pairs: [(&'static str, u64, u64); 10] = [
            ("memoryBytes", d.memory_bytes, m.memory_bytes),
            ("cpuTimeMs", d.cpu_time_ms.into(), m.cpu_time_ms.into()),
            ("wallTimeMs", d.wall_time_ms.into(), m.wall_time_ms.into()),
            ("stackBytes", d.stack_bytes.into(), m.stack_bytes.into()),
            ("moduleBytes", d.module_bytes, m.module_bytes),
            ("outputBytes", d.output_bytes, m.output_bytes),
            ("logBytes", d.log_bytes, m.log_bytes),
            ("subrequests", d.subrequests.into(), m.subrequests.into()),
            (
                "callsInFlight",
                d.calls_in_flight.into(),
                m.calls_in_flight.into(),
            ),
            (
                "pendingTimers",
                d.pending_timers.into(),
                m.pending_timers.into(),
            ),
        ];
        for (name, default, maximum) in pairs {
            if default == 0 || maximum == 0 {
                return Err(Error::Config(format!(
                    "limit_zero: {name} must be above zero (default {default}, maximum {maximum})"
                )));
            }
            if default > maximum {
                return Err(Error::LimitTooHigh {
                    name,
                    requested: default,
                    maximum,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(set: impl FnOnce(limits::Builder<'_>)) -> Result<Limits, Error> {
        let mut message = capnp::message::Builder::new_default();
        let mut root = message.init_root::<limits::Builder>();
        set(root.reborrow());
        LimitPolicy::default().resolve(root.into_reader())
    }

    #[test]
    fn zero_takes_the_default() {
        assert_eq!(resolve(|_| {}).unwrap(), Limits::DEFAULTS);
    }

    #[test]
    fn asking_within_the_maximum_is_granted() {
        let limits = resolve(|mut l| l.set_cpu_time_ms(5)).unwrap();
        assert_eq!(limits.cpu_time_ms, 5);
    }

    #[test]
    fn call_limits_resolve_like_the_others() {
        let limits = resolve(|mut l| l.set_subrequests(7)).unwrap();
        assert_eq!(limits.subrequests, 7);
        assert_eq!(limits.calls_in_flight, Limits::DEFAULTS.calls_in_flight);
        let err = resolve(|mut l| l.set_calls_in_flight(u32::MAX)).unwrap_err();
        assert!(
            err.to_string().starts_with("limit_too_high: callsInFlight"),
            "{err}"
        );
    }

    #[test]
    fn a_default_above_its_maximum_is_refused() {
        let mut policy = LimitPolicy::default();
        policy.check().unwrap();
        policy.defaults.cpu_time_ms = policy.maxima.cpu_time_ms + 1;
        let err = policy.check().unwrap_err().to_string();
        assert!(err.starts_with("limit_too_high: cpuTimeMs"), "{err}");
    }

    #[test]
    fn a_zero_limit_is_refused_by_name() {
        let mut policy = LimitPolicy::default();
        policy.defaults.log_bytes = 0;
        let err = policy.check().unwrap_err().to_string();
        assert!(
            err.starts_with("limit_zero: logBytes must be above zero"),
            "{err}"
        );
    }

    #[test]
    fn asking_above_the_maximum_names_the_limit() {
        let err = resolve(|mut l| l.set_memory_bytes(u64::MAX)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "limit_too_high: memoryBytes = {} is above the broker's maximum of {}",
                u64::MAX,
                Limits::MAXIMA.memory_bytes
            )
        );
    }
}
