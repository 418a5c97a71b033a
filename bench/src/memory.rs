//! Memory of processes, read from `/proc`.

use anyhow::Context;

/// Resident set size of `pid`, in bytes (`VmRSS` of `/proc/<pid>/status`).
pub fn rss(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    kib_field(&status, "VmRSS:")
        .with_context(|| format!("no VmRSS in /proc/{pid}/status"))
        .map(|kib| kib * 1024)
}

/// Summed resident set size of the children of `pid` (for a broker: its
/// isolate-hosts), in bytes.
pub fn rss_of_children(pid: u32) -> anyhow::Result<u64> {
    let mut total = 0;
    for child in children(pid)? {
        // A child may exit between listing and reading.
        total += rss(child).unwrap_or(0);
    }
    Ok(total)
}

/// The pids whose parent is `pid`.
pub fn children(pid: u32) -> anyhow::Result<Vec<u32>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").context("listing /proc")? {
        let Ok(entry) = entry else { continue };
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`; comm may contain spaces and parentheses.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|ppid| ppid.parse::<u32>().ok());
        if ppid == Some(pid) {
            found.push(child);
        }
    }
    Ok(found)
}

/// Memory the kernel could still hand out (`MemAvailable`), in bytes.
pub fn available() -> anyhow::Result<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").context("reading /proc/meminfo")?;
    kib_field(&meminfo, "MemAvailable:")
        .context("no MemAvailable in /proc/meminfo")
        .map(|kib| kib * 1024)
}

fn kib_field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

/// The first argument `pid` was started with (after the program), if any.
pub fn first_argument(pid: u32) -> Option<String> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let arg = cmdline.split(|b| *b == 0).nth(1)?;
    Some(String::from_utf8_lossy(arg).into_owned())
}

/// `pid` and all its descendants.
pub fn family(pid: u32) -> anyhow::Result<Vec<u32>> {
    let mut found = vec![pid];
    let mut next = 0;
    while next < found.len() {
        let children = children(found[next])?;
        found.extend(children);
        next += 1;
    }
    Ok(found)
}

/// CPU time spent so far by `pids` (each process, all its threads), in
/// nanoseconds, read through each process's CPU clock
/// (`clock_getcpuclockid`). Processes that have exited count as zero.
pub fn cpu_ns(pids: &[u32]) -> u64 {
    let mut total = 0;
    for pid in pids {
        let mut clock: libc::clockid_t = 0;
        // SAFETY: `clock` is a valid out-pointer; an unknown pid is an error.
        if unsafe { libc::clock_getcpuclockid(*pid as libc::pid_t, &mut clock) } != 0 {
            continue;
        }
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec.
        if unsafe { libc::clock_gettime(clock, &mut ts) } == 0 {
            total += ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        assert!(rss(std::process::id()).unwrap() > 0);
        assert!(available().unwrap() > 0);
        let child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let found = children(std::process::id()).unwrap();
        assert!(found.contains(&child.id()), "{found:?}");
        let family = family(std::process::id()).unwrap();
        assert!(family.contains(&child.id()), "{family:?}");
        assert!(cpu_ns(&family) > 0);
        let mut child = child;
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
