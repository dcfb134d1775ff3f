//! TLS: rustls with the operating system's certificate verifier (reqwest's rustls backend uses
//! rustls-platform-verifier), so a campus TLS-inspection proxy or an internal CA that the system
//! trusts works as it does in the browser; ring is the crypto provider.

use std::sync::Once;

/// Makes ring the process's rustls crypto provider unless one is installed already. reqwest
/// (built without a provider of its own) panics when it builds a client without one, so every
/// HTTP client of the workspace calls this first; it is cheap after the first call.
pub fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Err only means another provider is installed already, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
