//! JSON on stdout: one document per call (one line per item for bulk commands).

use std::io::{self, Write};

use serde::Serialize;

use crate::failure::Failure;

/// Prints `value` as one line of JSON. A closed pipe (`geniusctl … | head`) is not an error.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string(value)
        .map_err(|e| Failure::Network(format!("could not format the result: {e}")))?;
    let mut stdout = io::stdout().lock();
    match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
