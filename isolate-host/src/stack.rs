//! The most JS stack any QuickJS runtime of this process may be given,
//! read once at start-up: the worker runtimes (`engine`) and the compiler's
//! (`modules`) are both clamped to it.

/// The most JS stack a worker may use in this process: half the main
/// thread's stack (`RLIMIT_STACK`), so QuickJS's own check always fires
/// before the real stack runs out. Set once at start-up.
static STACK_CEILING: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(DEFAULT_STACK_CEILING);

/// The ceiling when the stack size is unknown or unlimited.
const DEFAULT_STACK_CEILING: usize = 4 << 20;

/// Reads `RLIMIT_STACK` and sets the stack ceiling from it. Must run before
/// confinement (which denies `prlimit64`).
pub fn init_stack_ceiling() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_STACK, &mut limit) };
    let ceiling = if rc != 0 || limit.rlim_cur == libc::RLIM_INFINITY {
        DEFAULT_STACK_CEILING
    } else {
        (limit.rlim_cur / 2) as usize
    };
    STACK_CEILING.store(ceiling, std::sync::atomic::Ordering::Relaxed);
}

/// The most JS stack any runtime of this process may be given.
pub fn stack_ceiling() -> usize {
    STACK_CEILING.load(std::sync::atomic::Ordering::Relaxed)
}
