//! The Landlock layer: a ruleset that handles every filesystem right, TCP
//! bind/connect and the IPC scopes the running kernel knows, with no rules, so
//! nothing is granted.

use landlock::{
    Access, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset, RulesetAttr, RulesetStatus,
    Scope, ABI,
};

use crate::{Error, Protection};

/// What the Landlock step enforced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// The kernel's Landlock ABI version, or `None` without Landlock.
    pub(crate) abi: Option<i32>,
    /// Layers enforced.
    pub(crate) applied: Vec<Protection>,
    /// Layers missing, with the reason.
    pub(crate) missing: Vec<(Protection, String)>,
}

/// The running kernel's Landlock ABI version, or the reason there is none.
pub(crate) fn kernel_abi() -> Result<i32, String> {
    // SAFETY: LANDLOCK_CREATE_RULESET_VERSION (1) takes a null attribute and
    // size 0 and only returns a number.
    let version = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            1u32,
        )
    };
    if version > 0 {
        return Ok(version as i32);
    }
    Err(match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::EOPNOTSUPP) => "landlock is disabled at boot".to_string(),
        Some(libc::ENOSYS) => "the kernel has no landlock".to_string(),
        _ => format!(
            "landlock abi query failed: {}",
            std::io::Error::last_os_error()
        ),
    })
}

/// Restricts the calling thread (and its future children) with a Landlock
/// domain that allows nothing it can express.
pub(crate) fn restrict() -> Result<Outcome, Error> {
    let all = [
        Protection::LandlockFilesystem,
        Protection::LandlockNetwork,
        Protection::LandlockScopes,
    ];
    let version = match kernel_abi() {
        Ok(version) => version,
        Err(reason) => {
            return Ok(Outcome {
                abi: None,
                applied: Vec::new(),
                missing: all.iter().map(|&p| (p, reason.clone())).collect(),
            })
        }
    };
    let abi = ABI::from(version);
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(abi))?;
    let mut wanted = vec![Protection::LandlockFilesystem];
    let mut missing = Vec::new();
    if abi >= ABI::V4 {
        ruleset = ruleset.handle_access(AccessNet::from_all(abi))?;
        wanted.push(Protection::LandlockNetwork);
    } else {
        missing.push((
            Protection::LandlockNetwork,
            format!("landlock abi {version} has no tcp rights (abi 4)"),
        ));
    }
    if abi >= ABI::V6 {
        ruleset = ruleset.scope(Scope::from_all(abi))?;
        wanted.push(Protection::LandlockScopes);
    } else {
        missing.push((
            Protection::LandlockScopes,
            format!("landlock abi {version} has no scopes (abi 6)"),
        ));
    }
    let status = ruleset.create()?.restrict_self()?;
    let applied = match status.ruleset {
        RulesetStatus::FullyEnforced => wanted,
        RulesetStatus::PartiallyEnforced => {
            missing.extend(wanted.into_iter().map(|p| {
                (
                    p,
                    format!("landlock abi {version} enforced the ruleset only partially"),
                )
            }));
            Vec::new()
        }
        RulesetStatus::NotEnforced => {
            missing.extend(wanted.into_iter().map(|p| {
                (
                    p,
                    format!("landlock abi {version} did not enforce the ruleset"),
                )
            }));
            Vec::new()
        }
    };
    Ok(Outcome {
        abi: Some(version),
        applied,
        missing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    const CHILD_ENV: &str = "CAPLET_CONFINE_LANDLOCK_CHILD";

    fn errno<T>(result: std::io::Result<T>) -> i32 {
        result.err().and_then(|e| e.raw_os_error()).unwrap_or(0)
    }

    /// Runs in a child process (re-executed test binary): Landlock alone,
    /// without seccomp, must deny opening an existing file and connecting
    /// over TCP with EACCES (seccomp would say EPERM), and signalling the
    /// parent with EPERM, as far as the kernel's ABI goes.
    #[test]
    fn landlock_alone_denies_files_tcp_and_signals() {
        if std::env::var_os(CHILD_ENV).is_some() {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            crate::process::set_no_new_privs().unwrap();
            let outcome = restrict().unwrap();
            let open = errno(std::fs::File::open("/etc/hostname"));
            let connect = errno(std::net::TcpStream::connect(addr));
            // SAFETY: signal 0 only checks permission.
            let kill = unsafe { libc::kill(libc::getppid(), 0) };
            let kill = if kill == 0 {
                0
            } else {
                errno::<()>(Err(std::io::Error::last_os_error()))
            };
            println!(
                "CHILD abi={:?} applied={} open={open} connect={connect} kill={kill}",
                outcome.abi,
                outcome.applied.len()
            );
            return;
        }
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "lsm::tests::landlock_alone_denies_files_tcp_and_signals",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "child failed: {stdout}");
        // libtest prints the test's name on the same line, before our output.
        let line = stdout
            .lines()
            .find_map(|l| l.find("CHILD ").map(|i| &l[i..]))
            .unwrap_or_else(|| panic!("no result line in {stdout}"));
        match kernel_abi() {
            Ok(abi) => {
                let applied = 1 + i32::from(abi >= 4) + i32::from(abi >= 6);
                let connect = if abi >= 4 { libc::EACCES } else { 0 };
                let kill = if abi >= 6 { libc::EPERM } else { 0 };
                assert_eq!(
                    line,
                    format!(
                        "CHILD abi=Some({abi}) applied={applied} open={} connect={connect} kill={kill}",
                        libc::EACCES
                    )
                );
            }
            Err(_) => assert!(
                line.starts_with("CHILD abi=None applied=0 open=0"),
                "{line}"
            ),
        }
    }
}
