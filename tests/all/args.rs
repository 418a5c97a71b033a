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

#[test]
fn broker_options_are_refused_with_connect() {
    let hello = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/hello.js");
    let (code, _, stderr) = caplet(&[
        "run",
        hello,
        "--connect",
        "/nonexistent.sock",
        "--cordon",
        "principal",
    ]);
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot be used with --connect"), "{stderr}");
}

#[test]
fn the_stack_limit_cannot_pass_the_engine_ceiling() {
    let (code, _, stderr) = caplet(&["serve", "--limit-max", "stackBytes=99999999"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("stackBytes: at most"), "{stderr}");
}
