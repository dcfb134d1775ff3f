//! The audit log: JSON lines, written ahead. Before a revocation request is sent, an `attempt`
//! entry is appended and fsync'd; when the answer is in, a second entry with the result and the
//! same `attemptId`, fsync'd before the result is reported anywhere else. A program stopped in
//! between (a crash, SIGKILL, power loss) leaves the attempt without a result: the reader shows
//! it as [`UNKNOWN`], so every request the server may have seen has its entry. It never holds a
//! token, only a fingerprint.
//!
//! ```text
//! {"time":"2025-03-01T08:05:08.911Z","tool":"app","actor":"lin","profile":"NCUOS",
//!  "server":"https://v.ncuos.com","appCode":"Ab3dE6g8","userId":1,"userName":"张伟",
//!  "recordId":42,"kind":"refresh","fingerprint":"1a2b3c4d","result":"attempt",
//!  "attemptId":"5f0e33c1-7"}
//! {"time":"2025-03-01T08:05:09.042Z", …the same…, "result":"already_invalid",
//!  "attemptId":"5f0e33c1-7","code":31,"msg":"身份令牌无效或已过期"}
//! ```
//!
//! Logs written before attempts were logged hold result entries only (no `attemptId`); they
//! read as they always did.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Serialize};

use crate::time::parse_rfc3339;

/// `result` values of outcomes.
pub const REVOKED: &str = "revoked";
pub const ALREADY_INVALID: &str = "already_invalid";
pub const ERROR: &str = "error";
/// `result` of the entry written before the request is sent.
pub const ATTEMPT: &str = "attempt";
/// What the reader makes of an attempt without a result: the program that sent it stopped
/// before the answer was in. The token may or may not have been revoked.
pub const UNKNOWN: &str = "unknown";
/// What [`AuditLog::read`] makes of an attempt of its own whose answer is not in yet.
pub const IN_FLIGHT: &str = "in_flight";

/// One revocation attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// RFC 3339, UTC.
    pub time: String,
    /// `app` or `geniusctl`.
    #[serde(default)]
    pub tool: String,
    /// The operating-system account that did it.
    #[serde(default)]
    pub actor: String,
    /// The profile (app) or `geniusctl`.
    #[serde(default)]
    pub profile: String,
    #[serde(default)]
    pub server: String,
    /// The app the token was issued to.
    #[serde(default)]
    pub app_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<u64>,
    /// `refresh`, `access`, …
    #[serde(default)]
    pub kind: String,
    /// See [`crate::fingerprint`].
    #[serde(default)]
    pub fingerprint: String,
    /// [`REVOKED`], [`ALREADY_INVALID`] or [`ERROR`]; in the file also [`ATTEMPT`], and from
    /// the reader [`UNKNOWN`] or [`IN_FLIGHT`] for an attempt without a result.
    pub result: String,
    /// Pairs an attempt with its result. Absent in logs from before attempts were logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt_id: Option<String>,
    /// The server's code, when it answered with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    /// For errors: `server`, `timeout`, `connect`, `network`, `unexpected_reply`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The server's message (as sent), or what went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
}

impl AuditEntry {
    /// Unix milliseconds of `time`, when it parses.
    pub fn time_ms(&self) -> Option<i64> {
        parse_rfc3339(&self.time)
    }

    /// Every word of `query` (case-insensitive) occurs in some field. An empty query matches.
    pub fn matches(&self, query: &str) -> bool {
        let words: Vec<String> = query.split_whitespace().map(fold_case).collect();
        if words.is_empty() {
            return true;
        }
        let fields = self.search_text();
        words.iter().all(|word| fields.contains(word.as_str()))
    }

    fn search_text(&self) -> String {
        let number = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
        let code = self.code.map(|c| c.to_string()).unwrap_or_default();
        let text = [
            self.time.as_str(),
            &self.tool,
            &self.actor,
            &self.profile,
            &self.server,
            &self.app_code,
            &number(self.user_id),
            self.user_name.as_deref().unwrap_or(""),
            &number(self.record_id),
            &self
                .record_id
                .map(|id| format!("#{id}"))
                .unwrap_or_default(),
            &self.kind,
            &self.fingerprint,
            &self.result,
            &code,
            self.error.as_deref().unwrap_or(""),
            self.msg.as_deref().unwrap_or(""),
        ]
        .join("\u{1f}");
        fold_case(&text)
    }
}

/// Lower case, one character at a time. `str::to_lowercase` writes a word-final `Σ` as `ς`,
/// so a search for `Σ` (or `σ`) would not find the `ΑΣ` it shows; per character, a run of a
/// field's text always folds to a run of the folded field.
fn fold_case(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

/// A new attempt id: unique within this process (a counter) and, with overwhelming likelihood,
/// across the processes that share a log (a prefix hashed from the process id and start time).
pub fn new_attempt_id() -> String {
    static PREFIX: OnceLock<String> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let prefix = PREFIX.get_or_init(|| {
        use sha2::{Digest, Sha256};
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let digest = Sha256::digest(format!("{}:{nanos}", std::process::id()));
        hex::encode(&digest[..4])
    });
    format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// An append-only JSON-lines file. Appends from several tasks are serialised.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<Option<File>>,
    /// Attempts appended through this log whose results are not: their requests are still out.
    in_flight: Mutex<HashSet<String>>,
}

impl AuditLog {
    /// A log at `path`; nothing is opened until the first append (or [`AuditLog::open`]).
    pub fn new(path: impl Into<PathBuf>) -> AuditLog {
        AuditLog {
            path: path.into(),
            file: Mutex::new(None),
            in_flight: Mutex::new(HashSet::new()),
        }
    }

    /// A log at `path`, opened (and its folder created) now, so that an unwritable path fails
    /// before any work is done.
    pub fn open(path: impl Into<PathBuf>) -> io::Result<AuditLog> {
        let log = AuditLog::new(path);
        log.ensure_open()?;
        Ok(log)
    }

    /// Opens the file for appending unless it is open already, creating it (and its folder) if
    /// need be. Called before the first revocation request of a run: a log that cannot be
    /// opened for writing stops the run before anything is revoked without a record.
    pub fn ensure_open(&self) -> io::Result<()> {
        let mut slot = lock(&self.file);
        if slot.is_none() {
            *slot = Some(open_for_append(&self.path)?);
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one entry as one line and waits until it is on disk (fsync).
    pub fn append(&self, entry: &AuditEntry) -> io::Result<()> {
        let mut line = serde_json::to_vec(entry).map_err(io::Error::other)?;
        line.push(b'\n');
        let mut slot = lock(&self.file);
        if slot.is_none() {
            *slot = Some(open_for_append(&self.path)?);
        }
        let Some(file) = slot.as_mut() else {
            return Err(io::Error::other("audit log not open"));
        };
        let written = file.write_all(&line).and_then(|()| file.sync_data());
        if written.is_err() {
            // Reopen next time: the file may have been moved or its disk remounted.
            *slot = None;
        }
        written
    }

    /// Appends an [`ATTEMPT`] entry (fsync'd). Call it before the request is sent, and send
    /// nothing if it fails.
    pub fn append_attempt(&self, attempt: &AuditEntry) -> io::Result<()> {
        self.append(attempt)?;
        if let Some(id) = &attempt.attempt_id {
            lock(&self.in_flight).insert(id.clone());
        }
        Ok(())
    }

    /// Appends the result of an attempt (fsync'd), paired with it by `attemptId`.
    pub fn append_result(&self, result: &AuditEntry) -> io::Result<()> {
        let written = self.append(result);
        // Written or not, the request is no longer out: a result that could not be written
        // leaves the attempt's outcome unknown, which is then the truth.
        if let Some(id) = &result.attempt_id {
            lock(&self.in_flight).remove(id);
        }
        written
    }

    /// Every attempt, oldest first (see [`read_entries`]); an attempt of this log's own whose
    /// request is still out reads as [`IN_FLIGHT`] rather than [`UNKNOWN`].
    pub fn read(&self) -> io::Result<AuditRead> {
        let mut read = read_entries(&self.path)?;
        let in_flight = lock(&self.in_flight);
        for entry in &mut read.entries {
            let ours = entry
                .attempt_id
                .as_ref()
                .is_some_and(|id| in_flight.contains(id));
            if entry.result == UNKNOWN && ours {
                entry.result = IN_FLIGHT.to_owned();
            }
        }
        Ok(read)
    }
}

/// Opens for appending, creating the file (owner-only on Unix) and its folder. A new file's
/// folder is fsync'd, so that the file itself survives a crash, not only its entries. A last
/// line cut off by a crash is closed with a newline first, so the next entry starts on a line of
/// its own.
fn open_for_append(path: &Path) -> io::Result<File> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = OpenOptions::new();
    options.read(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = match options.clone().create_new(true).open(path) {
        Ok(file) => {
            // Best effort: some file systems (FUSE, CIFS) refuse to sync a folder, and the
            // entries themselves are still synced one by one.
            let _ = sync_dir(dir.unwrap_or(Path::new(".")));
            file
        }
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => options.open(path)?,
        Err(err) => return Err(err),
    };
    let len = file.metadata()?.len();
    if len > 0 {
        let mut last = [0u8; 1];
        file.seek(SeekFrom::Start(len - 1))?;
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            file.write_all(b"\n")?;
            file.sync_data()?;
        }
    }
    Ok(file)
}

/// Makes a new directory entry durable. Only Unix can open a directory for fsync; elsewhere
/// the file's own sync is all there is.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// What [`read_entries`] found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AuditRead {
    /// One per attempt, oldest first: its result entry, or the attempt entry itself with
    /// `result` [`UNKNOWN`] when no result follows it.
    pub entries: Vec<AuditEntry>,
    /// Lines that are not entries (a line cut off by a crash, edits by hand).
    pub unreadable_lines: usize,
}

/// Reads a log; a missing file is an empty log. Attempts are paired with their results (see
/// [`AuditRead::entries`]); a result without an attempt (an old log) stands on its own.
pub fn read_entries(path: &Path) -> io::Result<AuditRead> {
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(AuditRead::default()),
        Err(err) => return Err(err),
    };
    let mut read = AuditRead::default();
    // Attempt id → index in `entries` of the attempt still waiting for its result.
    let mut waiting: HashMap<String, usize> = HashMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(mut entry) = serde_json::from_str::<AuditEntry>(line) else {
            read.unreadable_lines += 1;
            continue;
        };
        match entry.attempt_id.clone() {
            Some(id) if entry.result == ATTEMPT => {
                entry.result = UNKNOWN.to_owned();
                waiting.insert(id, read.entries.len());
                read.entries.push(entry);
            }
            Some(id) => match waiting.remove(&id) {
                // In the attempt's place: the file's order is the order requests went out.
                Some(index) => read.entries[index] = entry,
                None => read.entries.push(entry),
            },
            None => read.entries.push(entry),
        }
    }
    Ok(read)
}

/// The entries matching `query` (see [`AuditEntry::matches`]), newest first (by `time`; the
/// file's order among equal times: concurrent attempts may finish out of order).
pub fn search<'a>(entries: &'a [AuditEntry], query: &str) -> Vec<&'a AuditEntry> {
    let mut found: Vec<&AuditEntry> = entries.iter().rev().filter(|e| e.matches(query)).collect();
    found.sort_by_key(|e| std::cmp::Reverse(e.time_ms().unwrap_or(i64::MIN)));
    found
}

const CSV_COLUMNS: [&str; 15] = [
    "time",
    "tool",
    "actor",
    "profile",
    "server",
    "appCode",
    "userId",
    "userName",
    "recordId",
    "kind",
    "fingerprint",
    "result",
    "code",
    "error",
    "msg",
];

/// CSV (RFC 4180, CRLF, UTF-8 with a BOM so spreadsheet programs read Chinese names right).
/// Cells that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`) get a leading `'`.
pub fn to_csv<'a>(entries: impl IntoIterator<Item = &'a AuditEntry>) -> String {
    let mut out = String::from("\u{feff}");
    out.push_str(&CSV_COLUMNS.join(","));
    out.push_str("\r\n");
    for e in entries {
        let number = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
        let cells = [
            e.time.clone(),
            e.tool.clone(),
            e.actor.clone(),
            e.profile.clone(),
            e.server.clone(),
            e.app_code.clone(),
            number(e.user_id),
            e.user_name.clone().unwrap_or_default(),
            number(e.record_id),
            e.kind.clone(),
            e.fingerprint.clone(),
            e.result.clone(),
            e.code.map(|c| c.to_string()).unwrap_or_default(),
            e.error.clone().unwrap_or_default(),
            e.msg.clone().unwrap_or_default(),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

fn csv_cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// Writes `csv` to `path` and syncs it.
pub fn write_file_synced(path: &Path, contents: &str) -> io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

/// The operating-system account running this program, for `actor`.
pub fn current_actor() -> String {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        .unwrap_or_default()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }
}
