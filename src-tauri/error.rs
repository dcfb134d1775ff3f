//! One error path for every command: whatever fails becomes a [`CommandError`], and
//! [`AppState::reject`] turns it into the `{code, message, …}` reply (docs/ipc.md, "Errors")
//! in the UI's language.

use account::{AccountError, ErrorReply};
use support::SupportError;

use crate::AppState;

#[derive(Debug)]
pub enum CommandError {
    Account(AccountError),
    Support(SupportError),
}

impl CommandError {
    /// Something that is neither the user's nor the server's doing (code `internal`).
    pub fn internal(message: impl Into<String>) -> Self {
        CommandError::Account(AccountError::Internal(message.into()))
    }
}

impl From<AccountError> for CommandError {
    fn from(err: AccountError) -> Self {
        CommandError::Account(err)
    }
}

impl From<SupportError> for CommandError {
    fn from(err: SupportError) -> Self {
        CommandError::Support(err)
    }
}

impl AppState {
    /// The reply a command rejects with.
    pub fn reject(&self, err: impl Into<CommandError>) -> ErrorReply {
        match err.into() {
            CommandError::Account(err) => self.service.reply_for(&err),
            CommandError::Support(err) => ErrorReply {
                code: err.code().to_owned(),
                message: support::messages::explain(&err, &self.service.locale()),
                server_code: None,
                server_msg: None,
                http_status: None,
            },
        }
    }
}
