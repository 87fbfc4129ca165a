//! The operator's binary holds the agent and nothing else: `vtcq --help` lists only the
//! operator commands, and the test bench's `peer` and `flood` are not commands of it (they
//! are `vtcq-testbench`'s).

use std::process::Command;

fn vtcq(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vtcq"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run vtcq: {e}"))
}

#[test]
fn help_lists_only_operator_commands() {
    let out = vtcq(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    // clap lists each subcommand as an indented line starting with its name.
    let mut commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    commands.sort_unstable();
    assert_eq!(
        commands,
        ["analyze", "generate", "help", "post", "run", "spool", "validate"],
        "{help}"
    );
}

#[test]
fn test_bench_commands_are_not_in_the_binary() {
    for command in ["peer", "flood"] {
        let out = vtcq(&[command, "--help"]);
        assert_eq!(out.status.code(), Some(2), "vtcq {command} exists");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("unrecognized subcommand"), "{err}");
    }
}
