//! The index of recorded video (migration 0017): one row per closed segment, written by
//! `limes-recorder` after the segment's file was fsynced (design/recording.md).

use limes_model::CameraId;
use limes_model::recording::{CodecParameters, SegmentIndex, VideoCodec, decode_frame_index, encode_frame_index};
use rusqlite::{OptionalExtension, Row, params};

use crate::{Store, StoreError, corrupt, from_us, to_us};

/// The folder under the store's folder that holds the segment files.
pub const RECORDINGS_DIR: &str = "recordings";

/// A segment's row: its id and its index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    pub id: i64,
    pub index: SegmentIndex,
}

const COLUMNS: &str = "id, camera, file, start_us, end_us, codec, rfc6381, width, height, clock_rate, sps, pps, vps, \
                       frames, bytes, frame_index";

fn decode(row: &Row<'_>) -> rusqlite::Result<Result<Recording, StoreError>> {
    let id: i64 = row.get(0)?;
    let camera: String = row.get(1)?;
    let codec: String = row.get(5)?;
    let frames: i64 = row.get(13)?;
    let bytes: i64 = row.get(14)?;
    let index: Vec<u8> = row.get(15)?;
    let (file, start, end): (String, i64, i64) = (row.get(2)?, row.get(3)?, row.get(4)?);
    let (rfc6381, width, height, clock_rate): (String, i64, i64, i64) =
        (row.get(6)?, row.get(7)?, row.get(8)?, row.get(9)?);
    let (sps, pps, vps): (Vec<u8>, Vec<u8>, Option<Vec<u8>>) = (row.get(10)?, row.get(11)?, row.get(12)?);
    Ok((|| {
        let frame_list = decode_frame_index(&index).ok_or_else(|| corrupt("recording_segments", "frame index"))?;
        if frame_list.len() as i64 != frames {
            return Err(corrupt(
                "recording_segments",
                format!("segment {id}: {frames} frames, index of {}", frame_list.len()),
            ));
        }
        let number = |v: i64, what: &str| {
            u32::try_from(v).map_err(|_| corrupt("recording_segments", format!("segment {id}: {what} {v}")))
        };
        Ok(Recording {
            id,
            index: SegmentIndex {
                camera: CameraId::new(camera).map_err(|e| corrupt("recording_segments", e))?,
                file,
                start: from_us(start),
                end: from_us(end),
                parameters: CodecParameters {
                    codec: VideoCodec::parse(&codec)
                        .ok_or_else(|| corrupt("recording_segments", format!("codec {codec:?}")))?,
                    rfc6381,
                    width: number(width, "width")?,
                    height: number(height, "height")?,
                    clock_rate: number(clock_rate, "clock rate")?,
                    sps,
                    pps,
                    vps,
                },
                bytes: u64::try_from(bytes).map_err(|_| corrupt("recording_segments", "bytes"))?,
                frames: frame_list,
            },
        })
    })())
}

fn collect(
    rows: impl Iterator<Item = rusqlite::Result<Result<Recording, StoreError>>>,
) -> Result<Vec<Recording>, StoreError> {
    rows.map(|r| r?).collect()
}

impl Store {
    /// The folder of the segment files (`<store>/recordings`); the recorder creates it.
    pub fn recordings_dir(&self) -> std::path::PathBuf {
        self.dir().join(RECORDINGS_DIR)
    }

    /// Adds a closed segment's index; its file must already be fsynced. Returns the row's id.
    pub fn add_recording(&self, index: &SegmentIndex) -> Result<i64, StoreError> {
        self.with_admin(|conn| {
            let p = &index.parameters;
            conn.execute(
                "INSERT INTO recording_segments (camera, file, start_us, end_us, codec, rfc6381, width, height, \
                 clock_rate, sps, pps, vps, frames, bytes, frame_index) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                params![
                    index.camera.as_str(),
                    index.file,
                    to_us(index.start),
                    to_us(index.end),
                    p.codec.as_str(),
                    p.rfc6381,
                    p.width,
                    p.height,
                    p.clock_rate,
                    p.sps,
                    p.pps,
                    p.vps,
                    index.frames.len() as i64,
                    index.bytes as i64,
                    encode_frame_index(&index.frames),
                ],
            )?;
            Ok(conn.last_insert_rowid())
        })
    }

    /// Replaces a segment's index (recovery keeps only the frames its file still holds whole).
    pub fn replace_recording(&self, id: i64, index: &SegmentIndex) -> Result<(), StoreError> {
        self.with_admin(|conn| {
            let changed = conn.execute(
                "UPDATE recording_segments SET end_us = ?2, frames = ?3, bytes = ?4, frame_index = ?5 WHERE id = ?1",
                params![
                    id,
                    to_us(index.end),
                    index.frames.len() as i64,
                    index.bytes as i64,
                    encode_frame_index(&index.frames)
                ],
            )?;
            if changed == 0 {
                return Err(StoreError::NotFound(format!("recording segment {id}")));
            }
            Ok(())
        })
    }

    /// Deletes a segment's row (its file is removed first, see design/recording.md).
    pub fn delete_recording(&self, id: i64) -> Result<bool, StoreError> {
        self.with_admin(|conn| Ok(conn.execute("DELETE FROM recording_segments WHERE id = ?1", [id])? > 0))
    }

    /// The segments, oldest first; of one camera, or of all.
    pub fn recordings(&self, camera: Option<&CameraId>) -> Result<Vec<Recording>, StoreError> {
        self.with_reader(|conn| {
            let sql = format!(
                "SELECT {COLUMNS} FROM recording_segments WHERE ?1 IS NULL OR camera = ?1 ORDER BY start_us, id"
            );
            let mut stmt = conn.prepare(&sql)?;
            collect(stmt.query_map([camera.map(CameraId::as_str)], decode)?)
        })
    }

    /// The segment whose file is `file` (relative to the recordings folder).
    pub fn recording_by_file(&self, file: &str) -> Result<Option<Recording>, StoreError> {
        self.with_reader(|conn| {
            let sql = format!("SELECT {COLUMNS} FROM recording_segments WHERE file = ?1");
            conn.query_row(&sql, [file], decode).optional()?.transpose()
        })
    }
}

#[cfg(test)]
mod tests {
    use limes_model::recording::FrameEntry;

    use super::*;
    use crate::StoreOptions;

    fn segment(camera: &str, start_s: i64, frames: u32) -> SegmentIndex {
        let start = from_us(1_700_000_000_000_000 + start_s * 1_000_000);
        SegmentIndex {
            camera: CameraId::new(camera).unwrap(),
            file: format!("{camera}/{}.h265", to_us(start)),
            start,
            end: start + chrono::Duration::milliseconds(40 * i64::from(frames)),
            parameters: CodecParameters {
                codec: VideoCodec::H265,
                rfc6381: "hvc1.1.6.L60.90".into(),
                width: 320,
                height: 240,
                clock_rate: 90_000,
                sps: vec![1, 2],
                pps: vec![3],
                vps: Some(vec![4]),
            },
            bytes: 100 + 10 * u64::from(frames),
            frames: (0..frames)
                .map(|i| FrameEntry { offset: 100 + 10 * u64::from(i), length: 10, duration: 3600, key: i == 0 })
                .collect(),
        }
    }

    #[test]
    fn segments_are_kept_replaced_listed_by_camera_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let a = segment("cam-a", 60, 5);
        let b = segment("cam-b", 0, 3);
        let id_a = store.add_recording(&a).unwrap();
        let id_b = store.add_recording(&b).unwrap();
        assert!(store.add_recording(&a).is_err(), "one row per file");
        let all = store.recordings(None).unwrap();
        assert_eq!(all.iter().map(|r| r.id).collect::<Vec<_>>(), [id_b, id_a], "oldest first");
        assert_eq!(all[1].index, a);
        assert_eq!(store.recordings(Some(&a.camera)).unwrap().len(), 1);
        let mut shorter = a.clone();
        shorter.frames.truncate(2);
        shorter.bytes = 120;
        store.replace_recording(id_a, &shorter).unwrap();
        assert_eq!(store.recording_by_file(&a.file).unwrap().unwrap().index, shorter);
        assert!(store.delete_recording(id_a).unwrap());
        assert!(!store.delete_recording(id_a).unwrap());
        assert!(matches!(store.replace_recording(id_a, &shorter), Err(StoreError::NotFound(_))));
    }
}
