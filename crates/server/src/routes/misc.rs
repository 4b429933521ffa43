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
    let country = super::country_param(p.country.as_deref())?;
    limes_plate::normalize(&p.text, country).map(Json).map_err(|e| ApiError::Unprocessable(format!("plate: {e}")))
}
