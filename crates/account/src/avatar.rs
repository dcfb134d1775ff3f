//! Avatars, fetched by Rust (the web view has no network) and handed to the UI as data URLs.
//! Only https, or the profile's own loopback server (the emulator); at most 2 MiB; image types
//! only, at most 4096 pixels a side (read from the header); cached on disk so the avatar still
//! shows offline, and in memory (at most 8 MiB, least recently used out first) for the Support
//! view.
//!
//! An avatar URL is someone else's input: it must not make the app reach into the user's own
//! network. A host that is, or resolves to, a loopback, private, link-local or unspecified
//! address (IPv4 and IPv6, v4-mapped included) is refused, unless the profile's server is
//! itself such a host (the emulator on 127.0.0.1). The name is resolved once, by the client's
//! own resolver, and the connection goes to the addresses that were checked: a DNS answer that
//! changes between the check and the connection (rebinding) cannot slip through. Avatars go
//! direct, never through a proxy, so that what is checked is where the request goes.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use url::Url;

pub const MAX_AVATAR_BYTES: usize = 2 * 1024 * 1024;
/// Redirects followed at most; each hop is checked like the first URL.
pub const MAX_AVATAR_REDIRECTS: usize = 3;
/// Widest and tallest avatar, in pixels, from the image's header.
pub const MAX_AVATAR_SIDE: usize = 4096;
/// Avatars held in memory for the Support view, in bytes of their data URLs.
pub const MEMORY_CAP: usize = 8 * 1024 * 1024;

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
    #[error("avatar is {width}x{height} pixels, more than {MAX_AVATAR_SIDE} a side")]
    TooManyPixels { width: usize, height: usize },
}

pub struct AvatarCache {
    dir: PathBuf,
    /// Refuses names that resolve to a local address.
    public_only: reqwest::Client,
    /// For a profile whose server is itself a local host (the emulator).
    local_ok: reqwest::Client,
    memory: Mutex<MemoryCache>,
}

impl AvatarCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        geniusauth::tls::install_crypto_provider();
        let client = |resolver: CheckedResolver| {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(15))
                // Redirects are followed by hand in `fetch`, so that every hop is checked.
                .redirect(reqwest::redirect::Policy::none())
                // A proxy would resolve the name itself, past the check.
                .no_proxy()
                .dns_resolver(Arc::new(resolver))
                .user_agent(concat!("genius-account/", env!("CARGO_PKG_VERSION")))
                .build()
                .unwrap_or_default()
        };
        AvatarCache {
            dir: dir.into(),
            public_only: client(CheckedResolver { allow_local: false }),
            local_ok: client(CheckedResolver { allow_local: true }),
            memory: Mutex::new(MemoryCache::new(MEMORY_CAP)),
        }
    }

    /// The same with another cap on what is held in memory.
    pub fn with_memory_cap(self, cap: usize) -> Self {
        *self.memory.lock().unwrap_or_else(|e| e.into_inner()) = MemoryCache::new(cap);
        self
    }

    /// Bytes of the data URLs held in memory now.
    pub fn memory_bytes(&self) -> usize {
        self.memory.lock().unwrap_or_else(|e| e.into_inner()).used
    }

    /// The avatar for the Support view: from memory, else downloaded, else from the disk
    /// cache; what it returns stays in memory within [`MEMORY_CAP`].
    pub async fn get(&self, url: &str, server: &str) -> Option<String> {
        if let Some(hit) = self
            .memory
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(url)
        {
            return Some(hit.to_string());
        }
        let found = match self.fetch(url, server).await {
            Ok(data_url) => Some(data_url),
            Err(_) => self.cached(url),
        }?;
        self.memory
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(url, Arc::from(found.as_str()));
        Some(found)
    }

    fn path_for(&self, url: &str) -> PathBuf {
        self.dir.join(hex::encode(Sha256::digest(url.as_bytes())))
    }

    /// The cached avatar, if any, as a data URL.
    pub fn cached(&self, url: &str) -> Option<String> {
        let bytes = std::fs::read(self.path_for(url)).ok()?;
        let mime = image_type(&bytes)?;
        check_dimensions(&bytes).ok()?;
        Some(data_url(mime, &bytes))
    }

    /// Downloads (or re-downloads) the avatar, caches it and returns it as a data URL.
    /// Every redirect target must pass the same rule as the URL itself.
    pub async fn fetch(&self, url: &str, server: &str) -> Result<String, AvatarError> {
        let download = |e: reqwest::Error| match refusal(&e) {
            Some(refused) => AvatarError::NotAllowed(refused.to_string()),
            None => AvatarError::Download(e.without_url().to_string()),
        };
        let allow_local = server_is_local(server).await;
        check_allowed(url, server)?;
        check_address(url, allow_local)?;
        let http = if allow_local {
            &self.local_ok
        } else {
            &self.public_only
        };
        let mut current = Url::parse(url).map_err(|_| AvatarError::NotAllowed(url.to_owned()))?;
        let mut redirects = 0;
        let response = loop {
            let response = http.get(current.clone()).send().await.map_err(download)?;
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
            check_address(next.as_str(), allow_local)?;
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
        check_dimensions(&bytes)?;
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

/// An IP-literal host must be public unless the profile's server is local. (Names are checked
/// by the client's resolver, where the connection's addresses come from.)
fn check_address(url: &str, allow_local: bool) -> Result<(), AvatarError> {
    let parsed = Url::parse(url).map_err(|_| AvatarError::NotAllowed(url.to_owned()))?;
    let ip = match parsed.host() {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        Some(url::Host::Domain(_)) => return Ok(()),
        None => return Err(AvatarError::NotAllowed(url.to_owned())),
    };
    if is_local(ip) && !allow_local {
        return Err(AvatarError::NotAllowed(format!("{url}: a local address")));
    }
    Ok(())
}

/// Whether the profile's server is itself on a local address (the emulator): `localhost`, a
/// local IP literal, or a name that resolves to one.
async fn server_is_local(server: &str) -> bool {
    let Ok(parsed) = Url::parse(server) else {
        return false;
    };
    match parsed.host() {
        Some(url::Host::Ipv4(v4)) => is_local(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => is_local(IpAddr::V6(v6)),
        Some(url::Host::Domain(name)) => {
            let name = name.to_ascii_lowercase();
            if name == "localhost" || name.ends_with(".localhost") {
                return true;
            }
            let found = match tokio::net::lookup_host((name.as_str(), 0)).await {
                Ok(mut addrs) => addrs.any(|a| is_local(a.ip())),
                Err(_) => false,
            };
            found
        }
        None => false,
    }
}

/// Loopback, private, link-local, unspecified (and the like: CGNAT, "this network",
/// broadcast, multicast, IPv6 unique-local and site-local), v4-mapped and v4-compatible IPv6
/// by their IPv4 address.
pub fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_local_v4(v4),
        IpAddr::V6(v6) => is_local_v6(v6),
    }
}

fn is_local_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        // 100.64.0.0/10, carrier-grade NAT: the provider's network, not the internet.
        || (a == 100 && (64..128).contains(&b))
}

fn is_local_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_local_v4(v4);
    }
    let first = ip.segments()[0];
    if ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() {
        return true;
    }
    // ::a.b.c.d, the deprecated v4-compatible form (::1 and :: are handled above).
    if ip.segments()[..6] == [0; 6] {
        return is_local_v4(Ipv4Addr::from_bits(ip.to_bits() as u32));
    }
    (first & 0xfe00) == 0xfc00 // fc00::/7 unique local
        || (first & 0xffc0) == 0xfe80 // fe80::/10 link-local
        || (first & 0xffc0) == 0xfec0 // fec0::/10 site-local (deprecated)
}

/// The avatar clients' resolver: resolves a name once and refuses it when any address is local
/// (unless allowed); the connection then goes to exactly these addresses.
struct CheckedResolver {
    allow_local: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to the local address {addr}")]
struct Refused {
    host: String,
    addr: IpAddr,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let allow_local = self.allow_local;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_local {
                if let Some(bad) = addrs.iter().find(|a| is_local(a.ip())) {
                    let refused = Refused {
                        host,
                        addr: bad.ip(),
                    };
                    return Err(Box::new(refused) as Box<dyn std::error::Error + Send + Sync>);
                }
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The resolver's refusal, somewhere in a request error's chain of causes.
fn refusal(err: &reqwest::Error) -> Option<&Refused> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cause {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return Some(refused);
        }
        cause = e.source();
    }
    None
}

/// Width and height from the image's header, before anything decodes the pixels.
fn check_dimensions(bytes: &[u8]) -> Result<(), AvatarError> {
    let size = imagesize::blob_size(bytes).map_err(|_| AvatarError::NotAnImage)?;
    if size.width > MAX_AVATAR_SIDE || size.height > MAX_AVATAR_SIDE {
        return Err(AvatarError::TooManyPixels {
            width: size.width,
            height: size.height,
        });
    }
    Ok(())
}

/// Data URLs by avatar URL, bounded by their total size: the least recently used goes first.
struct MemoryCache {
    cap: usize,
    used: usize,
    tick: u64,
    entries: HashMap<String, (Arc<str>, u64)>,
    by_use: BTreeMap<u64, String>,
}

impl MemoryCache {
    fn new(cap: usize) -> Self {
        MemoryCache {
            cap,
            used: 0,
            tick: 0,
            entries: HashMap::new(),
            by_use: BTreeMap::new(),
        }
    }

    fn cost(url: &str, data: &str) -> usize {
        url.len() + data.len()
    }

    fn get(&mut self, url: &str) -> Option<Arc<str>> {
        self.tick += 1;
        let tick = self.tick;
        let (data, used) = self.entries.get_mut(url)?;
        self.by_use.remove(used);
        *used = tick;
        self.by_use.insert(tick, url.to_owned());
        Some(data.clone())
    }

    fn insert(&mut self, url: &str, data: Arc<str>) {
        self.remove(url);
        let cost = Self::cost(url, &data);
        if cost > self.cap {
            return;
        }
        while self.used + cost > self.cap {
            let Some((_, oldest)) = self.by_use.pop_first() else {
                break;
            };
            if let Some((old, _)) = self.entries.remove(&oldest) {
                self.used -= Self::cost(&oldest, &old);
            }
        }
        self.tick += 1;
        self.used += cost;
        self.by_use.insert(self.tick, url.to_owned());
        self.entries.insert(url.to_owned(), (data, self.tick));
    }

    fn remove(&mut self, url: &str) {
        if let Some((old, used)) = self.entries.remove(url) {
            self.by_use.remove(&used);
            self.used -= Self::cost(url, &old);
        }
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
    fn local_addresses_v4_and_v6() {
        for local in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
        ] {
            assert!(is_local(local.parse().unwrap()), "{local}");
        }
        for public in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "202.117.0.1",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_local(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn the_memory_cache_drops_the_least_recently_used() {
        let mut m = MemoryCache::new(100);
        m.insert("a", Arc::from("x".repeat(39).as_str()));
        m.insert("b", Arc::from("x".repeat(39).as_str()));
        assert_eq!(m.used, 80);
        assert!(m.get("a").is_some());
        m.insert("c", Arc::from("x".repeat(39).as_str()));
        assert!(m.used <= 100);
        assert!(m.get("b").is_none(), "b was the least recently used");
        assert!(m.get("a").is_some() && m.get("c").is_some());
        m.insert("huge", Arc::from("x".repeat(200).as_str()));
        assert!(m.get("huge").is_none());
        assert_eq!(m.used, 80);
    }

    #[test]
    fn sniffs_images_only() {
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(image_type(b"<html>"), None);
    }
}
