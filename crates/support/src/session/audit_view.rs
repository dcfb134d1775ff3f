//! The Audit log view and its CSV export: the session's log, read back and searched.

use std::path::Path;

use super::view::{AuditEntryView, AuditView};
use super::{SupportError, SupportSession, AUDIT_VIEW_LIMIT};
use crate::audit::{self, AuditRead};

impl SupportSession {
    /// The newest entries matching `query`.
    pub fn audit_view(&self, query: &str) -> Result<AuditView, SupportError> {
        let read = self.read_audit_log()?;
        let matched = audit::search(&read.entries, query);
        Ok(AuditView {
            total: read.entries.len(),
            matched: matched.len(),
            entries: matched
                .into_iter()
                .take(AUDIT_VIEW_LIMIT)
                .map(|entry| AuditEntryView {
                    at: entry.time_ms(),
                    entry: entry.clone(),
                })
                .collect(),
            unreadable_lines: read.unreadable_lines,
            path: self.audit_path(),
        })
    }

    /// Writes the entries matching `query` (newest first) as CSV to `path`; returns how many.
    pub fn export_audit_csv(&self, query: &str, path: &Path) -> Result<usize, SupportError> {
        let read = self.read_audit_log()?;
        let matched = audit::search(&read.entries, query);
        audit::write_file_synced(path, &audit::to_csv(matched.iter().copied()))
            .map_err(|e| SupportError::Io(format!("could not write {}: {e}", path.display())))?;
        Ok(matched.len())
    }

    fn read_audit_log(&self) -> Result<AuditRead, SupportError> {
        self.inner
            .audit
            .read()
            .map_err(|e| SupportError::Io(format!("could not read the audit log: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(time: &str, user: &str, result: &str, fingerprint: &str) -> String {
        format!(
            r#"{{"time":"{time}","tool":"app","actor":"lin","profile":"NCUOS","server":"https://v.ncuos.com","appCode":"Ab3dE6g8","userId":1,"userName":"{user}","recordId":42,"kind":"refresh","fingerprint":"{fingerprint}","result":"{result}"}}"#
        )
    }

    fn session_with_log(lines: &[String]) -> (SupportSession, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        (SupportSession::new(path), dir)
    }

    #[test]
    fn the_view_searches_newest_first_and_counts_unreadable_lines() {
        let (session, dir) = session_with_log(&[
            line("2025-03-01T08:05:09.042Z", "张伟", "revoked", "1a2b3c4d"),
            "{not json".into(),
            line(
                "2025-03-01T08:06:00.000Z",
                "王芳",
                "already_invalid",
                "5e6f7a8b",
            ),
            line("2025-03-01T08:07:00.000Z", "张伟", "error", "9c0d1e2f"),
        ]);
        let view = session.audit_view("张伟").unwrap();
        assert_eq!((view.total, view.matched, view.unreadable_lines), (3, 2, 1));
        let found: Vec<&str> = view
            .entries
            .iter()
            .map(|e| e.entry.fingerprint.as_str())
            .collect();
        assert_eq!(found, ["9c0d1e2f", "1a2b3c4d"]);
        assert_eq!(view.entries[1].at, Some(1_740_816_309_042));
        assert_eq!(
            view.path,
            dir.path().join("audit.jsonl").display().to_string()
        );
        assert_eq!(session.audit_view("张伟 revoked").unwrap().matched, 1);
    }

    #[test]
    fn the_export_writes_what_the_search_matched() {
        let (session, dir) = session_with_log(&[
            line("2025-03-01T08:05:09.042Z", "张伟", "revoked", "1a2b3c4d"),
            line(
                "2025-03-01T08:06:00.000Z",
                "王芳",
                "already_invalid",
                "5e6f7a8b",
            ),
        ]);
        let csv_path = dir.path().join("out.csv");
        assert_eq!(session.export_audit_csv("王芳", &csv_path).unwrap(), 1);
        let csv = std::fs::read_to_string(&csv_path).unwrap();
        assert_eq!(csv.lines().count(), 2, "{csv}");
        assert!(
            csv.contains("5e6f7a8b") && !csv.contains("1a2b3c4d"),
            "{csv}"
        );
        let blocked = dir.path().join("missing/out.csv");
        let err = session.export_audit_csv("", &blocked).unwrap_err();
        assert!(
            matches!(&err, SupportError::Io(m) if m.starts_with("could not write ") && m.contains("missing/out.csv")),
            "{err:?}"
        );
    }

    #[test]
    fn an_unreadable_log_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        // A folder where the log should be.
        let session = SupportSession::new(dir.path());
        let err = session.audit_view("").unwrap_err();
        assert_eq!(err.code(), "io");
        assert!(
            err.to_string().starts_with("could not read the audit log"),
            "{err}"
        );
    }
}
