//! Everything a [`Client`](crate::Client) needs to know before its first call.

use std::time::Duration;

use url::Url;

use crate::error::Error;
use crate::secret::AppSecret;

/// The production server.
pub const DEFAULT_BASE_URL: &str = "https://v.ncuos.com";
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Replies of this API are a few KiB; anything near 1 MiB is a misbehaving server or proxy.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// Client settings. Build with [`Config::new`] and adjust with the `with_*` methods.
#[derive(Debug, Clone)]
pub struct Config {
    /// Server root, e.g. `https://v.ncuos.com`; a path prefix is kept.
    pub base_url: Url,
    pub app_code: String,
    pub app_secret: AppSecret,
    /// Time allowed to open the TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Time allowed for a whole call, reading the reply included.
    pub request_timeout: Duration,
    /// Replies longer than this fail with [`Error::BodyTooLarge`].
    pub max_body_bytes: usize,
    /// Seconds added to this machine's clock when stamping a request (`timeStamp`). The server
    /// rejects stamps more than 5 minutes old or 10 s ahead (code 9), so a machine with a wrong
    /// clock can correct for it here.
    pub clock_offset_secs: i64,
}

impl Config {
    /// Settings for the production server with the default timeouts and limits.
    pub fn new(app_code: impl Into<String>, app_secret: impl Into<AppSecret>) -> Self {
        Self {
            base_url: Url::parse(DEFAULT_BASE_URL).expect("default base URL is valid"),
            app_code: app_code.into(),
            app_secret: app_secret.into(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            clock_offset_secs: 0,
        }
    }

    /// Point the client at another server (pre-release, or a local emulator).
    /// Only `http` and `https` URLs are accepted.
    pub fn with_base_url(mut self, base_url: &str) -> Result<Self, Error> {
        self.base_url = parse_base_url(base_url)?;
        Ok(self)
    }

    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    pub fn with_max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    pub fn with_clock_offset_secs(mut self, offset: i64) -> Self {
        self.clock_offset_secs = offset;
        self
    }
}

/// Parses a server root URL, refusing anything but http(s) with a host.
pub fn parse_base_url(base_url: &str) -> Result<Url, Error> {
    let url = Url::parse(base_url.trim())
        .map_err(|e| Error::InvalidInput(format!("server URL {base_url:?} is not valid: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Error::InvalidInput(format!(
            "server URL {base_url:?} must be an http:// or https:// URL with a host"
        )));
    }
    Ok(url)
}
