//! What this node shares with partner agencies over `limes-link`, and what it does with what
//! they send.
//!
//! Until sharing agreements exist (roadmap: "Sharing under law"), a partner entry lists the
//! message types the node sends it and accepts from it. Today that is `alert`: an alert raised
//! here goes, in the order alerts are raised, to every partner whose entry lists it (never one
//! about a restricted plate); an alert a partner sends is stored with its origin, numbered
//! with this node's alerts, and pushed on the live stream. It is not passed on (webhooks and
//! MQTT skip it): onward transfer is the partner's to allow.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use limes_federation::MessageType;
use limes_link::{Link, Outgoing, Received};
use limes_model::{AgencyId, CameraId, Demotion, GeoPoint, HotlistReason, MatchKind};
use limes_plate::{CountryCode, PlateText};
use limes_store::{Alert, AlertOrigin, PartnerAlert};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::{AlertEvent, AppState};

/// The message type of an alert.
pub const ALERT: &str = "alert";
/// The stream alerts travel in (one per partner, in the order they were raised).
const ALERT_STREAM: &str = "alerts";

/// An alert as it travels to a partner (version 1 of the `alert` message).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedAlert {
    /// The alert's id on the sending node.
    pub alert_id: i64,
    pub kind: MatchKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demoted: Option<Demotion>,
    pub distance: u8,
    /// The hotlisted plate, canonical.
    pub plate: String,
    /// The text as the camera read it.
    pub read_text: String,
    pub camera: CameraId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera_position: Option<GeoPoint>,
    /// The country the sending node's agency is in.
    pub country: CountryCode,
    pub time: DateTime<Utc>,
    pub created: DateTime<Utc>,
    pub reason: HotlistReason,
    pub priority: u8,
    /// The agency that owns the hotlist entry.
    pub agency: AgencyId,
}

impl SharedAlert {
    fn from_alert(a: &Alert, position: Option<GeoPoint>, country: CountryCode) -> Self {
        Self {
            alert_id: a.id,
            kind: a.kind,
            demoted: a.demoted,
            distance: a.distance,
            plate: a.plate.as_str().to_owned(),
            read_text: a.read_text.clone(),
            camera: a.camera.clone(),
            camera_position: position,
            country,
            time: a.time,
            created: a.created,
            reason: a.reason,
            priority: a.priority,
            agency: a.agency.clone(),
        }
    }

    /// Checks what a partner sent and makes it an alert to store.
    fn into_partner_alert(self, from: &Received) -> Result<PartnerAlert, String> {
        let plate = PlateText::new(&self.plate).map_err(|e| format!("plate {:?}: {e}", self.plate))?;
        if self.read_text.chars().count() > 64 {
            return Err("read_text is longer than 64 characters".into());
        }
        if self.distance > 8 || self.priority > 9 {
            return Err(format!("distance {} or priority {} out of range", self.distance, self.priority));
        }
        Ok(PartnerAlert {
            origin: AlertOrigin {
                agency: from.sender.clone(),
                country: Some(self.country),
                alert_id: self.alert_id,
                message: from.id.to_string(),
                camera_position: self.camera_position,
            },
            entry_id: 0,
            kind: self.kind,
            demoted: self.demoted,
            distance: self.distance,
            plate,
            read_text: self.read_text,
            camera: self.camera,
            time: self.time,
            created: self.created,
            reason: self.reason,
            priority: self.priority,
            agency: self.agency,
        })
    }
}

/// Alerts on their way to partners, in the order they were raised.
#[derive(Debug, Clone)]
pub struct Outbound(mpsc::Sender<Vec<Alert>>);

impl Outbound {
    /// Queues alerts for partners. Waits when the link is this far behind (backpressure on
    /// ingest, rather than memory without bound or alerts dropped).
    pub(crate) async fn share(&self, alerts: &[Alert]) {
        let own: Vec<Alert> = alerts.iter().filter(|a| a.origin.is_none()).cloned().collect();
        if !own.is_empty() && self.0.send(own).await.is_err() {
            tracing::error!("the federation forwarder stopped; alerts are not shared");
        }
    }
}

/// Starts the tasks that share this node's alerts with `link` and apply what partners send.
/// Returns the handle ingest queues alerts on.
pub fn start(state: &AppState, link: Link) -> Outbound {
    let (tx, rx) = mpsc::channel::<Vec<Alert>>(1024);
    tokio::spawn(forward(state.clone(), link.clone(), rx));
    tokio::spawn(apply(state.clone(), link));
    Outbound(tx)
}

async fn forward(state: AppState, link: Link, mut rx: mpsc::Receiver<Vec<Alert>>) {
    let kind = MessageType::new(ALERT).expect("a valid type");
    let country = state.access.options.country.parse::<CountryCode>().ok();
    while let Some(mut alerts) = rx.recv().await {
        // Take what else is waiting: one transaction for many alerts.
        while alerts.len() < 1000 {
            match rx.try_recv() {
                Ok(more) => alerts.extend(more),
                Err(_) => break,
            }
        }
        let recipients = link.recipients(&kind);
        if recipients.is_empty() {
            continue;
        }
        let mut items = Vec::with_capacity(alerts.len() * recipients.len());
        {
            let cameras = crate::read_lock(&state.cameras);
            for a in alerts.iter().filter(|a| !state.is_restricted(a.plate.as_str())) {
                let camera = cameras.get(&a.camera);
                let position = camera.and_then(|c| c.position);
                let Some(country) = camera.map(|c| c.country).or(country) else { continue };
                let payload = match serde_json::to_vec(&SharedAlert::from_alert(a, position, country)) {
                    Ok(p) => p,
                    Err(_) => continue,
                };
                for to in &recipients {
                    items.push(Outgoing {
                        partner: to.clone(),
                        kind: kind.clone(),
                        stream: ALERT_STREAM.into(),
                        payload: payload.clone(),
                        about: Some(format!("alert:{}", a.id)),
                    });
                }
            }
        }
        match link.send(items).await {
            Ok(results) => {
                for e in results.into_iter().filter_map(Result::err) {
                    tracing::error!(error = %e, "an alert was not queued for a partner");
                }
            }
            Err(e) => tracing::error!(error = %e, "alerts were not queued for partners"),
        }
    }
}

/// Applies what partners sent, once each: store, then push on the live stream, then mark.
async fn apply(state: AppState, link: Link) {
    loop {
        let received = match link.received(500).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "reading the federation inbox");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        let mut alerts = Vec::new();
        for r in &received {
            match r.kind.as_str() {
                ALERT => match serde_json::from_slice::<SharedAlert>(&r.payload)
                    .map_err(|e| e.to_string())
                    .and_then(|a| a.into_partner_alert(r))
                {
                    Ok(a) => alerts.push(a),
                    Err(e) => {
                        tracing::warn!(partner = %r.sender, message = %r.id, error = %e, "a partner's alert is not valid; dropped")
                    }
                },
                other => {
                    tracing::warn!(partner = %r.sender, message = %r.id, kind = other, "no handler for this message type; dropped")
                }
            }
        }
        if !alerts.is_empty() {
            match state.store.write_partner_alerts(alerts).await {
                Ok(stored) => publish(&state, &stored),
                Err(e) => {
                    tracing::error!(error = %e, "storing partners' alerts; will retry");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
            }
        }
        if let Err(e) = link.applied(&received).await {
            // Applied again after a restart: the store keeps one alert per message.
            tracing::error!(error = %e, "marking received messages applied");
        }
    }
}

fn publish(state: &AppState, stored: &[Alert]) {
    for a in stored {
        state.stats.partner_alerts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Ok(json) = serde_json::to_string(a) {
            let origin: Option<Arc<str>> = a.origin.as_ref().map(|o| o.agency.as_str().into());
            let _ =
                state.alerts.send(AlertEvent { id: a.id, plate: a.plate.as_str().into(), json: json.into(), origin });
        }
    }
}
