//! The sharing agreements in force on this node, and the decisions taken with them at send
//! and at receive (the server asks at access).
//!
//! An agreement is put in force only when it loads (coherent, signed by both parties, see
//! `limes-agreement`), names this node's agency with this node's key, and names as the other
//! party a partner already added whose trust anchor has the same key. One agreement is in
//! force per partner; a new one ends the previous one. An agreement that has expired stays
//! "in force" in this table but its own rules deny everything after its last day.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use limes_agreement::{Act, Agreement, Decision, Labels, ProtocolMessage, Question, SharingPolicy};
use limes_audit::{Action, Object};
use limes_federation::MessageType;
use limes_model::AgencyId;
use serde::Serialize;

use crate::{Inner, Link, LinkError};

/// An agreement the node applies.
#[derive(Debug)]
pub struct InForce {
    pub agreement: Agreement,
    pub policy: SharingPolicy,
    pub added: DateTime<Utc>,
}

/// An agreement as administrators and the operations page see it.
#[derive(Debug, Clone, Serialize)]
pub struct AgreementStatus {
    pub id: String,
    pub partner: String,
    pub title: String,
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
    pub added: DateTime<Utc>,
    /// Applied now: not ended, and today within its dates.
    pub in_force: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<String>,
    /// What flows, in plain words (`limes agreement check`'s text).
    pub explanation: String,
    /// The Cedar rules the node evaluates.
    pub rules: Vec<String>,
}

/// Whether messages of this type are the protocol's own, exempt from agreements.
pub fn is_protocol(kind: &MessageType) -> bool {
    ProtocolMessage::ALL.iter().any(|p| p.id() == kind.as_str())
}

pub(crate) type Agreements = HashMap<AgencyId, Arc<InForce>>;

impl Inner {
    pub(crate) fn agreement_with(&self, partner: &AgencyId) -> Option<Arc<InForce>> {
        self.agreements.read().unwrap_or_else(|e| e.into_inner()).get(partner).cloned()
    }

    /// Decides on a data message between this node and `partner` (either direction).
    pub(crate) fn decide(
        &self,
        act: Act,
        from: &str,
        to: &str,
        labels: &Labels,
        approved_request: bool,
        now: DateTime<Utc>,
    ) -> Decision {
        let me = self.config.agency.as_str();
        let partner = if from == me { to } else { from };
        // Passing on a third party's data: only where the agreement with that third party
        // allows it (when sending), or as the sender declares it was allowed (when receiving).
        let onward_permitted = if labels.origin == from {
            true
        } else if act == Act::Send {
            AgencyId::new(labels.origin.as_str()).ok().and_then(|o| self.agreement_with(&o)).is_some_and(|o| {
                o.agreement.onward_permitted(&labels.origin, me, labels.category, labels.onward.is_some())
            })
        } else {
            labels.onward.is_some()
        };
        self.ask(partner, &Question { act, from, to, labels, approved_request, onward_permitted, age_days: 0, now })
    }

    /// Asks the agreement in force with `partner`; without one, nothing is allowed.
    fn ask(&self, partner: &str, question: &Question<'_>) -> Decision {
        match AgencyId::new(partner).ok().and_then(|p| self.agreement_with(&p)) {
            Some(active) => active.policy.decide(question),
            None => Decision {
                allowed: false,
                reason: format!("there is no sharing agreement with {partner} in force"),
                rules: vec![],
            },
        }
    }

    fn load_agreements(&self) -> Result<(), LinkError> {
        let mut map = Agreements::new();
        for stored in self.db.agreements()? {
            if stored.ended.is_some() {
                continue;
            }
            match limes_agreement::load(&stored.text) {
                Ok((agreement, policy)) => {
                    if let Ok(p) = AgencyId::new(stored.partner.as_str()) {
                        map.insert(p, Arc::new(InForce { agreement, policy, added: stored.added }));
                    }
                }
                Err(e) => {
                    tracing::error!(agreement = %stored.id, error = %e, "a stored agreement no longer loads; it is not applied")
                }
            }
        }
        *self.agreements.write().unwrap_or_else(|e| e.into_inner()) = map;
        Ok(())
    }
}

impl Link {
    pub(crate) fn reload_agreements(&self) -> Result<(), LinkError> {
        self.0.load_agreements()
    }

    /// Puts an agreement in force (see the module's documentation for what is checked).
    pub fn add_agreement(&self, text: &str) -> Result<AgreementStatus, LinkError> {
        let (agreement, _) = limes_agreement::load(text).map_err(|e| LinkError::Refused(e.to_string()))?;
        let me = self.0.config.agency.as_str();
        let mine = agreement
            .party(me)
            .ok_or_else(|| LinkError::Refused(format!("this node's agency {me} is not a party to {}", agreement.id)))?;
        if mine.key != self.0.identity.key.public() {
            return Err(LinkError::Refused(format!(
                "{} names another signing key for {me} than this node's ({})",
                agreement.id,
                self.0.identity.key.public()
            )));
        }
        let other = agreement.other(me).map(|p| p.agency.clone()).unwrap_or_default();
        let partner = AgencyId::new(other.as_str())
            .ok()
            .and_then(|a| self.0.partner(&a))
            .ok_or_else(|| LinkError::Refused(format!("add {other} as a partner (its trust anchor) first")))?;
        if agreement.party(&other).map(|p| p.key) != Some(partner.key) {
            return Err(LinkError::Refused(format!(
                "{} names another signing key for {other} than its trust anchor ({})",
                agreement.id, partner.key
            )));
        }
        self.0.db.put_agreement(&agreement.id, &other, text, Utc::now())?;
        self.reload_agreements()?;
        // The partner witnesses this node's log from now on: ask it at once.
        self.0.witness.wake.notify_one();
        self.audit_agreement("agreement.add", &agreement.id, serde_json::json!({ "partner": other }));
        self.agreements()
            .into_iter()
            .find(|a| a.id == agreement.id)
            .ok_or_else(|| LinkError::NotFound(agreement.id.clone()))
    }

    /// Ends an agreement: from now on nothing flows under it.
    pub fn revoke_agreement(&self, id: &str, reason: &str) -> Result<(), LinkError> {
        if !self.0.db.end_agreement(id, &format!("revoked: {reason}"), Utc::now())? {
            return Err(LinkError::NotFound(format!("no agreement {id} in force")));
        }
        self.reload_agreements()?;
        self.audit_agreement("agreement.revoke", id, serde_json::json!({ "reason": reason }));
        Ok(())
    }

    /// Every agreement, ended ones included, newest first.
    pub fn agreements(&self) -> Vec<AgreementStatus> {
        let Ok(stored) = self.0.db.agreements() else { return Vec::new() };
        let today = Utc::now();
        let mut out: Vec<AgreementStatus> = stored
            .into_iter()
            .filter_map(|s| {
                let agreement = Agreement::parse(&s.text).ok()?;
                let policy = SharingPolicy::compile(&agreement).ok();
                let applied = s.ended.is_none()
                    && AgencyId::new(s.partner.as_str()).ok().and_then(|p| self.0.agreement_with(&p)).is_some();
                Some(AgreementStatus {
                    explanation: limes_agreement::explain(&agreement),
                    rules: policy.map(|p| p.rule_ids().to_vec()).unwrap_or_default(),
                    in_force: applied && agreement.in_force(today),
                    id: s.id,
                    partner: s.partner,
                    title: agreement.title,
                    valid_from: agreement.valid_from,
                    valid_until: agreement.valid_until,
                    added: s.added,
                    ended: s.ended.as_ref().map(|e| e.0),
                    end_reason: s.ended.map(|e| e.1),
                })
            })
            .collect();
        out.reverse();
        out
    }

    /// The agreement in force with `partner`.
    pub fn agreement_with(&self, partner: &AgencyId) -> Option<Arc<InForce>> {
        self.0.agreement_with(partner)
    }

    /// What [`Link::send`] would decide for an item with `labels` to `to` now, without
    /// logging anything: for planning what to offer a partner (a refusal `send` makes is
    /// audited; asking here first keeps a periodic sync from logging the same refusal again
    /// and again).
    pub fn decide_send(&self, to: &AgencyId, labels: &Labels, now: DateTime<Utc>) -> Decision {
        let me = self.0.config.agency.as_str();
        // Labels name a request only on what this node releases for a request it approved.
        self.0.decide(Act::Send, me, to.as_str(), labels, labels.request.is_some(), now)
    }

    /// Decides whether data that `from` sent to `to` may be used at this node now, for the
    /// declared purpose (in `labels.purpose`), `age_days` after it arrived.
    pub fn decide_access(&self, from: &str, labels: &Labels, age_days: u32, now: DateTime<Utc>) -> Decision {
        let me = self.0.config.agency.as_str();
        self.0.ask(
            from,
            &Question {
                act: Act::Access,
                from,
                to: me,
                labels,
                approved_request: labels.request.is_some(),
                onward_permitted: true,
                age_days,
                now,
            },
        )
    }

    fn audit_agreement(&self, what: &str, id: &str, details: serde_json::Value) {
        let Some(audit) = self.0.audit.clone() else { return };
        let event = self.0.audit_event(
            self.0.config.agency.as_str(),
            Action::Alter,
            Object::new("agreement", id),
            limes_audit::Outcome::Allowed,
            serde_json::json!({ "change": what, "detail": details }),
        );
        tokio::spawn(async move {
            if let Err(e) = audit.append(event).await {
                tracing::error!(error = %e, "could not log an agreement change");
            }
        });
    }
}
