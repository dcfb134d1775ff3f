//! Avatars, fetched by Rust (the web view has no network) and handed to the UI as data URLs.
//! Only https, or the profile's own loopback server (the emulator); at most 2 MiB; image types
//! only; cached on disk so the avatar still shows offline.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use url::Url;

pub const MAX_AVATAR_BYTES: usize = 2 * 1024 * 1024;
/// Redirects followed at most; each hop is checked like the first URL.
pub const MAX_AVATAR_REDIRECTS: usize = 3;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AvatarError {
    #[error("avatar URL not allowed: {0}")]
    NotAllowed(String),
    #[error("avatar download failed: {0}")]
    Download(String),
    #[error("avatar is larger than 2 MiB")]
    TooLarge,
    #[error("avatar is not an image")]
    NotAnImage,
}

pub struct AvatarCache {
    dir: PathBuf,
    http: reqwest::Client,
}

impl AvatarCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        geniusauth::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            // Redirects are followed by hand in `fetch`, so that every hop is checked.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("genius-account/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        AvatarCache {
            dir: dir.into(),
            http,
        }
    }

    fn path_for(&self, url: &str) -> PathBuf {
        self.dir.join(hex::encode(Sha256::digest(url.as_bytes())))
    }

    /// The cached avatar, if any, as a data URL.
    pub fn cached(&self, url: &str) -> Option<String> {
        let bytes = std::fs::read(self.path_for(url)).ok()?;
        image_type(&bytes).map(|mime| data_url(mime, &bytes))
    }

    /// Downloads (or re-downloads) the avatar, caches it and returns it as a data URL.
    /// Every redirect target must pass the same rule as the URL itself.
    pub async fn fetch(&self, url: &str, server: &str) -> Result<String, AvatarError> {
        let download = |e: reqwest::Error| AvatarError::Download(e.without_url().to_string());
        check_allowed(url, server)?;
        let mut current = Url::parse(url).map_err(|_| AvatarError::NotAllowed(url.to_owned()))?;
        let mut redirects = 0;
        let response = loop {
            let response = self
                .http
                .get(current.clone())
                .send()
                .await
                .map_err(download)?;
            if !response.status().is_redirection() {
                break response.error_for_status().map_err(download)?;
            }
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| {
                    AvatarError::Download(format!(
                        "HTTP {} without a Location",
                        response.status().as_u16()
                    ))
                })?;
            let next = current
                .join(location)
                .map_err(|_| AvatarError::NotAllowed(location.to_owned()))?;
            check_allowed(next.as_str(), server)?;
            redirects += 1;
            if redirects > MAX_AVATAR_REDIRECTS {
                return Err(AvatarError::Download(format!(
                    "more than {MAX_AVATAR_REDIRECTS} redirects"
                )));
            }
            current = next;
        };
        if response
            .content_length()
            .is_some_and(|n| n > MAX_AVATAR_BYTES as u64)
        {
            return Err(AvatarError::TooLarge);
        }
        let mut bytes = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(download)?;
            if bytes.len() + chunk.len() > MAX_AVATAR_BYTES {
                return Err(AvatarError::TooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        let mime = image_type(&bytes).ok_or(AvatarError::NotAnImage)?;
        if std::fs::create_dir_all(&self.dir).is_ok() {
            let _ = std::fs::write(self.path_for(url), &bytes);
        }
        Ok(data_url(mime, &bytes))
    }
}

/// https anywhere; plain http only to the profile's own loopback server (the emulator).
pub fn check_allowed(url: &str, server: &str) -> Result<(), AvatarError> {
    let parsed = Url::parse(url).map_err(|_| AvatarError::NotAllowed(url.to_owned()))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => {
            let server = Url::parse(server).map_err(|_| AvatarError::NotAllowed(url.to_owned()))?;
            let loopback = matches!(server.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
            if loopback && parsed.origin() == server.origin() {
                Ok(())
            } else {
                Err(AvatarError::NotAllowed(url.to_owned()))
            }
        }
        _ => Err(AvatarError::NotAllowed(url.to_owned())),
    }
}

/// Sniffs the image type from its first bytes: the server's Content-Type is not trusted.
fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

fn data_url(mime: &str, bytes: &[u8]) -> String {
    format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_the_loopback_server() {
        assert!(check_allowed("https://cdn.example/a.png", "https://v.ncuos.com").is_ok());
        assert!(check_allowed(
            "http://127.0.0.1:4780/avatars/1.png",
            "http://127.0.0.1:4780"
        )
        .is_ok());
        assert!(check_allowed("http://127.0.0.1:9999/a.png", "http://127.0.0.1:4780").is_err());
        assert!(check_allowed("http://cdn.example/a.png", "https://v.ncuos.com").is_err());
        assert!(check_allowed("file:///etc/passwd", "https://v.ncuos.com").is_err());
    }

    #[test]
    fn sniffs_images_only() {
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(image_type(b"<html>"), None);
    }
}
