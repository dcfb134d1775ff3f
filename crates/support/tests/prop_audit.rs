//! Property tests: the audit-log reader (and its search and CSV export) on hostile input:
//! any entries round-trip, attempts pair with their results in any order, and garbage lines or
//! a last line cut off by a crash cost nothing but themselves.
//!
//! 256 cases per property by default, 64 for those that fsync every entry (a few seconds);
//! `PROPTEST_CASES=100000 cargo test -p support --test prop_audit` is the longer run documented
//! in the README.

use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use support::audit::{
    read_entries, search, to_csv, AuditEntry, AuditLog, ALREADY_INVALID, ATTEMPT, ERROR, REVOKED,
    UNKNOWN,
};
use support::time::{parse_rfc3339, rfc3339_utc};

/// 256 cases unless `PROPTEST_CASES` says otherwise; no regression files in the source tree.
fn config() -> ProptestConfig {
    config_with(256)
}

/// Properties that write through [`AuditLog`] fsync every entry (as the app does), which costs
/// a few milliseconds each on a busy disk: 64 cases by default.
fn synced_config() -> ProptestConfig {
    config_with(64)
}

fn config_with(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config.failure_persistence = None;
    config.max_global_rejects = config.cases.max(1024);
    config
}

/// 0000-01-01 to 9999-12-31, in Unix milliseconds: what RFC 3339's four-digit year covers.
const FIRST_MS: i64 = -62_167_219_200_000;
const LAST_MS: i64 = 253_402_300_799_999;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9 ,\"=+@#\\-\n\r\t]{0,20}",
        prop::sample::select(vec![
            "张伟",
            "身份令牌无效或已过期",
            "ΑΣ",
            "İstanbul",
            "ß",
            ""
        ])
        .prop_map(str::to_owned),
    ]
}

fn entry() -> impl Strategy<Value = AuditEntry> {
    (
        prop_oneof![(FIRST_MS..=LAST_MS).prop_map(rfc3339_utc), text()],
        (text(), text(), text(), text(), text()),
        (
            any::<Option<u64>>(),
            prop::option::of(text()),
            any::<Option<u64>>(),
        ),
        (text(), "[0-9a-f]{8}"),
        prop::sample::select(vec![REVOKED, ALREADY_INVALID, ERROR]),
        (
            any::<Option<i64>>(),
            prop::option::of(text()),
            prop::option::of(text()),
        ),
    )
        .prop_map(
            |(
                time,
                (tool, actor, profile, server, app_code),
                (user_id, user_name, record_id),
                (kind, fingerprint),
                result,
                (code, error, msg),
            )| AuditEntry {
                time,
                tool,
                actor,
                profile,
                server,
                app_code,
                user_id,
                user_name,
                record_id,
                kind,
                fingerprint,
                result: result.to_owned(),
                attempt_id: None,
                code,
                error,
                msg,
            },
        )
}

/// A line that is not an entry: never blank, never JSON (`x…`), or an entry's line cut short.
fn garbage_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..80).prop_map(|mut bytes| {
            bytes.retain(|&b| b != b'\n');
            bytes.insert(0, b'x');
            bytes
        }),
        (entry(), any::<prop::sample::Index>()).prop_map(|(entry, cut)| {
            let line = serde_json::to_vec(&entry).expect("serialises");
            line[..1 + cut.index(line.len() - 1)].to_vec()
        }),
    ]
}

fn line_of(entry: &AuditEntry) -> Vec<u8> {
    let mut line = serde_json::to_vec(entry).expect("serialises");
    line.push(b'\n');
    line
}

/// A tiny RFC 4180 reader, to check the export cell by cell.
fn read_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut cell = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut cell)),
            (false, '\r') if chars.peek() == Some(&'\n') => {
                chars.next();
                record.push(std::mem::take(&mut cell));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => cell.push(c),
        }
    }
    assert!(
        cell.is_empty() && record.is_empty() && !quoted,
        "CSV ends mid-record"
    );
    records
}

fn defused(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

#[derive(Debug, Clone)]
enum Event {
    Attempt(usize),
    Result(usize),
    /// A result entry from before attempts were logged.
    Lone(Box<AuditEntry>),
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_files_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("audit.jsonl");
        std::fs::write(&path, &bytes).expect("write");
        let read = read_entries(&path).expect("reads");
        let lines = String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count();
        prop_assert!(read.entries.len() + read.unreadable_lines <= lines);
        let _ = search(&read.entries, "a b");
        let _ = to_csv(&read.entries);
    }

    #[test]
    fn search_finds_what_an_entry_shows(
        entries in prop::collection::vec(entry(), 1..8),
        pick in any::<prop::sample::Index>(),
        field in 0usize..9,
        span in any::<(prop::sample::Index, prop::sample::Index)>(),
        upper in any::<bool>(),
    ) {
        prop_assert_eq!(search(&entries, "").len(), entries.len());
        prop_assert_eq!(search(&entries, " \t\n").len(), entries.len());
        // Newest first.
        let found = search(&entries, "");
        let times: Vec<i64> = found.iter().map(|e| e.time_ms().unwrap_or(i64::MIN)).collect();
        prop_assert!(times.windows(2).all(|w| w[0] >= w[1]), "{:?}", times);
        // Any run of a field's text (between whitespace), in any case, finds its entry.
        let entry = pick.get(&entries);
        let value = [
            &entry.time, &entry.tool, &entry.actor, &entry.profile, &entry.server,
            &entry.app_code, &entry.kind, &entry.fingerprint,
            entry.msg.as_ref().unwrap_or(&entry.result),
        ][field];
        let word: Vec<char> = value.split_whitespace().next().unwrap_or("").chars().collect();
        prop_assume!(!word.is_empty());
        let (a, b) = (span.0.index(word.len()), span.1.index(word.len()));
        let word: String = word[a.min(b)..=a.max(b)].iter().collect();
        let query = if upper { word.to_uppercase() } else { word.clone() };
        prop_assume!(query.chars().flat_map(char::to_lowercase).eq(word.chars().flat_map(char::to_lowercase)));
        prop_assert!(entry.matches(&query), "{:?} does not find {:?}", query, value);
        let found = search(&entries, &query);
        prop_assert!(found.contains(&entry));
        prop_assert!(found.iter().all(|e| e.matches(&query)));
    }

    #[test]
    fn csv_holds_every_field(entries in prop::collection::vec(entry(), 0..8)) {
        let csv = to_csv(&entries);
        let body = csv.strip_prefix('\u{feff}').expect("BOM");
        let records = read_csv(body);
        prop_assert_eq!(records.len(), entries.len() + 1);
        prop_assert_eq!(records[0].len(), 15);
        for (record, e) in records[1..].iter().zip(&entries) {
            let number = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
            let expected = [
                e.time.clone(), e.tool.clone(), e.actor.clone(), e.profile.clone(),
                e.server.clone(), e.app_code.clone(), number(e.user_id),
                e.user_name.clone().unwrap_or_default(), number(e.record_id), e.kind.clone(),
                e.fingerprint.clone(), e.result.clone(),
                e.code.map(|c| c.to_string()).unwrap_or_default(),
                e.error.clone().unwrap_or_default(), e.msg.clone().unwrap_or_default(),
            ];
            let expected: Vec<String> = expected.iter().map(|c| defused(c)).collect();
            prop_assert_eq!(record, &expected);
        }
    }

    #[test]
    fn times_round_trip(ms in FIRST_MS..=LAST_MS, junk in any::<String>()) {
        prop_assert_eq!(parse_rfc3339(&rfc3339_utc(ms)), Some(ms));
        let _ = parse_rfc3339(&junk);
        let _ = parse_rfc3339(&format!("2025-03-01T08:05:0{junk}"));
    }
}

proptest! {
    #![proptest_config(synced_config())]

    #[test]
    fn entries_round_trip(entries in prop::collection::vec(entry(), 0..6)) {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = AuditLog::new(dir.path().join("logs/audit.jsonl"));
        for entry in &entries {
            log.append(entry).expect("append");
        }
        let read = log.read().expect("reads");
        prop_assert_eq!(&read.entries, &entries);
        prop_assert_eq!(read.unreadable_lines, 0);
        prop_assert_eq!(read_entries(log.path()).expect("reads").entries, entries);
    }

    #[test]
    fn attempts_pair_with_results_in_any_order(
        attempts in prop::collection::vec((entry(), any::<bool>(), any::<prop::sample::Index>()), 0..6),
        lone in prop::collection::vec((entry(), any::<prop::sample::Index>()), 0..3),
    ) {
        // The file: attempts in order, each result somewhere after its attempt, old-style
        // entries anywhere.
        let mut events: Vec<Event> = (0..attempts.len()).map(Event::Attempt).collect();
        for (i, (_, answered, at)) in attempts.iter().enumerate() {
            if *answered {
                let after = events.iter().position(|e| matches!(e, Event::Attempt(j) if *j == i))
                    .expect("attempt") + 1;
                events.insert(after + at.index(events.len() - after + 1), Event::Result(i));
            }
        }
        for (entry, at) in &lone {
            events.insert(at.index(events.len() + 1), Event::Lone(Box::new(entry.clone())));
        }
        let id = |i: usize| format!("5f0e33c1-{i}");
        let dir = tempfile::tempdir().expect("temp dir");
        let log = AuditLog::new(dir.path().join("audit.jsonl"));
        let mut expected = Vec::new();
        for event in &events {
            match event {
                Event::Attempt(i) => {
                    let mut attempt = attempts[*i].0.clone();
                    attempt.result = ATTEMPT.to_owned();
                    attempt.attempt_id = Some(id(*i));
                    log.append(&attempt).expect("append");
                    let (mut shown, answered, _) = attempts[*i].clone();
                    shown.attempt_id = Some(id(*i));
                    if !answered {
                        // The program stopped before the answer came in.
                        shown = attempt;
                        shown.result = UNKNOWN.to_owned();
                    }
                    expected.push(shown);
                }
                Event::Result(i) => {
                    let mut result = attempts[*i].0.clone();
                    result.attempt_id = Some(id(*i));
                    log.append(&result).expect("append");
                }
                Event::Lone(entry) => {
                    log.append(entry).expect("append");
                    expected.push(*entry.clone());
                }
            }
        }
        let read = read_entries(log.path()).expect("reads");
        prop_assert_eq!(read.entries, expected);
        prop_assert_eq!(read.unreadable_lines, 0);
    }

    #[test]
    fn garbage_and_a_crash_cost_only_themselves(
        lines in prop::collection::vec(
            prop_oneof![entry().prop_map(Ok), garbage_line().prop_map(Err)], 0..12),
        cut in prop::option::of(any::<prop::sample::Index>()),
        crlf in any::<bool>(),
        next in entry(),
    ) {
        let mut file = Vec::new();
        let mut ends = Vec::new();
        for line in &lines {
            match line {
                Ok(entry) => file.extend(line_of(entry)),
                Err(garbage) => {
                    file.extend_from_slice(garbage);
                    file.push(b'\n');
                }
            }
            if crlf {
                // CRLF endings (the file edited on Windows) read the same.
                file.insert(file.len() - 1, b'\r');
            }
            ends.push(file.len());
        }
        // A crash: the file ends anywhere, maybe in the middle of a line.
        let len = cut.map_or(file.len(), |cut| cut.index(file.len() + 1));
        file.truncate(len);
        let mut expected = Vec::new();
        let mut unreadable = 0;
        let mut start = 0;
        for (line, end) in lines.iter().zip(&ends) {
            // Cut after the JSON but before its line ending: still whole.
            let body_end = end - 1 - usize::from(crlf);
            match (line, body_end <= len) {
                (_, _) if start >= len => break,
                (Ok(entry), true) => expected.push(entry.clone()),
                _ => unreadable += 1,
            }
            start = *end;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("audit.jsonl");
        std::fs::write(&path, &file).expect("write");
        let read = read_entries(&path).expect("reads");
        prop_assert_eq!(&read.entries, &expected);
        prop_assert_eq!(read.unreadable_lines, unreadable);
        // The next run appends after the cut-off line, on a line of its own.
        let log = AuditLog::new(&path);
        log.append(&next).expect("append");
        expected.push(next);
        let read = read_entries(&path).expect("reads");
        prop_assert_eq!(read.entries, expected);
        prop_assert_eq!(read.unreadable_lines, unreadable);
    }
}
