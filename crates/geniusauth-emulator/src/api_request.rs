//! What a production handler may read of a request, once gin has routed it.

use std::net::SocketAddr;

use axum::http::Method;

use crate::binding::{bind_form, BindError, BoundFields, Field};
use crate::gin_tree::Lookup;
use crate::route_table::Endpoint;

/// The peer's address, set by the serving loop on every request (Go's `RemoteAddr`).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

pub struct ApiRequest<'a> {
    pub method: &'a Method,
    pub raw_query: &'a str,
    /// gin's `c.ContentType()`: the media type up to the first space or semicolon.
    pub content_type: &'a str,
    pub body: &'a [u8],
    /// The `Host` header (Go's `c.Request.Host`).
    pub host: &'a str,
    /// The route's `:param` values.
    pub route: &'a Lookup<'a, Endpoint>,
}

impl ApiRequest<'_> {
    /// gin's form binding of this request (`Request.ParseForm`).
    pub fn bind_form(&self, fields: &[Field]) -> Result<BoundFields, BindError> {
        bind_form(
            self.method,
            self.content_type,
            self.body,
            self.raw_query,
            fields,
        )
    }
}
