//! The IPC contract is declared once (src-tauri/ipc_contract.rs). Everything else that names
//! the commands must agree with it: the capability file the window is granted, the command
//! tables of docs/ipc.md, the UI's busy map (ui/store.js) and the preview mock
//! (tools/ui-preview/mock-tauri.js). A command added, renamed or removed in one place and not
//! the others fails here.

use std::collections::{BTreeMap, BTreeSet};

use genius_account::contract::{permission, COMMANDS, CORE_PERMISSIONS};

fn read(path: &str) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    std::fs::read_to_string(format!("{root}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn declared() -> BTreeSet<&'static str> {
    COMMANDS.iter().map(|c| c.name).collect()
}

fn declared_busy() -> BTreeMap<String, String> {
    COMMANDS
        .iter()
        .filter_map(|c| Some((c.name.to_owned(), c.busy?.to_owned())))
        .collect()
}

/// The declared busy keys are the actions the account service reports (`account::Busy`):
/// all of them but the avatar download, which no command starts.
#[test]
fn the_declared_busy_keys_are_the_account_services_actions() {
    let declared: BTreeSet<String> = declared_busy().into_values().collect();
    let reported: BTreeSet<String> = account::Busy::ALL
        .iter()
        .filter(|busy| **busy != account::Busy::Avatar)
        .map(|busy| busy.key().to_owned())
        .collect();
    assert_eq!(declared, reported);
}

/// The text between `start` and the first `end` after it.
fn block<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("`{start}` not found"));
    let rest = &text[from + start.len()..];
    &rest[..rest
        .find(end)
        .unwrap_or_else(|| panic!("no `{end}` after `{start}`"))]
}

/// The words inside backticks in `text`.
fn backticked(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn names_are_unique_and_snake_case() {
    assert_eq!(
        declared().len(),
        COMMANDS.len(),
        "a command is declared twice"
    );
    for c in COMMANDS {
        assert!(
            c.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{}",
            c.name
        );
        assert!(
            ["commands", "support_commands", "about"].contains(&c.module),
            "{}: module {}",
            c.name,
            c.module
        );
    }
}

#[test]
fn the_capability_grants_exactly_the_declared_commands() {
    let file: serde_json::Value =
        serde_json::from_str(&read("src-tauri/capabilities/default.json")).unwrap();
    let granted: BTreeSet<String> = file["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = COMMANDS
        .iter()
        .map(|c| permission(c.name))
        .chain(CORE_PERMISSIONS.iter().map(|p| p.to_string()))
        .collect();
    assert_eq!(
        granted.difference(&expected).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "granted but not declared"
    );
    assert_eq!(
        expected.difference(&granted).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "declared but not granted"
    );
}

#[test]
fn docs_list_exactly_the_declared_commands() {
    let doc = read("docs/ipc.md");
    let mut documented = BTreeSet::new();
    // The "## Commands" table (account) and the "### Commands" table under "## Support".
    for section in doc.split("\n## ").chain(doc.split("\n### ")) {
        let Some(table) = section.strip_prefix("Commands\n") else {
            continue;
        };
        for row in table.lines().take_while(|l| l.starts_with('|')).skip(2) {
            let first_cell = row.split('|').nth(1).unwrap_or_default();
            documented.extend(backticked(first_cell));
        }
    }
    let declared: BTreeSet<String> = declared().iter().map(|s| s.to_string()).collect();
    assert_eq!(documented, declared, "docs/ipc.md's command tables");
}

#[test]
fn the_ui_marks_the_declared_busy_keys() {
    let store = read("ui/store.js");
    let map = block(&store, "const BUSY = {", "};");
    let mut ui = BTreeMap::new();
    for pair in map.split(',') {
        let Some((name, key)) = pair.split_once(':') else {
            continue;
        };
        let key = key.trim().trim_matches('\'');
        ui.insert(name.trim().to_owned(), key.to_owned());
    }
    assert_eq!(ui, declared_busy(), "ui/store.js BUSY");
    for name in ui.keys() {
        assert!(
            declared().contains(name.as_str()),
            "{name} is not a command"
        );
    }
}

/// The mock's command objects: each entry's name and the busy key it marks, if any.
fn mock_commands(mock: &str, start: &str) -> BTreeMap<String, Option<String>> {
    let body = block(mock, start, "\n  };\n");
    let mut out = BTreeMap::new();
    let mut current: Option<(String, Option<String>)> = None;
    for line in body.lines() {
        let entry = line
            .strip_prefix("    ")
            .filter(|l| !l.starts_with(' '))
            .and_then(|l| l.split_once(':'))
            .map(|(name, _)| name)
            .filter(|name| name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        if let Some(name) = entry {
            if let Some((name, busy)) = current.take() {
                out.insert(name, busy);
            }
            current = Some((name.to_owned(), None));
        }
        if let Some((_, busy)) = current.as_mut() {
            for marker in ["busy('", "busy.push('"] {
                if let Some(at) = line.find(marker) {
                    let rest = &line[at + marker.len()..];
                    *busy = Some(rest[..rest.find('\'').unwrap()].to_owned());
                }
            }
        }
    }
    if let Some((name, busy)) = current {
        out.insert(name, busy);
    }
    out
}

#[test]
fn the_preview_mock_answers_exactly_the_declared_commands() {
    let mock = read("tools/ui-preview/mock-tauri.js");
    let mut answered = mock_commands(&mock, "const commands = {");
    answered.extend(mock_commands(&mock, "const supportCommands = {"));
    let names: BTreeSet<&str> = answered.keys().map(String::as_str).collect();
    assert_eq!(names, declared(), "mock-tauri.js commands");
    let busy = declared_busy();
    for (name, key) in &answered {
        if let Some(key) = key {
            assert_eq!(
                busy.get(name),
                Some(key),
                "the mock marks {name} busy as {key}"
            );
        }
    }
    // The check above must have seen the mock's busy markers at all.
    assert!(answered.values().filter(|k| k.is_some()).count() >= 10);
}
