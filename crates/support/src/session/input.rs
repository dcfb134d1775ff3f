//! Pasted text and token files become rows; the connection they are checked against.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use ed25519_dalek::VerifyingKey;

use super::state::{Row, State};
use super::view::{ParseSummary, ProfileView, Progress};
use super::{Connection, Notify, SupportError, SupportSession, SupportSnapshot, MAX_ROWS};
use crate::inspect::{inspect, Inspection};
use crate::owners::OwnerDirectory;
use crate::parse::{parse_tokens, read_token_file};
use crate::time::now_ms;

impl SupportSession {
    /// Finds the tokens in `text`, inspects them and adds them as rows (replacing the list
    /// unless `append`); their owners are looked up in the background.
    pub async fn load_text(
        &self,
        text: &str,
        source: &str,
        append: bool,
        conn: &Connection,
    ) -> Result<SupportSnapshot, SupportError> {
        if self.is_running() {
            return Err(SupportError::Busy);
        }
        let parsed = parse_tokens(text);
        self.use_connection(conn).await;
        let (key, existing, current): (Option<VerifyingKey>, HashSet<String>, usize) =
            self.read(|st| {
                if append {
                    let tokens = st.rows.iter().map(|r| r.token.clone()).collect();
                    (st.key, tokens, st.rows.len())
                } else {
                    (st.key, HashSet::new(), 0)
                }
            });
        let found = parsed.tokens.len();
        let mut duplicates = parsed.duplicates;
        let fresh: Vec<String> = parsed
            .tokens
            .into_iter()
            .filter(|t| {
                let new = !existing.contains(t);
                duplicates += usize::from(!new);
                new
            })
            .collect();
        let summary = |added| ParseSummary {
            added,
            duplicates,
            junk_lines: parsed.junk_lines,
            lines: parsed.lines,
            source: source.to_owned(),
        };
        if found == 0 {
            // Nothing usable at all: keep the current list, say why.
            self.change(Notify::Soon, |st| {
                st.parse = Some(summary(0));
                st.touch();
            });
            return Err(SupportError::NoTokens);
        }
        if current + fresh.len() > MAX_ROWS {
            return Err(SupportError::TooManyTokens { max: MAX_ROWS });
        }
        let now = now_ms() / 1000;
        let inspected = tokio::task::spawn_blocking(move || {
            let inspections = inspect_many(&fresh, key.as_ref(), now);
            fresh.into_iter().zip(inspections).collect::<Vec<_>>()
        })
        .await
        .map_err(|e| SupportError::Io(e.to_string()))?;

        self.change(Notify::WithNext, |st| {
            if st.running() {
                return Err(SupportError::Busy);
            }
            if !append {
                st.rows.clear();
                st.progress = Progress::default();
                st.audit_error = None;
            }
            st.parse = Some(summary(inspected.len()));
            for (token, inspection) in inspected {
                st.next_id += 1;
                st.rows.push(Row::new(st.next_id, token, inspection));
            }
            st.reindex();
            st.touch_all();
            Ok(())
        })?;
        // One event for the rows and the lookup it starts.
        self.spawn_owner_lookup(conn.clone(), Notify::Now);
        Ok(self.status())
    }

    /// Reads a text or CSV file (see [`crate::parse::read_token_file`]) and lists its tokens as
    /// [`SupportSession::load_text`] does, with the file's name as the source.
    pub async fn load_file(
        &self,
        path: &Path,
        append: bool,
        conn: &Connection,
    ) -> Result<SupportSnapshot, SupportError> {
        if self.is_running() {
            return Err(SupportError::Busy);
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let read_path = path.to_owned();
        let text = tokio::task::spawn_blocking(move || read_token_file(&read_path))
            .await
            .map_err(|e| SupportError::Io(e.to_string()))??;
        self.load_text(&text, &name, append, conn).await
    }

    /// Empties the list.
    pub fn clear(&self) -> Result<SupportSnapshot, SupportError> {
        self.change(Notify::Now, |st| {
            if st.running() {
                return Err(SupportError::Busy);
            }
            st.rows.clear();
            st.index.clear();
            st.parse = None;
            st.progress = Progress::default();
            st.audit_error = None;
            st.touch_all();
            Ok(())
        })?;
        Ok(self.status())
    }

    /// Makes `conn` the connection the rows are checked against: on a change, fetches its key,
    /// re-checks every row's signature and forgets owners of the other server. Returns whether
    /// the connection changed. The listener hears of it with the caller's next change.
    pub(super) async fn use_connection(&self, conn: &Connection) -> bool {
        let conn_key = conn.key();
        let known =
            self.read(|st| st.conn_key.as_deref() == Some(conn_key.as_str()) && st.key.is_some());
        if known {
            return false;
        }
        let key = conn
            .client
            .server_public_keys()
            .await
            .and_then(|keys| keys.jwt_verifying_key())
            .map_err(|err| err.to_string());
        self.change(Notify::WithNext, |st| st.connect(conn, conn_key, key))
    }
}

impl State {
    /// See [`SupportSession::use_connection`]: `key` is the server's token key, or why not.
    fn connect(
        &mut self,
        conn: &Connection,
        conn_key: String,
        key: Result<VerifyingKey, String>,
    ) -> bool {
        let changed = self.conn_key.as_deref() != Some(conn_key.as_str());
        self.key_checked = true;
        (self.key, self.key_error) = match key {
            Ok(key) => (Some(key), None),
            Err(err) => (None, Some(err)),
        };
        if changed {
            self.conn_key = Some(conn_key);
            self.profile = Some(ProfileView {
                name: conn.profile.clone(),
                server: conn.server.clone(),
                app_code: conn.client.config().app_code.clone(),
            });
            self.directory = Arc::new(OwnerDirectory::new());
            self.owners.clear();
            self.owner_error = None;
        }
        // Re-check the rows held (few or none on a fresh paste).
        let now = now_ms() / 1000;
        let tokens: Vec<&str> = self.rows.iter().map(|r| r.token.as_str()).collect();
        let inspections = inspect_many(&tokens, self.key.as_ref(), now);
        let any = !inspections.is_empty();
        for (row, inspection) in self.rows.iter_mut().zip(inspections) {
            row.inspection = inspection;
        }
        if any || changed {
            self.touch_all();
        } else {
            self.touch();
        }
        changed
    }
}

/// Inspects `tokens` in order, on every core: a signature check is the costly part, and 10,000
/// of them take about half a second on one core (`cargo bench -p support`).
pub(super) fn inspect_many<T: AsRef<str> + Sync>(
    tokens: &[T],
    key: Option<&VerifyingKey>,
    now: i64,
) -> Vec<Inspection> {
    let inspect_all = |part: &[T]| -> Vec<Inspection> {
        part.iter().map(|t| inspect(t.as_ref(), key, now)).collect()
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    if threads < 2 || tokens.len() < 512 {
        return inspect_all(tokens);
    }
    std::thread::scope(|scope| {
        let parts: Vec<_> = tokens
            .chunks(tokens.len().div_ceil(threads))
            .map(|part| scope.spawn(move || inspect_all(part)))
            .collect();
        parts
            .into_iter()
            .flat_map(|part| {
                part.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::emulator::Server;
    use crate::session::testing::{connection, forged_refresh, session};
    use crate::{SignatureCheck, TokenKind};

    #[test]
    fn many_tokens_are_inspected_in_order_on_every_core() {
        let tokens: Vec<String> = (1..=1500).map(|i| forged_refresh(i % 7, i)).collect();
        let inspections = inspect_many(&tokens, None, 0);
        assert_eq!(inspections.len(), 1500);
        for (i, inspection) in inspections.iter().enumerate() {
            assert_eq!(inspection.record_id, Some(i as u64 + 1));
            assert_eq!(inspection.fingerprint, crate::fingerprint(&tokens[i]));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_paste_replaces_the_list_and_an_append_adds_only_new_tokens() {
        let server = Server::start().await;
        let conn = connection(&server);
        let (session, _events, _dir) = session();
        let uid = server.user_ids()[0];
        let (refresh, access) = server.sign_in(uid).await;
        let text = format!("user,token\nlin,{refresh}\nlin,Bearer {access}\n{refresh}\n");
        let status = session
            .load_text(&text, "text", false, &conn)
            .await
            .unwrap();
        let parse = status.parse.clone().unwrap();
        assert_eq!((parse.added, parse.duplicates), (2, 1));
        assert_eq!((parse.lines, parse.junk_lines), (4, 1));
        assert_eq!(status.key, "ok");
        assert_eq!(status.profile.unwrap().app_code, server.app_code);
        let rows = session.snapshot().rows;
        assert_eq!(rows[0].kind, TokenKind::Refresh);
        assert_eq!(rows[1].kind, TokenKind::Access);
        assert!(rows.iter().all(|r| r.signature == SignatureCheck::Verified));

        // Appending: the known ones are duplicates, the forged one is new and fails its check.
        let forged = forged_refresh(uid, 77);
        let more = format!("{access} {forged}");
        let status = session
            .load_text(&more, "more.txt", true, &conn)
            .await
            .unwrap();
        let parse = status.parse.unwrap();
        assert_eq!((parse.added, parse.duplicates), (1, 1));
        assert_eq!(parse.source, "more.txt");
        let rows = session.snapshot().rows;
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[2].id, 3);
        assert_eq!(rows[2].signature, SignatureCheck::Failed);

        // Replacing: only the new text is left, with new ids.
        session
            .load_text(&forged, "text", false, &conn)
            .await
            .unwrap();
        let rows = session.snapshot().rows;
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].id, rows[0].masked.clone()),
            (4, crate::mask(&forged))
        );
    }

    #[tokio::test]
    async fn text_without_a_token_keeps_the_list_and_says_why() {
        let server = Server::start().await;
        let conn = connection(&server);
        let (session, _events, _dir) = session();
        session
            .load_text(&forged_refresh(1, 1), "text", false, &conn)
            .await
            .unwrap();
        let err = session
            .load_text("hello\n\nnothing here\n", "notes.txt", false, &conn)
            .await
            .unwrap_err();
        assert_eq!(err, SupportError::NoTokens);
        let status = session.status();
        assert_eq!(status.row_count, 1);
        let parse = status.parse.unwrap();
        assert_eq!((parse.added, parse.junk_lines), (0, 2));
        assert_eq!(parse.source, "notes.txt");
    }

    #[tokio::test]
    async fn files_are_listed_under_their_name_and_refused_when_too_large() {
        let server = Server::start().await;
        let conn = connection(&server);
        let (session, _events, dir) = session();
        let path = dir.path().join("export.csv");
        std::fs::write(&path, format!("token\n{}\n", forged_refresh(2, 3))).unwrap();
        let status = session.load_file(&path, false, &conn).await.unwrap();
        assert_eq!(status.parse.unwrap().source, "export.csv");
        assert_eq!(status.row_count, 1);

        let big = dir.path().join("big.txt");
        let file = std::fs::File::create(&big).unwrap();
        file.set_len(crate::parse::MAX_FILE_BYTES + 1).unwrap();
        assert_eq!(
            session.load_file(&big, true, &conn).await.unwrap_err(),
            SupportError::FileTooLarge {
                name: "big.txt".into(),
                max: crate::parse::MAX_FILE_BYTES
            }
        );
        assert_eq!(session.status().row_count, 1, "the list is kept");
    }

    #[tokio::test]
    async fn an_unreachable_server_lists_the_tokens_unchecked() {
        // Nothing listens on the discard port.
        let config = geniusauth::Config::new("Ab3dE6g8", "secret")
            .with_base_url("http://127.0.0.1:9")
            .unwrap();
        let conn = Connection {
            profile: "Offline".into(),
            server: "http://127.0.0.1:9".into(),
            client: geniusauth::Client::new(config).unwrap(),
        };
        let (session, _events, _dir) = session();
        let status = session
            .load_text(&forged_refresh(4, 4), "text", false, &conn)
            .await
            .unwrap();
        assert_eq!(status.key, "unavailable");
        assert!(status.key_error.is_some());
        let row = &session.snapshot().rows[0];
        assert_eq!(row.signature, SignatureCheck::Unavailable);
    }

    #[tokio::test]
    async fn clear_empties_the_list_in_a_new_epoch() {
        let server = Server::start().await;
        let conn = connection(&server);
        let (session, events, _dir) = session();
        let before = session
            .load_text(&forged_refresh(1, 1), "text", false, &conn)
            .await
            .unwrap();
        let status = session.clear().unwrap();
        assert_eq!(status.row_count, 0);
        assert!(status.parse.is_none());
        assert_eq!(status.rows_epoch, before.rows_epoch + 1);
        let last = events.all().pop().unwrap();
        assert_eq!((last.rows_epoch, last.row_count), (status.rows_epoch, 0));
    }
}
