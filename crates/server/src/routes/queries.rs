//! `POST /api/v1/queries/plates`: asks partner agencies whether they saw a plate, without them
//! learning which (hit/no-hit through `limes-link`'s oblivious PRF queries).
//!
//! The caller needs `queries.ask` and a declared purpose; the partners asked are those named,
//! or every partner whose sharing agreement lets this node ask about its plate sightings for
//! that purpose. The consultation is logged before anything is asked (as every act on
//! personal data), and the link logs each partner's answer with the same purpose and case.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use limes_access::Operation;
use limes_audit::Object;
use limes_link::{Asking, LinkError};
use limes_model::AgencyId;
use serde::{Deserialize, Serialize};

use super::{body_bytes, json, utf8};
use crate::{ApiError, AppState, Caller};

/// The most partners one query names.
const MAX_PARTNERS: usize = 64;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AskBody {
    /// The plate, as written or read (separators, Cyrillic look-alikes and case do not matter).
    plate: String,
    /// The plate's country, for the grammar repair of its text (optional).
    #[serde(default)]
    country: Option<String>,
    /// The partners to ask (default: every partner whose agreement allows it).
    #[serde(default)]
    partners: Option<Vec<String>>,
}

/// One partner's answer, or why there is none.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(super) enum PartnerAnswer {
    Answered {
        partner: AgencyId,
        hit: bool,
        /// The partner saw the plate as written: the reference a full-data request names.
        exact_reference: Option<String>,
        /// The partner saw plates that read alike (the plate itself included), one reference
        /// each.
        folded_references: Vec<String>,
    },
    Failed {
        partner: AgencyId,
        error: String,
        /// When the partner refused because this node used up its budget there.
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_seconds: Option<u64>,
    },
}

pub(super) async fn ask(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Result<Json<Vec<PartnerAnswer>>, ApiError> {
    let bytes = body_bytes(&state, body).await?;
    let b: AskBody = json("query", utf8(&bytes)?)?;
    let country = super::country_param(b.country.as_deref())?;
    let plate =
        limes_plate::normalize(&b.plate, country).map_err(|e| ApiError::Unprocessable(format!("plate: {e}")))?.text;
    let grant =
        state.authorize(&caller, Operation::QueriesAsk, &state.access.node(), Object::plate(plate.as_str())).await?;
    let link = state
        .federation
        .get()
        .map(|f| f.link.clone())
        .ok_or_else(|| ApiError::NotFound("this node has no [federation] section: it has no partners".into()))?;
    let purpose = grant.purpose.ok_or_else(|| ApiError::Internal("a query was allowed without a purpose".into()))?;
    let partners = match b.partners {
        Some(named) => {
            if named.len() > MAX_PARTNERS {
                return Err(ApiError::Unprocessable(format!("at most {MAX_PARTNERS} partners per query")));
            }
            let known: Vec<AgencyId> =
                link.partners().into_iter().filter(|p| p.revoked.is_none()).map(|p| p.agency).collect();
            let mut out = Vec::with_capacity(named.len());
            for name in named {
                let agency = AgencyId::new(name.as_str()).map_err(|e| ApiError::BadRequest(e.to_string()))?;
                if !known.contains(&agency) {
                    return Err(ApiError::Unprocessable(format!("{agency} is not a partner of this node")));
                }
                if !out.contains(&agency) {
                    out.push(agency);
                }
            }
            out
        }
        None => link.hitquery_partners(&purpose.purpose),
    };
    let asking = Asking {
        actor: caller.actor(),
        role: caller.principal.role_text(),
        purpose: purpose.purpose,
        legal_basis: purpose.legal_basis,
        case_ref: purpose.case_ref,
    };
    let plates = [plate];
    let answers = futures::future::join_all(partners.iter().map(|p| link.ask_plates(p, &plates, &asking))).await;
    Ok(Json(
        partners
            .into_iter()
            .zip(answers)
            .map(|(partner, answer)| match answer {
                Ok(answers) => PartnerAnswer::Answered {
                    partner,
                    hit: answers[0].is_hit(),
                    exact_reference: answers[0].exact.map(|r| r.to_string()),
                    folded_references: answers[0].folded.iter().map(ToString::to_string).collect(),
                },
                Err(e) => PartnerAnswer::Failed {
                    retry_after_seconds: match &e {
                        LinkError::PartnerRefused { retry_after, .. } => retry_after.map(|d| d.as_secs()),
                        _ => None,
                    },
                    partner,
                    error: e.to_string(),
                },
            })
            .collect(),
    ))
}
