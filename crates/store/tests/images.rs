//! Images of reads against real files and SQLite in a temporary directory: checking,
//! content addressing, reference counting, deletion with reads, the orphan sweep.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, TimeZone, Utc};
use limes_model::{AgencyId, Camera, CameraId, CameraKind, Direction, ImageKind, PlateInfo, PlateRead, Scored};
use limes_plate::{CountryCode, PlateText};
use limes_store::{
    ImageError, ImageFormat, ImageId, ImageLimits, ImageMeta, NewRead, Store, StoreError, StoreOptions, ValidImage,
    WriteBatch,
};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap()
}

fn open(dir: &Path) -> Store {
    Store::open(dir, StoreOptions::default()).unwrap()
}

fn camera(id: &str) -> Camera {
    Camera {
        id: CameraId::new(id).unwrap(),
        agency: AgencyId::new("ro-igpf").unwrap(),
        kind: CameraKind::Anpr,
        position: None,
        heading: None,
        road: None,
        lane: None,
        country: CountryCode::RO,
        name: None,
    }
}

fn read(plate: &str, t: DateTime<Utc>) -> NewRead {
    let r = PlateRead {
        exercise: false,
        camera: CameraId::new("ro-cam-1").unwrap(),
        time: t,
        plate: PlateInfo {
            text: Scored { value: plate.to_owned(), confidence: Some(0.9) },
            plate_type: None,
            country: Some(Scored { value: CountryCode::RO, confidence: None }),
            issuing_entity: None,
        },
        direction: Direction::Leaving,
        position: None,
        vehicle: None,
        images: vec![],
    };
    NewRead::new(r, PlateText::new(plate).unwrap(), Some(CountryCode::RO), true, t)
}

/// Stores reads at the given times; returns their ids.
fn reads(store: &Store, times: &[DateTime<Utc>]) -> Vec<i64> {
    store.upsert_cameras(&[camera("ro-cam-1")]).unwrap();
    let batch = WriteBatch { reads: times.iter().map(|t| read("B123ABC", *t)).collect(), alerts: vec![] };
    store.write_blocking(batch).unwrap().read_ids
}

/// A real image, encoded by the `image` crate.
fn encoded(format: image::ImageFormat, width: u32, height: u32, seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x as u8).wrapping_mul(7) ^ seed, (y as u8).wrapping_mul(3), seed.wrapping_add(x as u8)])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn jpeg(seed: u8) -> Vec<u8> {
    encoded(image::ImageFormat::Jpeg, 64, 24, seed)
}

fn png(seed: u8) -> Vec<u8> {
    encoded(image::ImageFormat::Png, 32, 16, seed)
}

fn check(bytes: Vec<u8>) -> Result<ValidImage, ImageError> {
    ValidImage::check(bytes, None, &ImageLimits::default())
}

fn meta(read_id: i64, kind: ImageKind) -> ImageMeta {
    ImageMeta { read_id, kind, source_format: "http".into() }
}

/// Every file under the images folder.
fn files(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                walk(&e.path(), out);
            } else {
                out.push(e.path());
            }
        }
    }
    let mut out = Vec::new();
    walk(&dir.join(limes_store::IMAGES_DIR), &mut out);
    out.sort();
    out
}

/// The CRC-32 of PNG chunks (ISO 3309), to forge headers.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A real PNG whose header is changed to declare `width` x `height` pixels (CRC fixed).
fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = png(1);
    // Signature (8), IHDR length (4), "IHDR" (4), then width and height.
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

/// A real JPEG whose start-of-frame marker is changed to declare `width` x `height`.
fn jpeg_declaring(width: u16, height: u16) -> Vec<u8> {
    let mut bytes = jpeg(1);
    let sof = bytes.windows(2).position(|w| w[0] == 0xff && (w[1] == 0xc0 || w[1] == 0xc2)).unwrap();
    // Marker (2), length (2), precision (1), then height and width.
    bytes[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    bytes
}

#[test]
fn real_jpeg_and_png_files_pass_with_their_format_and_size() {
    let j = check(jpeg(1)).unwrap();
    assert_eq!((j.format(), j.width(), j.height()), (ImageFormat::Jpeg, 64, 24));
    let p = ValidImage::check(png(1), Some(ImageFormat::Png), &ImageLimits::default()).unwrap();
    assert_eq!((p.format(), p.width(), p.height()), (ImageFormat::Png, 32, 16));
    assert_eq!(p.id(), &ImageId::of(&png(1)));
    // Some cameras pad JPEG files with zero bytes after the end marker.
    let mut padded = jpeg(1);
    padded.extend_from_slice(&[0; 16]);
    assert!(check(padded).is_ok());
}

#[test]
fn hostile_and_broken_images_are_refused_with_what_was_wrong() {
    let limits = ImageLimits::default();
    // Cut in the scan data: the header still decodes.
    let mut truncated_jpeg = encoded(image::ImageFormat::Jpeg, 320, 240, 1);
    truncated_jpeg.truncate(truncated_jpeg.len() * 2 / 3);
    let mut truncated_png = png(1);
    truncated_png.truncate(truncated_png.len() - 20);
    let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec();
    let cases: Vec<(&str, Vec<u8>, Option<ImageFormat>, ImageError)> = vec![
        ("empty", vec![], None, ImageError::Empty),
        (
            "text pretending to be JPEG",
            b"JFIF this is not a picture".to_vec(),
            Some(ImageFormat::Jpeg),
            ImageError::NotAnImage,
        ),
        ("HTML", b"<html><script>alert(1)</script></html>".to_vec(), None, ImageError::NotAnImage),
        ("GIF", gif, None, ImageError::UnsupportedFormat("GIF".into())),
        (
            "PNG declared as JPEG",
            png(1),
            Some(ImageFormat::Jpeg),
            ImageError::WrongType { declared: ImageFormat::Jpeg, found: ImageFormat::Png },
        ),
        ("truncated JPEG", truncated_jpeg, None, ImageError::Truncated(ImageFormat::Jpeg)),
        ("truncated PNG", truncated_png, None, ImageError::Truncated(ImageFormat::Png)),
        (
            "PNG declaring 100000 x 100000",
            png_declaring(100_000, 100_000),
            None,
            ImageError::TooLargeDimensions { max_width: 16_384, max_height: 16_384 },
        ),
        (
            "JPEG declaring 60000 x 60000",
            jpeg_declaring(60_000, 60_000),
            None,
            ImageError::TooLargeDimensions { max_width: 16_384, max_height: 16_384 },
        ),
        (
            "PNG within the sides but too many pixels",
            png_declaring(16_000, 16_000),
            None,
            ImageError::TooManyPixels { width: 16_000, height: 16_000, bytes: 16_000 * 16_000 * 3, max: 512 << 20 },
        ),
        (
            "too many bytes",
            vec![0xff; limits.max_bytes + 1],
            None,
            ImageError::TooManyBytes { bytes: limits.max_bytes + 1, max: limits.max_bytes },
        ),
    ];
    for (what, bytes, declared, want) in cases {
        let got = ValidImage::check(bytes, declared, &limits);
        assert_eq!(got.as_ref().err(), Some(&want), "{what}: {got:?}");
        assert!(!want.to_string().is_empty());
    }
    // A JPEG cut inside its header does not decode at all.
    let head = jpeg(1)[..40].to_vec();
    assert!(matches!(check(head), Err(ImageError::Malformed { format: ImageFormat::Jpeg, .. })));
    // Limits are the caller's: a smaller node refuses smaller images.
    let small = ImageLimits { max_width: 32, max_height: 32, ..ImageLimits::default() };
    assert!(matches!(
        ValidImage::check(jpeg(1), None, &small),
        Err(ImageError::TooLargeDimensions { max_width: 32, .. })
    ));
}

#[test]
fn the_same_bytes_are_one_file_until_the_last_read_using_them_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let ids = reads(&store, &[t0(), t0() + Duration::minutes(1)]);
    let image = check(jpeg(7)).unwrap();

    let first = store.put_image(&image, &meta(ids[0], ImageKind::Plate)).unwrap();
    assert!(first.attached && !first.deduplicated);
    let second = store.put_image(&image, &meta(ids[1], ImageKind::Plate)).unwrap();
    assert!(second.attached && second.deduplicated);
    let again = store.put_image(&image, &meta(ids[1], ImageKind::Plate)).unwrap();
    assert!(!again.attached, "attaching twice changes nothing");
    assert_eq!(files(dir.path()), vec![store.image_path(image.id())]);
    assert_eq!(store.image_references(image.id()).unwrap(), 2);

    assert_eq!(store.delete_reads(&[ids[0]]).unwrap(), 1);
    assert_eq!(store.image_references(image.id()).unwrap(), 1);
    assert_eq!(store.get_image(image.id()).unwrap().1, image.bytes(), "the other read still has it");

    assert_eq!(store.delete_reads(&[ids[1]]).unwrap(), 1);
    assert!(files(dir.path()).is_empty(), "the file went with its last read");
    assert!(matches!(store.get_image(image.id()), Err(StoreError::NotFound(_))));
    assert!(matches!(store.image_info(image.id()), Err(StoreError::NotFound(_))));
}

#[test]
fn retention_deletes_images_only_old_reads_used() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let ids = reads(&store, &[t0() - Duration::days(40), t0() - Duration::days(35), t0()]);
    let (old, shared, recent) = (check(jpeg(1)).unwrap(), check(png(2)).unwrap(), check(jpeg(3)).unwrap());
    store.put_image(&old, &meta(ids[0], ImageKind::Overview)).unwrap();
    store.put_image(&shared, &meta(ids[1], ImageKind::Plate)).unwrap();
    store.put_image(&shared, &meta(ids[2], ImageKind::Plate)).unwrap();
    store.put_image(&recent, &meta(ids[2], ImageKind::Overview)).unwrap();
    assert_eq!(files(dir.path()).len(), 3);

    assert_eq!(store.delete_reads_before(t0() - Duration::days(30)).unwrap(), 2);
    let mut want = vec![store.image_path(shared.id()), store.image_path(recent.id())];
    want.sort();
    assert_eq!(files(dir.path()), want);
    assert!(store.read_images(ids[0]).unwrap().is_empty());
    assert_eq!(store.read_images(ids[2]).unwrap().len(), 2);
}

#[test]
fn a_reads_images_carry_their_acquisition_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let ids = reads(&store, &[t0()]);
    let (overview, plate) = (check(jpeg(1)).unwrap(), check(png(2)).unwrap());
    store.put_image(&overview, &meta(ids[0], ImageKind::Overview)).unwrap();
    store.put_image(&plate, &meta(ids[0], ImageKind::Plate)).unwrap();
    let got = store.read_images(ids[0]).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].kind, ImageKind::Plate, "plate crops first");
    assert_eq!(got[0].image.sha256, *plate.id());
    assert_eq!((got[0].image.format, got[0].image.width, got[0].image.height), (ImageFormat::Png, 32, 16));
    assert_eq!(got[0].image.bytes, plate.bytes().len() as u64);
    assert_eq!(got[1].kind, ImageKind::Overview);
    for image in &got {
        assert_eq!(image.read_id, ids[0]);
        assert_eq!(image.camera.as_str(), "ro-cam-1");
        assert_eq!(image.agency.as_ref().map(|a| a.as_str()), Some("ro-igpf"));
        assert_eq!(image.time, t0());
        assert_eq!(image.source_format, "http");
    }
    let (info, bytes) = store.get_image(overview.id()).unwrap();
    assert_eq!((info.format, bytes.as_slice()), (ImageFormat::Jpeg, overview.bytes()));
}

#[test]
fn an_image_for_a_missing_read_is_refused_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let image = check(jpeg(1)).unwrap();
    assert!(matches!(store.put_image(&image, &meta(42, ImageKind::Plate)), Err(StoreError::NotFound(_))));
    assert!(files(dir.path()).is_empty());
}

#[test]
fn images_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let (image, id) = {
        let store = open(dir.path());
        let ids = reads(&store, &[t0()]);
        let image = check(png(9)).unwrap();
        store.put_image(&image, &meta(ids[0], ImageKind::Plate)).unwrap();
        (image, ids[0])
    };
    let store = open(dir.path());
    assert_eq!(store.sweep_orphan_images().unwrap().removed, 0);
    assert_eq!(store.get_image(image.id()).unwrap().1, image.bytes());
    assert_eq!(store.read_images(id).unwrap().len(), 1);
}

#[test]
fn a_crash_between_deleting_rows_and_unlinking_leaves_only_an_orphan_file_which_the_sweep_removes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let ids = reads(&store, &[t0(), t0()]);
    let (gone, kept) = (check(jpeg(1)).unwrap(), check(jpeg(2)).unwrap());
    store.put_image(&gone, &meta(ids[0], ImageKind::Plate)).unwrap();
    store.put_image(&kept, &meta(ids[1], ImageKind::Plate)).unwrap();
    // The deletion as it commits, without the unlink that follows it (the process died).
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON; DELETE FROM reads WHERE id = {}; DELETE FROM images WHERE sha256 = '{}';",
        ids[0],
        gone.id()
    ))
    .unwrap();
    assert!(store.image_path(gone.id()).exists(), "an orphan file");
    assert!(matches!(store.get_image(gone.id()), Err(StoreError::NotFound(_))), "never served");
    // Also left by crashes: a temporary file never renamed; and a file written whose row
    // never committed. Files not named by an image id are not the store's to remove.
    let stray = ImageId::of(b"never committed");
    let stray_path = store.image_path(&stray);
    std::fs::create_dir_all(stray_path.parent().unwrap()).unwrap();
    std::fs::write(&stray_path, b"x").unwrap();
    std::fs::write(stray_path.with_extension("tmp"), b"half").unwrap();
    let foreign = store.images_dir().join("README");
    std::fs::write(&foreign, b"operator notes").unwrap();

    let report = store.sweep_orphan_images().unwrap();
    assert_eq!((report.files, report.removed), (4, 3));
    let mut want = vec![foreign, store.image_path(kept.id())];
    want.sort();
    assert_eq!(files(dir.path()), want);
    assert_eq!(store.get_image(kept.id()).unwrap().1, kept.bytes());
}

#[test]
fn concurrent_puts_of_the_same_image_and_deletions_never_lose_a_referenced_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let image = check(jpeg(5)).unwrap();
    for round in 0..20 {
        let ids = reads(&store, &[t0(), t0(), t0(), t0()]);
        let handles: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| {
                let (store, image) = (store.clone(), image.clone());
                std::thread::spawn(move || {
                    store.put_image(&image, &meta(id, ImageKind::Plate)).unwrap();
                    // Half the reads go again at once, racing the other puts.
                    if i % 2 == 0 {
                        store.delete_reads(&[id]).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(store.image_references(image.id()).unwrap(), 2, "round {round}");
        assert_eq!(store.get_image(image.id()).unwrap().1, image.bytes(), "round {round}");
        store.delete_reads(&ids).unwrap();
        assert!(files(dir.path()).is_empty(), "round {round}");
    }
}
