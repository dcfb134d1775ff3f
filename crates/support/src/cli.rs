//! Auditing for `geniusctl revoke --audit-log PATH`: the same record format as the app, with
//! `tool` = `geniusctl` and `profile` = `geniusctl`.

use std::collections::HashMap;
use std::io;
use std::path::Path;

use geniusauth::Client;

use crate::audit::{current_actor, AuditEntry, AuditLog};
use crate::owners::OwnerDirectory;
use crate::revoke::{attempt_entry, result_entry, AuditContext, Outcome, Subject};

/// An open audit log and the owners' names of the tokens about to be revoked.
pub struct CliAudit {
    log: AuditLog,
    context: AuditContext,
    names: HashMap<u64, String>,
}

impl CliAudit {
    /// Opens (creates) the log at `path` now, so that an unwritable path fails before anything
    /// is revoked, and looks up the owners of `tokens` (in batches; a failed lookup only leaves
    /// the names out).
    pub async fn open(
        path: &Path,
        client: &Client,
        server: &str,
        tokens: &[String],
    ) -> io::Result<CliAudit> {
        let log = AuditLog::open(path)?;
        let directory = OwnerDirectory::new();
        let ids: Vec<u64> = tokens
            .iter()
            .filter_map(|t| Subject::of_token(t).user_id)
            .collect();
        directory.resolve(client, ids.iter().copied(), |_| {}).await;
        let names = ids
            .iter()
            .filter_map(|id| directory.get(*id))
            .filter(|o| o.found)
            .map(|o| (o.id, o.name))
            .collect();
        Ok(CliAudit {
            log,
            context: AuditContext {
                tool: "geniusctl".into(),
                actor: current_actor(),
                profile: "geniusctl".into(),
                server: server.to_owned(),
            },
            names,
        })
    }

    /// Appends the attempt entry of `token` (fsync'd): call it before the request is sent, and
    /// send nothing if it fails.
    pub fn record_attempt(&self, token: &str) -> io::Result<LoggedAttempt> {
        let mut subject = Subject::of_token(token);
        subject.user_name = subject.user_id.and_then(|id| self.names.get(&id).cloned());
        let entry = attempt_entry(&self.context, &subject);
        self.log.append_attempt(&entry)?;
        Ok(LoggedAttempt(entry))
    }

    /// Appends the result of an attempt (fsync'd).
    pub fn record_result(
        &self,
        attempt: LoggedAttempt,
        result: &Result<(), geniusauth::Error>,
    ) -> io::Result<()> {
        let outcome = Outcome::of(result.clone());
        self.log.append_result(&result_entry(&attempt.0, &outcome))
    }
}

/// An attempt on disk, waiting for its result.
pub struct LoggedAttempt(AuditEntry);
