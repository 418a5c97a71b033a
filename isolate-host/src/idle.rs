//! Work the host puts off until it has nothing else to do: freeing the
//! runtimes of released workers (`JS_FreeRuntime` and its collection are a
//! large share of a load's cost when they run inline) and preparing the
//! isolate the next load will take.
//!
//! It runs in the event loop's park hook ([`before_park`]), one step at a
//! time: only when no task is ready (so every answer queued has been
//! written), and only while no message waits on the broker's connection
//! (`caplet::spin::readable`). A step is one released runtime freed or one
//! of the spare isolate's two steps (`engine::prepare_spare_step`), so a
//! message that comes while the host works waits for one step at most. Done
//! as one block right after a load's answer, the same work (about as long
//! as the load and the invocation together) held up the invocation that a
//! client sends as soon as the load is answered. A host that never runs
//! out of work frees released runtimes as they come past [`MAX_BURIED`],
//! and its loads prepare their isolates themselves.

use std::cell::RefCell;
use std::rc::Rc;

use crate::engine;
use crate::worker::JsWorker;

thread_local! {
    static GRAVEYARD: RefCell<Vec<Rc<JsWorker>>> = const { RefCell::new(Vec::new()) };
}

/// Most released runtimes waiting to be freed. A host that never runs out
/// of work never reaches its park hook: past this many, the oldest is freed
/// at once, so memory stays bounded.
pub const MAX_BURIED: usize = 16;

/// Hands over a released worker, to be freed when the host is idle (or at
/// once, the oldest, when [`MAX_BURIED`] are waiting).
pub fn bury(worker: Rc<JsWorker>) {
    let oldest = GRAVEYARD.with(|graveyard| {
        let mut graveyard = graveyard.borrow_mut();
        graveyard.push(worker);
        (graveyard.len() > MAX_BURIED).then(|| graveyard.remove(0))
    });
    // Dropped here, after the graveyard's borrow ended.
    drop(oldest);
}

/// Whether idle work is waiting: a released runtime to free, or the spare
/// isolate to (finish) preparing.
pub fn pending() -> bool {
    GRAVEYARD.with(|graveyard| !graveyard.borrow().is_empty()) || engine::spare_pending()
}

/// Does one step of idle work: frees one released runtime, or else takes
/// the spare isolate one step further.
pub fn step() -> Result<(), crate::error::Error> {
    let buried = GRAVEYARD.with(|graveyard| graveyard.borrow_mut().pop());
    if let Some(worker) = buried {
        // Dropped here, after the graveyard's borrow ended.
        drop(worker);
        return Ok(());
    }
    engine::prepare_spare_step()
}

/// The host's park hook: idle work, one step at a time while no message
/// waits, then the spin (`caplet::spin::before_park`).
pub fn before_park() {
    while pending() {
        if caplet::spin::readable() {
            // The runtime reads it next; the work waits for the next park.
            return;
        }
        if let Err(error) = step() {
            eprintln!("caplet: isolate-host cannot prepare an isolate: {error}");
            break;
        }
    }
    caplet::spin::before_park();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    /// Each test runs on a thread of its own: its spare, graveyard and
    /// watched connections are its own.
    #[test]
    fn idle_work_waits_while_a_message_is_waiting_and_runs_once_it_is_read() {
        crate::engine::prelude().unwrap();
        crate::platform::js::bytecode().unwrap();
        caplet::spin::set_limit(std::time::Duration::ZERO);
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        caplet::spin::watch(ours.as_raw_fd());
        assert!(pending(), "a new host has no spare yet");

        theirs.write_all(b"a message").unwrap();
        before_park();
        assert!(
            engine::spare_pending(),
            "no step may run while a message waits to be read"
        );

        let mut read = [0u8; 9];
        std::io::Read::read_exact(&mut &ours, &mut read).unwrap();
        before_park();
        assert!(
            !pending(),
            "with nothing to read, the whole spare is prepared"
        );
    }

    /// A loaded worker of trivial code.
    async fn trivial_worker() -> Rc<JsWorker> {
        use crate::engine::EngineLimits;
        use crate::invocation::WorkerLimits;
        use crate::modules::{Compiler, Kind, Source};
        let compiler = Compiler::new(16 << 20, 256 << 10).unwrap();
        let bytecode = compiler
            .compile(&[Source {
                name: "main.js".to_string(),
                kind: Kind::Js,
                text: "export default { run: (input) => input };".to_string(),
            }])
            .unwrap();
        let limits = WorkerLimits {
            engine: EngineLimits {
                memory_bytes: 16 << 20,
                stack_bytes: 256 << 10,
                cpu_time: std::time::Duration::from_secs(1),
                wall_time: std::time::Duration::from_secs(1),
                allow_eval: false,
            },
            output_bytes: 1 << 20,
            log_bytes: 1 << 20,
            subrequests: 10,
            calls_in_flight: 10,
            pending_timers: 10,
        };
        let schema = Rc::new(caplet_capnp_js::SchemaSet::from_nodes(std::iter::empty()).unwrap());
        Rc::new(
            JsWorker::load(bytecode, "main.js", limits, schema, Vec::new())
                .await
                .unwrap(),
        )
    }

    #[test]
    fn past_the_bound_the_oldest_released_runtime_is_freed_at_once() {
        crate::engine::prelude().unwrap();
        crate::platform::js::bytecode().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tokio::task::LocalSet::new().block_on(&runtime, async {
            let oldest = trivial_worker().await;
            let watch = Rc::downgrade(&oldest);
            bury(oldest);
            for _ in 1..MAX_BURIED {
                bury(trivial_worker().await);
            }
            assert!(watch.upgrade().is_some(), "within the bound, it waits");
            bury(trivial_worker().await);
            assert!(
                watch.upgrade().is_none(),
                "one past it, the oldest is freed"
            );
            let waiting = GRAVEYARD.with(|graveyard| graveyard.borrow().len());
            assert_eq!(waiting, MAX_BURIED);
        });
    }

    #[test]
    fn a_step_is_one_of_the_spares_two_halves() {
        crate::engine::prelude().unwrap();
        crate::platform::js::bytecode().unwrap();
        assert!(engine::spare_pending());
        step().unwrap();
        assert!(engine::spare_pending(), "one step leaves the second half");
        step().unwrap();
        assert!(!engine::spare_pending());
        assert!(!pending());
    }
}
