//! The acts the node's API offers.

use std::fmt;

/// The kind of processing an operation is, as Article 25 of the Law Enforcement Directive
/// names them (the audit log's actions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Processing {
    /// Data comes in (camera reads, images, detections).
    Collect,
    /// Stored data is changed (a hotlist entry, an alert's acknowledgement, a camera).
    Alter,
    /// Data is looked at (a search, a read or an image opened, alerts listed or watched).
    Consult,
    /// Data leaves the processing (an export).
    Disclose,
    /// Data is erased.
    Erase,
    /// No personal data is touched (statistics, the camera registry, accounts).
    None,
}

macro_rules! operations {
    ($($(#[$doc:meta])* $variant:ident = $id:literal, $processing:ident, purpose: $purpose:literal, token: $token:literal;)*) => {
        /// An act on the node. Its id (`reads.search`) is the Cedar action's id, the name in
        /// an API token's scope and the name in audit records.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Operation {
            $($(#[$doc])* $variant,)*
        }

        impl Operation {
            /// Every operation, in declaration order.
            pub const ALL: &[Operation] = &[$(Operation::$variant,)*];

            /// The Cedar action id.
            pub fn id(self) -> &'static str {
                match self {
                    $(Operation::$variant => $id,)*
                }
            }

            /// The inverse of [`Operation::id`].
            pub fn parse(id: &str) -> Option<Self> {
                match id {
                    $($id => Some(Operation::$variant),)*
                    _ => None,
                }
            }

            /// What kind of processing of personal data the operation is.
            pub fn processing(self) -> Processing {
                match self {
                    $(Operation::$variant => Processing::$processing,)*
                }
            }

            /// Whether the caller must declare a purpose and a legal basis (Article 25: every
            /// consultation and disclosure is logged with its justification).
            pub fn needs_purpose(self) -> bool {
                match self {
                    $(Operation::$variant => $purpose,)*
                }
            }

            /// Whether an API token may hold the operation in its scope. Acts on accounts,
            /// the audit log and data subjects' rights need a person.
            pub fn grantable_to_token(self) -> bool {
                match self {
                    $(Operation::$variant => $token,)*
                }
            }
        }
    };
}

operations! {
    /// Post plate reads (HTTP, NDJSON, the cameras' push formats).
    ReadsIngest = "reads.ingest", Collect, purpose: false, token: true;
    /// Search stored reads by plate, camera and time.
    ReadsSearch = "reads.search", Consult, purpose: true, token: true;
    /// Open one read and the list of its images.
    ReadsView = "reads.view", Consult, purpose: true, token: true;
    /// Ask partner agencies whether they saw a plate (hit/no-hit, without them learning which).
    QueriesAsk = "queries.ask", Consult, purpose: true, token: true;
    /// Ask a partner agency for the full data behind a hit or a pseudonym (its supervisor
    /// decides), follow the request, and open what was released.
    RequestsMake = "requests.make", Consult, purpose: true, token: true;
    /// See partners' requests for this node's data, and approve or refuse them.
    RequestsDecide = "requests.decide", Disclose, purpose: false, token: false;
    /// See incidents (the node's and partners'), their timelines and attachments, and watch
    /// them live.
    IncidentsView = "incidents.view", Consult, purpose: true, token: true;
    /// Raise incidents, add notes, attachments and status changes, acknowledge partners'
    /// notifications.
    IncidentsManage = "incidents.manage", Alter, purpose: false, token: true;
    /// Read intelligence bulletins (the node's and partners'), within their handling codes.
    BulletinsView = "bulletins.view", Consult, purpose: true, token: true;
    /// Issue bulletins to partners, and pass partners' bulletins on where their handling code
    /// and the agreement allow.
    BulletinsIssue = "bulletins.issue", Disclose, purpose: true, token: true;
    /// See joint operations this agency is a member of: members, hotlist, hits, tasks,
    /// documents, timeline; watch them live.
    OperationsView = "operations.view", Consult, purpose: true, token: true;
    /// Open joint operations, and write to them: notes, tasks, hotlist entries, the close.
    OperationsManage = "operations.manage", Alter, purpose: true, token: true;
    /// See patrol units (the node's and partners'), their positions, routes and assignments,
    /// the units suggested for a place, and watch them live.
    PatrolsView = "patrols.view", Consult, purpose: true, token: true;
    /// Report a unit's positions and status (a unit's device, a vehicle tracking system, an
    /// operator taking a radio call).
    PatrolsReport = "patrols.report", Collect, purpose: false, token: true;
    /// Register units and assign them to alerts and incidents.
    PatrolsManage = "patrols.manage", Alter, purpose: false, token: true;
    /// Post an image (plate crop, overview) of a read.
    ImagesUpload = "images.upload", Collect, purpose: false, token: true;
    /// Open an image.
    ImagesView = "images.view", Consult, purpose: true, token: true;
    /// Upload drone and body-camera footage and its telemetry (GPX, DJI SRT).
    FootageUpload = "footage.upload", Collect, purpose: false, token: true;
    /// List and download footage, and ask where its camera was at a moment.
    FootageView = "footage.view", Consult, purpose: true, token: true;
    /// Have the node analyse a camera's recording or footage itself: persons and vehicles
    /// found, plates read into reads (which hotlists match), lines and zones watched.
    VideoAnalyse = "video.analyse", Collect, purpose: false, token: true;
    /// See the events the node's own analysis raised (a person across a drawn line), with the
    /// picture each was raised on.
    EventsView = "events.view", Consult, purpose: true, token: true;
    /// Confirm or dismiss such an event: a person decides before any is shared with a partner
    /// (EU AI Act Art. 14, human oversight of a high-risk system).
    EventsConfirm = "events.confirm", Alter, purpose: true, token: false;
    /// Let a partner agency watch one of this node's cameras live, for a limited time, during
    /// an incident both agencies know of; and withdraw that before its time.
    VideoShare = "video.share", Disclose, purpose: true, token: false;
    /// Cut a signed clip of a camera's recording (evidence a court can check).
    ClipsExport = "clips.export", Disclose, purpose: true, token: false;
    /// Send one of this node's clips to a partner agency.
    ClipsSend = "clips.send", Disclose, purpose: true, token: false;
    /// Download one of this node's clips as recorded, faces and plates in clear (for a case
    /// declared with the purpose); everyone else who may cut clips gets their anonymised copy.
    ClipsUnblur = "clips.unblur", Disclose, purpose: true, token: false;
    /// Post face, person and vehicle detections.
    DetectionsIngest = "detections.ingest", Collect, purpose: false, token: true;
    /// Search and open detections.
    DetectionsSearch = "detections.search", Consult, purpose: true, token: true;
    /// Watch the live alert stream.
    AlertsLive = "alerts.live", Consult, purpose: true, token: true;
    /// List stored alerts.
    AlertsList = "alerts.list", Consult, purpose: true, token: true;
    /// Acknowledge an alert.
    AlertsAck = "alerts.ack", Alter, purpose: false, token: false;
    /// List, open and search hotlist entries.
    HotlistView = "hotlist.view", Consult, purpose: true, token: true;
    /// Import and delete hotlist entries.
    HotlistManage = "hotlist.manage", Alter, purpose: true, token: true;
    /// See the camera registry.
    CamerasView = "cameras.view", None, purpose: false, token: true;
    /// Register, change and remove cameras.
    CamerasManage = "cameras.manage", None, purpose: false, token: true;
    /// See the node's counters and its MQTT and webhook state.
    StatsView = "stats.view", None, purpose: false, token: true;
    /// Read and export the audit log.
    AuditView = "audit.view", Consult, purpose: true, token: false;
    /// Find, export, restrict or erase the data about a plate (a data subject's request).
    SubjectRequest = "subject.request", Consult, purpose: true, token: false;
    /// Erase data (a subject's erasure, a court order).
    DataErase = "data.erase", Erase, purpose: true, token: false;
    /// Restrict or lift the restriction of a plate's data (LED Art. 16(3), GDPR Art. 18):
    /// kept, but shown to no one but the data-protection officer.
    DataRestrict = "data.restrict", Alter, purpose: true, token: false;
    /// Open the media triage review (issue #12): the cases, their files' verdicts, and their
    /// unknown pictures as blurred greyscale thumbnails. Only the specialised unit's role.
    TriageReview = "triage.review", Consult, purpose: true, token: false;
    /// Reveal one picture of a case in clear, in colour.
    TriageReveal = "triage.reveal", Consult, purpose: true, token: false;
    /// Categorise a picture of a case (VICS 0–4).
    TriageCategorise = "triage.categorise", Alter, purpose: true, token: false;
    /// Manage user accounts.
    UsersManage = "users.manage", None, purpose: false, token: false;
    /// Create and revoke API tokens.
    TokensManage = "tokens.manage", None, purpose: false, token: false;
    /// See partner agencies and the state of the links to them.
    PartnersView = "partners.view", None, purpose: false, token: true;
    /// Add, remove and revoke partner agencies.
    PartnersManage = "partners.manage", None, purpose: false, token: false;
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for &op in Operation::ALL {
            assert_eq!(Operation::parse(op.id()), Some(op));
            assert!(seen.insert(op.id()), "duplicate id {}", op.id());
        }
        assert_eq!(Operation::parse("reads.delete"), None);
    }

    #[test]
    fn consultations_need_a_purpose() {
        for &op in Operation::ALL {
            if op.processing() == Processing::Consult || op.processing() == Processing::Erase {
                assert!(op.needs_purpose(), "{op}");
            }
        }
    }
}
