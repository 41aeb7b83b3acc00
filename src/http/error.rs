use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use super::signature::SignatureError;

/// Seconds a sender should wait before retrying a 503.
const RETRY_AFTER_SECS: &str = "5";

/// Every way a request can fail, each with its status and a reason the
/// sender can act on. Reasons never hold secrets or request bodies.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("body exceeds the {limit} byte limit of {route}")]
    TooLarge { route: &'static str, limit: usize },
    #[error("body not received within {}", humantime::format_duration(*after))]
    BodyTimeout { after: std::time::Duration },
    #[error("too many unauthenticated bytes in flight, retry later")]
    Busy,
    #[error("{0}")]
    Unauthorized(#[from] SignatureError),
    #[error("{0}")]
    BadRequest(String),
    #[error("queue unavailable, retry later: {0}")]
    Unavailable(String),
    #[error("no such route")]
    NotFound,
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    #[error("internal error: {0}")]
    Internal(String),
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        if matches!(self, ApiError::Unavailable(_) | ApiError::Busy) {
            res.insert_header(("Retry-After", RETRY_AFTER_SECS));
        }
        // The rest of the body may still be on its way: the connection
        // cannot carry another request, and a slow sender is let go.
        if matches!(
            self,
            ApiError::TooLarge { .. } | ApiError::BodyTimeout { .. } | ApiError::Busy
        ) {
            res.force_close();
        }
        res.json(serde_json::json!({ "error": self.to_string() }))
    }
}

impl actix_web::Responder for ApiError {
    type Body = actix_web::body::BoxBody;
    fn respond_to(self, _req: &actix_web::HttpRequest) -> HttpResponse {
        self.error_response()
    }
}
