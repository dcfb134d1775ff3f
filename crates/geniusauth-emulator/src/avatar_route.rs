//! `GET /avatars/{id}.png`: the identicon the emulator gives users without an avatar.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::avatar::identicon_png;
use crate::state::SharedState;

/// `GET /avatars/{id}.png`: the generated avatar of an existing user.
pub async fn serve(State(state): State<SharedState>, Path(file): Path<String>) -> Response {
    let uid = file
        .strip_suffix(".png")
        .and_then(|id| id.parse::<u64>().ok());
    let exists = match uid {
        Some(uid) => state.store().user(uid).ok().flatten().is_some(),
        None => false,
    };
    match uid {
        Some(uid) if exists => {
            let mut response = identicon_png(uid).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            );
            response
        }
        _ => (StatusCode::NOT_FOUND, "404 page not found").into_response(),
    }
}
