//! API errors: always JSON, `{"error": …, "detail": …}` (plus `suggestions`
//! when there are some), with the status that says whose fault it is.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::orchestrator::OrchestratorError;
use crate::store::StoreError;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Short name of the problem (`not_found`, `invalid_request`, …).
    pub error: String,
    /// What exactly is wrong, for a person.
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<String>,
    /// The intent that recorded the failed request, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent_id: Option<String>,
    /// For a sentence: `[start, end]` character offsets of the word to blame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<[usize; 2]>,
    /// For a sentence with two readings: what to ask the person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    /// The full commands the person can pick to answer the question.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, error: &str, detail: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                error: error.into(),
                detail: detail.into(),
                suggestions: vec![],
                intent_id: None,
                at: None,
                question: None,
                choices: vec![],
            },
        }
    }
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", detail)
    }
    pub fn unprocessable(detail: impl Into<String>, suggestions: Vec<String>) -> Self {
        let mut error = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", detail);
        error.body.suggestions = suggestions;
        error
    }
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", detail)
    }
    pub fn with_suggestions(mut self, suggestions: Vec<String>) -> Self {
        self.body.suggestions = suggestions;
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.body.error, self.body.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }
    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(&self.body)
    }
}

impl From<OrchestratorError> for ApiError {
    fn from(err: OrchestratorError) -> Self {
        match err {
            OrchestratorError::NotFound(what) => ApiError::not_found(format!("{what} not found")),
            OrchestratorError::Conflict(detail) => ApiError::conflict(detail),
            OrchestratorError::Forbidden(detail) => ApiError::forbidden(detail),
            OrchestratorError::Invalid {
                message,
                suggestions,
            } => ApiError::unprocessable(message, suggestions),
            OrchestratorError::Parse(failure) => {
                let mut error =
                    ApiError::unprocessable(failure.error.clone(), failure.suggestions.clone());
                error.body.at = failure.at;
                error.body.question = failure.question().map(str::to_string);
                error.body.choices = failure.choices().to_vec();
                error
            }
            OrchestratorError::Store(store) => store.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => ApiError::not_found(format!("{what} not found")),
            StoreError::Conflict(detail) => ApiError::conflict(detail),
            other => {
                tracing::error!("storage error: {other}");
                ApiError::internal(other.to_string())
            }
        }
    }
}
