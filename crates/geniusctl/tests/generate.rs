//! `geniusctl completions SHELL` and `geniusctl man`: the real binary prints a script (or a
//! roff page) that names every subcommand, for each shell; an unknown shell is a usage error.

use std::process::{Command, Stdio};

const SUBCOMMANDS: &[&str] = &[
    "login-verify",
    "refresh",
    "payload",
    "revoke",
    "verify-access",
    "userinfo",
    "users",
    "inspect",
    "login",
    "status",
    "token",
    "completions",
    "man",
];

fn ctl(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_geniusctl"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("geniusctl runs");
    (
        output.status.code().expect("exited normally"),
        String::from_utf8(output.stdout).expect("UTF-8 on stdout"),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn completion_scripts_name_every_subcommand() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef geniusctl"),
        ("fish", "complete -c geniusctl"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let (code, stdout, stderr) = ctl(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {stderr}");
        assert!(
            stdout.contains(marker),
            "{shell}: no {marker:?} in:\n{stdout}"
        );
        for sub in SUBCOMMANDS {
            assert!(stdout.contains(sub), "{shell}: {sub} missing");
        }
        // Options of the new commands complete too.
        assert!(stdout.contains("profile"), "{shell}: --profile missing");
    }
    let (code, stdout, stderr) = ctl(&["completions", "tcsh"]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stdout, "");
}

#[test]
fn the_man_page_names_every_subcommand() {
    let (code, stdout, stderr) = ctl(&["man"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(".TH geniusctl 1"),
        "not a section-1 page:\n{stdout}"
    );
    assert!(stdout.contains(".SH SUBCOMMANDS"), "{stdout}");
    for sub in SUBCOMMANDS {
        assert!(
            stdout.contains(&format!("geniusctl\\-{}", sub.replace('-', "\\-")))
                || stdout.contains(&format!("geniusctl-{sub}")),
            "{sub} missing from the man page"
        );
    }
    // The exit codes documented in --help are in the page too.
    assert!(stdout.contains("no such profile"), "exit codes missing");
}
