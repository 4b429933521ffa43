//! Health, statistics and plate normalisation.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;

use crate::{ApiError, AppState, Caller, StatsSnapshot};
use limes_access::Operation;
use limes_audit::Object;

pub(super) async fn health() -> &'static str {
    "ok"
}

pub(super) async fn stats(State(state): State<AppState>, caller: Caller) -> Result<Json<StatsSnapshot>, ApiError> {
    state.authorize(&caller, Operation::StatsView, &state.access.node(), Object::new("stats", "node")).await?;
    Ok(Json(state.stats()))
}

#[derive(Deserialize)]
pub(super) struct NormalizeParams {
    text: String,
    country: Option<String>,
}

/// Any signed-in caller may normalise a plate: it reads no stored data.
pub(super) async fn normalize(
    _caller: Caller,
    Query(p): Query<NormalizeParams>,
) -> Result<Json<limes_plate::Normalized>, ApiError> {
    let country = super::country_param(p.country.as_deref())?;
    limes_plate::normalize(&p.text, country).map(Json).map_err(|e| ApiError::Unprocessable(format!("plate: {e}")))
}
