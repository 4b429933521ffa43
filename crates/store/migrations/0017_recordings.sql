-- Recordings (issue #9): one row per closed segment of a camera's stream, written by
-- limes-recorder after the segment's file was fsynced (design/recording.md). The samples are
-- in the file `recordings/<file>`; this row is their index.
--
-- `codec` is `h264` or `h265`; `sps`, `pps` and `vps` (H.265 only) are the parameter sets the
-- samples need, as the camera sent them. `clock_rate` is the RTP clock of the stream (90 kHz
-- for video). `frame_index` holds one 17-byte entry per frame, in order: the sample's offset in
-- the file (u64), its length (u32), its duration in clock ticks (u32) and flags (u8, bit 0: a
-- key frame), all little-endian. `start_us`/`end_us` are wall time (µs since the epoch) of the
-- first frame and of the end of the last.
CREATE TABLE recording_segments (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    camera      TEXT NOT NULL,
    file        TEXT NOT NULL UNIQUE,
    start_us    INTEGER NOT NULL,
    end_us      INTEGER NOT NULL,
    codec       TEXT NOT NULL,
    rfc6381     TEXT NOT NULL,
    width       INTEGER NOT NULL,
    height      INTEGER NOT NULL,
    clock_rate  INTEGER NOT NULL,
    sps         BLOB NOT NULL,
    pps         BLOB NOT NULL,
    vps         BLOB,
    frames      INTEGER NOT NULL,
    bytes       INTEGER NOT NULL,
    frame_index BLOB NOT NULL
) STRICT;
CREATE INDEX recording_segments_by_camera ON recording_segments (camera, start_us);
CREATE INDEX recording_segments_by_start ON recording_segments (start_us);
