//! The web layer's one error type.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An API error: client errors say exactly what was wrong; server errors are
/// logged in full and reported to the client without details.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (syntax, encoding, parameters).
    #[error("{0}")]
    BadRequest(String),
    /// The request is well-formed but its content is refused.
    #[error("{0}")]
    Unprocessable(String),
    /// The thing addressed does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The act conflicts with the state of the thing (a request decided already).
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than the node accepts.
    #[error("request body is larger than the {0} bytes this node accepts")]
    TooLarge(usize),
    /// The content type is not one this endpoint reads.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// No valid credential: not signed in, an unknown, expired or revoked session or token,
    /// a token with a bad signature or audience.
    #[error("{0}")]
    Unauthorized(String),
    /// Signed in, but the policy refuses the act (the role, the scope, the case, a missing
    /// purpose); the refusal is in the audit log.
    #[error("{0}")]
    Forbidden(String),
    /// Too many failed logins for the account; try later.
    #[error("{0}")]
    TooManyRequests(String),
    /// What is asked for cannot be had now (a camera sends no picture, a tool the node needs
    /// is missing); asking again later may work.
    #[error("{0}")]
    Unavailable(String),
    /// Something failed inside the node.
    #[error("internal error")]
    Internal(String),
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: String,
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unprocessable(_) => "unprocessable",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::TooLarge(_) => "too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::TooManyRequests(_) => "too_many_requests",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(detail) = &self {
            tracing::error!(%detail, "internal error serving a request");
        }
        let status = self.status();
        let mut response = (status, Json(Body { error: self.code(), message: self.to_string() })).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"limes\""),
            );
        }
        response
    }
}

impl From<limes_store::StoreError> for ApiError {
    fn from(e: limes_store::StoreError) -> Self {
        match e {
            limes_store::StoreError::NotFound(what) => Self::NotFound(format!("{what} not found")),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::Internal(e.to_string())
    }
}
