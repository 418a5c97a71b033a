//! The `caplet` binary's argument handling (no broker involved).

use std::process::Command;

fn caplet(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_caplet"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_lists_the_commands() {
    let (code, stdout, _) = caplet(&["--help"]);
    assert_eq!(code, 0);
    assert!(
        stdout.lines().any(|l| l.trim_start().starts_with("run "))
            && stdout.lines().any(|l| l.trim_start().starts_with("serve ")),
        "{stdout}"
    );
    assert!(
        !stdout.contains("isolate-host"),
        "the internal command stays hidden"
    );
}

#[test]
fn a_bad_module_spec_is_named() {
    let (code, _, stderr) = caplet(&["run", "x.js", "--module", "nofile"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("expected NAME=FILE, got \"nofile\""),
        "{stderr}"
    );
}

#[test]
fn zero_hosts_is_refused() {
    let (code, _, stderr) = caplet(&["serve", "--hosts", "0"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--hosts"), "{stderr}");
}
