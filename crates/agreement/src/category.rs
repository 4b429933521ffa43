//! What may cross: the data categories an agreement names, and the protocol's own messages,
//! which carry no personal data of their own and are exempt from the agreement check.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A category of data an agreement rules on. The list is closed: a name not on it is refused
/// when an agreement is read, and a record of a category no flow names is denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// Alerts and hotlist hits: a read matched a hotlist entry.
    Alerts,
    /// Hotlist entries themselves (plate, reason, validity).
    HotlistEntries,
    /// Plate reads (sightings) of any vehicle.
    PlateReads,
    /// The camera registry: where cameras are, what they see.
    Cameras,
    /// Face and person events (age and gender estimates, person detections).
    FaceEvents,
    /// Incident notifications (floods, fires, pursuits).
    Incidents,
    /// Patrol units' positions and status.
    PatrolPositions,
    /// Intelligence bulletins.
    Bulletins,
    /// Joint-operation workspaces: members, tasks, timeline.
    JointOperations,
    /// Hashes of seized media (never the media).
    MediaHashes,
    /// Device identifiers and series (IMEIs, serial numbers).
    DeviceIdentifiers,
    /// Notifications of new psychoactive substances.
    SubstanceNotifications,
    /// Seizures and precursors.
    Seizures,
    /// Images and clips (plate crops, overview images, recordings).
    Images,
    /// Live video.
    LiveVideo,
}

impl Category {
    pub const ALL: [Category; 15] = [
        Category::Alerts,
        Category::HotlistEntries,
        Category::PlateReads,
        Category::Cameras,
        Category::FaceEvents,
        Category::Incidents,
        Category::PatrolPositions,
        Category::Bulletins,
        Category::JointOperations,
        Category::MediaHashes,
        Category::DeviceIdentifiers,
        Category::SubstanceNotifications,
        Category::Seizures,
        Category::Images,
        Category::LiveVideo,
    ];

    /// The name agreements and the wire use.
    pub fn id(self) -> &'static str {
        match self {
            Category::Alerts => "alerts",
            Category::HotlistEntries => "hotlist-entries",
            Category::PlateReads => "plate-reads",
            Category::Cameras => "cameras",
            Category::FaceEvents => "face-events",
            Category::Incidents => "incidents",
            Category::PatrolPositions => "patrol-positions",
            Category::Bulletins => "bulletins",
            Category::JointOperations => "joint-operations",
            Category::MediaHashes => "media-hashes",
            Category::DeviceIdentifiers => "device-identifiers",
            Category::SubstanceNotifications => "substance-notifications",
            Category::Seizures => "seizures",
            Category::Images => "images",
            Category::LiveVideo => "live-video",
        }
    }

    /// In plain words, for `limes agreement check` and the operations page.
    pub fn words(self) -> &'static str {
        match self {
            Category::Alerts => "alerts (hotlist hits)",
            Category::HotlistEntries => "hotlist entries",
            Category::PlateReads => "plate reads (sightings)",
            Category::Cameras => "the camera registry",
            Category::FaceEvents => "face and person events",
            Category::Incidents => "incident notifications",
            Category::PatrolPositions => "patrol positions",
            Category::Bulletins => "intelligence bulletins",
            Category::JointOperations => "joint operations",
            Category::MediaHashes => "media hashes",
            Category::DeviceIdentifiers => "device identifiers and series",
            Category::SubstanceNotifications => "new-substance notifications",
            Category::Seizures => "seizures and precursors",
            Category::Images => "images and clips",
            Category::LiveVideo => "live video",
        }
    }

    /// Whether records of the category can name a vehicle's plate (so the `plates` rule
    /// applies to them).
    pub fn carries_plates(self) -> bool {
        matches!(
            self,
            Category::Alerts
                | Category::HotlistEntries
                | Category::PlateReads
                | Category::Images
                | Category::Bulletins
                | Category::JointOperations
        )
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// The name is not a category limes knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a data category (known: {known})", known = known_categories())]
pub struct UnknownCategory(pub String);

fn known_categories() -> String {
    Category::ALL.iter().map(|c| c.id()).collect::<Vec<_>>().join(", ")
}

impl FromStr for Category {
    type Err = UnknownCategory;
    fn from_str(s: &str) -> Result<Self, UnknownCategory> {
        Category::ALL.into_iter().find(|c| c.id() == s).ok_or_else(|| UnknownCategory(s.chars().take(64).collect()))
    }
}

/// The protocol's own messages. They say something about the exchange itself (a receipt, a
/// signature over a log head, a blinded PRF value), not about a person, so no agreement rule
/// applies to them; they still go only to partners, over the same signed channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProtocolMessage {
    /// Acknowledgements of received batches.
    Acknowledgement,
    /// A node's audit checkpoint, sent to its witnesses.
    Checkpoint,
    /// A witness's cosignature of a checkpoint.
    Cosignature,
    /// "I deleted what you sent me": signed, sent back to the origin.
    DeletionReceipt,
    /// Blinded OPRF inputs and their evaluations (hit/no-hit queries).
    OprfEvaluation,
    /// A request for the full data behind a hit or a pseudonym: the owner's reference, the
    /// asker's purpose, legal basis and case. The data released in answer is not exempt: it
    /// is labelled with its category and the request, and the agreement decides.
    DataRequest,
    /// The owner's decision on a request (approved or refused, by whom, why).
    RequestDecision,
    /// "Your bulletin was read here": the bulletin's id and when, never by whom.
    BulletinReceipt,
}

impl ProtocolMessage {
    pub const ALL: [ProtocolMessage; 8] = [
        ProtocolMessage::Acknowledgement,
        ProtocolMessage::Checkpoint,
        ProtocolMessage::Cosignature,
        ProtocolMessage::DeletionReceipt,
        ProtocolMessage::OprfEvaluation,
        ProtocolMessage::DataRequest,
        ProtocolMessage::RequestDecision,
        ProtocolMessage::BulletinReceipt,
    ];

    pub fn id(self) -> &'static str {
        match self {
            ProtocolMessage::Acknowledgement => "acknowledgement",
            ProtocolMessage::Checkpoint => "checkpoint",
            ProtocolMessage::Cosignature => "cosignature",
            ProtocolMessage::DeletionReceipt => "deletion-receipt",
            ProtocolMessage::OprfEvaluation => "oprf-evaluation",
            ProtocolMessage::DataRequest => "data-request",
            ProtocolMessage::RequestDecision => "request-decision",
            ProtocolMessage::BulletinReceipt => "bulletin-receipt",
        }
    }
}

/// What a message is about: data of a category, or the protocol itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    Data(Category),
    Protocol(ProtocolMessage),
}

impl Subject {
    /// Reads a category or protocol message name; anything else is unknown, and denied.
    pub fn parse(name: &str) -> Result<Self, UnknownCategory> {
        if let Some(p) = ProtocolMessage::ALL.into_iter().find(|p| p.id() == name) {
            return Ok(Subject::Protocol(p));
        }
        name.parse().map(Subject::Data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_never_overlap() {
        for c in Category::ALL {
            assert_eq!(c.id().parse::<Category>().unwrap(), c);
            assert_eq!(Subject::parse(c.id()).unwrap(), Subject::Data(c));
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{}\"", c.id()));
        }
        for p in ProtocolMessage::ALL {
            assert_eq!(Subject::parse(p.id()).unwrap(), Subject::Protocol(p));
            assert!(p.id().parse::<Category>().is_err());
        }
    }

    #[test]
    fn unknown_names_are_refused() {
        for bad in ["", "alert", "Alerts", "plate_reads", "everything", "*", "alerts ", "\u{0430}lerts"] {
            let e = Subject::parse(bad).unwrap_err();
            assert!(e.to_string().contains("is not a data category"), "{e}");
        }
    }
}
