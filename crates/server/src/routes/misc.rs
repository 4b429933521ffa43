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

/// What a sign-in page shows before anyone signs in: whose node this is, and the purposes its
/// law knows (a declaration names one). No personal data.
#[derive(serde::Serialize)]
pub(super) struct NodeInfo {
    agency: String,
    country: String,
    regime: &'static str,
    purposes: &'static [&'static str],
}

pub(super) async fn node(State(state): State<AppState>) -> Json<NodeInfo> {
    let o = &state.access.options;
    Json(NodeInfo {
        agency: o.agency.clone(),
        country: o.country.clone(),
        regime: o.regime.as_str(),
        purposes: o.regime.purposes(),
    })
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
