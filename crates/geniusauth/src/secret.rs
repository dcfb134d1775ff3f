//! The application secret, kept out of every log line.

use std::fmt;

/// The 100-character secret an app gets from the GeniusAuth dashboard.
///
/// It is only ever used as input to the request signature and is never sent over the wire.
/// `Debug` and `Display` print `***` so a secret cannot leak through logs or error messages.
#[derive(Clone, PartialEq, Eq)]
pub struct AppSecret(String);

impl AppSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself. Call this only to compute a signature.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for AppSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppSecret(***)")
    }
}

impl fmt::Display for AppSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for AppSecret {
    fn from(secret: String) -> Self {
        Self(secret)
    }
}

impl From<&str> for AppSecret {
    fn from(secret: &str) -> Self {
        Self(secret.to_owned())
    }
}

// Deserialising lets a secret come from a config file; there is deliberately no `Serialize`.
impl<'de> serde::Deserialize<'de> for AppSecret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_formats_its_value() {
        let secret = AppSecret::new("super-secret-value");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(format!("{secret:?}"), "AppSecret(***)");
        assert_eq!(secret.expose(), "super-secret-value");
    }
}
