//! Opening the system browser (RFC 8252: never an embedded web view).

use std::process::{Command, Stdio};

/// Starts the user's browser at `url`. Honours `$BROWSER` (colon-separated commands, `%s`
/// standing for the URL) before the platform's opener. The browser's own output never reaches
/// our stdout, which carries JSON.
pub fn open(url: &str) -> Result<(), String> {
    let mut tried = Vec::new();
    for command in candidate_commands(url) {
        let Some((program, args)) = command.split_first() else {
            continue;
        };
        let started = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match started {
            Ok(_) => return Ok(()),
            Err(e) => tried.push(format!("{program}: {e}")),
        }
    }
    Err(if tried.is_empty() {
        "no way to open a browser on this system".to_owned()
    } else {
        tried.join("; ")
    })
}

fn candidate_commands(url: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    if let Ok(browsers) = std::env::var("BROWSER") {
        for entry in browsers.split(':').filter(|e| !e.trim().is_empty()) {
            let mut words: Vec<String> = entry.split_whitespace().map(str::to_owned).collect();
            if words.iter().any(|w| w.contains("%s")) {
                for word in &mut words {
                    *word = word.replace("%s", url);
                }
            } else {
                words.push(url.to_owned());
            }
            commands.push(words);
        }
    }
    let platform: &[&str] = if cfg!(target_os = "macos") {
        &["open"]
    } else if cfg!(windows) {
        // `cmd /c start` would split the URL at each `&`.
        &["rundll32", "url.dll,FileProtocolHandler"]
    } else {
        &["xdg-open"]
    };
    let mut default: Vec<String> = platform.iter().map(|s| (*s).to_owned()).collect();
    default.push(url.to_owned());
    commands.push(default);
    commands
}
