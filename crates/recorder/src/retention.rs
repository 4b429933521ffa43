//! Retention: per-camera age limits and a disk byte budget, oldest first. `plan` decides without
//! I/O; `enforce` removes each file, then its row (design/recording.md, "Deletion").

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use limes_model::CameraId;
use limes_store::{Recording, Store};

use crate::RecorderError;
use crate::files::{fsync_dir, io};

/// How long segments are kept and how many bytes they may take together.
#[derive(Debug, Clone, Default)]
pub struct RetentionRules {
    /// Per camera: segments that ended longer ago than this are deleted.
    pub keep: HashMap<CameraId, Duration>,
    /// For cameras not in `keep`; `None` keeps them until the budget needs the room.
    pub default_keep: Option<Duration>,
    /// All cameras' segments together; past it the oldest are deleted first, whichever camera.
    pub byte_budget: Option<u64>,
}

/// The segment ids to delete at `now`, oldest first. `segments` must be oldest first.
pub fn plan(segments: &[Recording], rules: &RetentionRules, now: DateTime<Utc>) -> Vec<i64> {
    let mut delete = Vec::new();
    let mut kept: Vec<&Recording> = Vec::with_capacity(segments.len());
    for s in segments {
        let keep = rules.keep.get(&s.index.camera).copied().or(rules.default_keep);
        if keep.is_some_and(|k| s.index.end < now - k) {
            delete.push(s.id);
        } else {
            kept.push(s);
        }
    }
    if let Some(budget) = rules.byte_budget {
        let mut total: u64 = kept.iter().map(|s| s.index.bytes).sum();
        for s in kept {
            if total <= budget {
                break;
            }
            total -= s.index.bytes;
            delete.push(s.id);
        }
    }
    delete
}

/// Applies `rules` at `now`: for each segment to go, its file is removed (and the folder
/// fsynced), then its row deleted. Returns the segments deleted.
pub fn enforce(
    store: &Store,
    root: &Path,
    rules: &RetentionRules,
    now: DateTime<Utc>,
) -> Result<Vec<Recording>, RecorderError> {
    let segments = store.recordings(None)?;
    let ids = plan(&segments, rules, now);
    let by_id: HashMap<i64, &Recording> = segments.iter().map(|s| (s.id, s)).collect();
    let mut deleted = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(s) = by_id.get(&id) else { continue };
        let path = root.join(&s.index.file);
        match std::fs::remove_file(&path) {
            Ok(()) => fsync_dir(path.parent().unwrap_or(root))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&path)(e)),
        }
        store.delete_recording(id)?;
        deleted.push((*s).clone());
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use limes_model::recording::{CodecParameters, SegmentIndex, VideoCodec};

    use super::*;

    fn seg(id: i64, camera: &str, end_min: i64, bytes: u64) -> Recording {
        let end = DateTime::from_timestamp(1_700_000_000 + end_min * 60, 0).unwrap();
        Recording {
            id,
            index: SegmentIndex {
                camera: CameraId::new(camera).unwrap(),
                file: format!("{camera}/{id}.h264"),
                start: end - Duration::minutes(1),
                end,
                parameters: CodecParameters {
                    codec: VideoCodec::H264,
                    rfc6381: String::new(),
                    width: 1,
                    height: 1,
                    clock_rate: 90_000,
                    sps: vec![],
                    pps: vec![],
                    vps: None,
                },
                bytes,
                frames: vec![],
            },
        }
    }

    #[test]
    fn age_per_camera_then_the_budget_oldest_first() {
        let segments = [seg(1, "a", 1, 100), seg(2, "b", 2, 100), seg(3, "a", 3, 100), seg(4, "b", 4, 100)];
        let now = DateTime::from_timestamp(1_700_000_000 + 5 * 60, 0).unwrap();
        let mut rules = RetentionRules::default();
        assert_eq!(plan(&segments, &rules, now), Vec::<i64>::new());
        rules.keep.insert(CameraId::new("b").unwrap(), Duration::minutes(2));
        assert_eq!(plan(&segments, &rules, now), [2]);
        rules.byte_budget = Some(150);
        assert_eq!(plan(&segments, &rules, now), [2, 1, 3]);
        rules.keep.clear();
        rules.byte_budget = Some(400);
        assert_eq!(plan(&segments, &rules, now), Vec::<i64>::new());
        rules.default_keep = Some(Duration::seconds(150));
        assert_eq!(plan(&segments, &rules, now), [1, 2]);
    }
}
