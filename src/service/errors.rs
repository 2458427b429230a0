//! API errors: always JSON, `{"error": …, "detail": …}` (plus `suggestions`
//! when there are some), with the status that says whose fault it is.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::orchestrator::OrchestratorError;
use crate::store::StoreError;

/// What a 503 for a busy, locked or full database tells the client to wait.
pub const RETRY_AFTER_SECONDS: u32 = 2;

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
    /// For a sentence: where the word to blame is, and the question back.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub sentence: Option<Box<SentenceProblem>>,
}

/// What is wrong with a sentence, beyond the message: the word to blame and
/// the question back with its choices (the intent contract's error shape).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SentenceProblem {
    /// `[start, end]` character offsets of the word to blame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<[usize; 2]>,
    /// For a sentence with two readings: what to ask the person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    /// The full commands the person can pick to answer the question.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
}

impl SentenceProblem {
    pub fn of(failure: &crate::intent::ParseFailure) -> Option<Box<Self>> {
        (failure.at.is_some() || failure.question().is_some()).then(|| {
            Box::new(Self {
                at: failure.at,
                question: failure.question().map(str::to_string),
                choices: failure.choices().to_vec(),
            })
        })
    }
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
    /// Seconds after which the same request may succeed (`Retry-After`).
    pub retry_after: Option<u32>,
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
                sentence: None,
            },
            retry_after: None,
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
    /// 503: the database cannot take the request now; try again after
    /// `retry_after` seconds.
    pub fn unavailable(detail: impl Into<String>, retry_after: u32) -> Self {
        let mut error = Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail);
        error.retry_after = Some(retry_after);
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
        let mut response = HttpResponse::build(self.status);
        if let Some(seconds) = self.retry_after {
            response.insert_header((actix_web::http::header::RETRY_AFTER, seconds.to_string()));
        }
        response.json(&self.body)
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
                error.body.sentence = SentenceProblem::of(&failure);
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
            StoreError::Invalid(detail) => ApiError::unprocessable(detail, vec![]),
            busy if busy.is_unavailable() => {
                tracing::warn!(error = %busy, "storage unavailable; answering 503");
                ApiError::unavailable(
                    format!(
                        "the database cannot take this request now ({busy}); try again shortly"
                    ),
                    RETRY_AFTER_SECONDS,
                )
            }
            other => {
                tracing::error!("storage error: {other}");
                ApiError::internal(other.to_string())
            }
        }
    }
}
