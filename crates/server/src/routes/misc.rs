//! Health, statistics and plate normalisation.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;

use crate::{ApiError, AppState, StatsSnapshot};

pub(super) async fn health() -> &'static str {
    "ok"
}

pub(super) async fn stats(State(state): State<AppState>) -> Json<StatsSnapshot> {
    Json(state.stats())
}

#[derive(Deserialize)]
pub(super) struct NormalizeParams {
    text: String,
    country: Option<String>,
}

pub(super) async fn normalize(Query(p): Query<NormalizeParams>) -> Result<Json<limes_plate::Normalized>, ApiError> {
    let country = p
        .country
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(limes_plate::CountryCode::parse)
        .transpose()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    limes_plate::normalize(&p.text, country).map(Json).map_err(|e| ApiError::Unprocessable(format!("plate: {e}")))
}
