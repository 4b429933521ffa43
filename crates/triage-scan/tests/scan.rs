//! Triage of generated evidence on disk: real files, real archives, a real video through ffmpeg,
//! real SQLite stores — and the hostile cases the issue names (corrupt and truncated pictures,
//! zip bombs, names that climb out of their archive, symlink loops, unreadable files, empty
//! files and one of more than 4 GiB).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{listing, picture, tar, video, zip};
use limes_triage::known::{Category, KnownHash, hex};
use limes_triage::verdict::Status;
use limes_triage_scan::matching::match_case;
use limes_triage_scan::report;
use limes_triage_scan::scan::{Limits, Options, Progress, scan};
use limes_triage_scan::store::{CaseFile, CaseStore, HashSets, Kind};

fn options() -> Options {
    Options { threads: 2, progress: Progress::Off, ..Options::default() }
}

fn by_path(files: &[CaseFile]) -> BTreeMap<String, CaseFile> {
    files.iter().map(|f| (f.record.path.clone(), f.clone())).collect()
}

fn md5_of(data: &[u8]) -> [u8; 16] {
    use md5::Digest;
    md5::Md5::digest(data).into()
}

#[test]
fn a_seized_folder_is_recorded_member_by_member_and_judged() {
    let root = tempfile::tempdir().unwrap();
    let evidence = root.path().join("evidence");
    let dcim = evidence.join("DCIM");
    std::fs::create_dir_all(&dcim).unwrap();
    let pictures: Vec<Vec<u8>> = (1..=6).map(|i| picture(i, 96)).collect();
    for (i, p) in pictures.iter().enumerate().take(3) {
        std::fs::write(dcim.join(format!("IMG_{i}.png")), p).unwrap();
    }
    std::fs::write(evidence.join("notes.txt"), b"shopping list\n").unwrap();
    std::fs::write(evidence.join("empty.bin"), b"").unwrap();
    std::fs::write(evidence.join("cut.jpg"), b"\xff\xd8\xff\xe0\0\x10JFIF\0 and nothing more").unwrap();
    video(&evidence.join("clip.mp4"));
    // An archive with a picture, a name that climbs out, a symlink, and a tar.gz in it that
    // holds another picture and a link.
    let inner = root.path().join("inner.tar.gz");
    tar(
        &inner,
        true,
        &[("deep/pic.png", &pictures[3][..]), ("../../../../escaped-from-tar.txt", b"x")],
        &[("deep/link", "/etc/shadow")],
    );
    let inner_bytes = std::fs::read(&inner).unwrap();
    std::fs::remove_file(&inner).unwrap();
    zip(
        &evidence.join("backup.zip"),
        &[
            ("photos/a.png", &pictures[4][..]),
            ("../../escaped-from-zip.txt", b"evil"),
            ("nested/inner.tar.gz", &inner_bytes[..]),
        ],
    );
    // Links: a loop of two, a folder that contains itself, a link out of the evidence.
    std::os::unix::fs::symlink("loop-b", evidence.join("loop-a")).unwrap();
    std::os::unix::fs::symlink("loop-a", evidence.join("loop-b")).unwrap();
    std::os::unix::fs::symlink("..", dcim.join("up")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", evidence.join("passwd")).unwrap();
    nix_mkfifo(&evidence.join("pipe"));

    let triage = root.path().join("triage");
    // Hash sets: the notes as known software, picture 0 exactly in a VICS-like list, picture 1's
    // PDQ a few bits off as a PDQ list.
    let mut sets = HashSets::open(&triage).unwrap();
    sets.import(
        "nsrl-test",
        "md5",
        [KnownHash {
            md5: Some(md5_of(b"shopping list\n")),
            category: Some(Category::parse("nsrl").unwrap()),
            ..KnownHash::default()
        }],
    )
    .unwrap();
    sets.import(
        "vic-test",
        "md5",
        [KnownHash {
            md5: Some(md5_of(&pictures[0])),
            category: Some(Category::parse("vics-us:2").unwrap()),
            ..KnownHash::default()
        }],
    )
    .unwrap();
    let (hashes, _) = limes_triage_scan::picture::pdq(&pictures[1]).unwrap();
    let mut near = hashes[0];
    near.words[3] ^= 0b1011;
    sets.import(
        "pdq-test",
        "pdq",
        [KnownHash { pdq: Some(near), category: Some(Category::parse("caid:B").unwrap()), ..KnownHash::default() }],
    )
    .unwrap();
    drop(sets);

    let before = listing(root.path());
    let mut case = CaseStore::open(&triage, "RO-17").unwrap();
    let summary = scan(&mut case, std::slice::from_ref(&evidence), &options()).unwrap();
    let files = by_path(&case.files().unwrap());
    let ev = |p: &str| format!("{}/{p}", evidence.display());

    // Every file on disk, every member, once.
    assert_eq!(summary.found, 13, "{:#?}", files.keys());
    let zip_path = ev("backup.zip");
    let inner_path = format!("{zip_path}!/nested/inner.tar.gz");
    for (path, kind) in [
        (ev("DCIM/IMG_0.png"), Kind::Picture),
        (ev("notes.txt"), Kind::Other),
        (ev("empty.bin"), Kind::Other),
        (ev("cut.jpg"), Kind::Picture),
        (ev("clip.mp4"), Kind::Video),
        (zip_path.clone(), Kind::Archive),
        (format!("{zip_path}!/photos/a.png"), Kind::Picture),
        (format!("{zip_path}!/../../escaped-from-zip.txt"), Kind::Other),
        (inner_path.clone(), Kind::Archive),
        (format!("{inner_path}!/deep/pic.png"), Kind::Picture),
        (format!("{inner_path}!/deep/link"), Kind::Link),
        (ev("loop-a"), Kind::Link),
        (ev("DCIM/up"), Kind::Link),
        (ev("passwd"), Kind::Link),
        (ev("pipe"), Kind::Other),
    ] {
        let f = files.get(&path).unwrap_or_else(|| panic!("{path} not recorded: {:#?}", files.keys()));
        assert_eq!(f.record.kind, kind, "{path}: {:?}", f.record.note);
    }
    assert_eq!(files.len(), 19, "{:#?}", files.keys());
    // Hashes are the files' own.
    let img0 = &files[&ev("DCIM/IMG_0.png")].record;
    assert_eq!(img0.md5, Some(md5_of(&pictures[0])));
    assert_eq!(img0.size, pictures[0].len() as u64);
    assert_eq!(img0.turned.len(), 7);
    assert_eq!(files[&format!("{inner_path}!/deep/pic.png")].record.md5, Some(md5_of(&pictures[3])));
    assert_eq!(files[&format!("{inner_path}!/deep/pic.png")].record.modified, Some(1_700_000_000));
    assert_eq!(
        files[&ev("empty.bin")].record.md5.map(|m| hex(&m)).as_deref(),
        Some("d41d8cd98f00b204e9800998ecf8427e")
    );
    // Three seconds of video, one frame a second.
    assert_eq!(files[&ev("clip.mp4")].record.frames.len(), 3, "{:?}", files[&ev("clip.mp4")].record.note);
    // What is noted.
    let note = |p: &str| files[p].record.note.clone().unwrap_or_default();
    assert!(note(&ev("cut.jpg")).contains("cut short"), "{}", note(&ev("cut.jpg")));
    assert!(note(&ev("empty.bin")).contains("0 bytes"));
    assert!(note(&format!("{zip_path}!/../../escaped-from-zip.txt")).contains("climbs out"));
    assert!(note(&ev("passwd")).contains("/etc/passwd: not followed"));
    assert!(note(&ev("pipe")).contains("not read"));
    let climbing = files.keys().find(|k| k.contains("escaped-from-tar")).expect("the climbing tar member");
    assert!(note(climbing).contains("climbs out"));
    // Nothing was written outside the case's folder, and nothing is left in its tmp/.
    let case_dir = triage.join("RO-17");
    let after: Vec<_> =
        listing(root.path()).into_iter().filter(|(p, _)| !p.starts_with(&case_dir.display().to_string())).collect();
    let before: Vec<_> = before.into_iter().filter(|(p, _)| !p.starts_with(&case_dir.display().to_string())).collect();
    assert_eq!(after, before);
    assert!(listing(&case_dir.join("tmp")).len() <= 1);

    // Judged against the sets.
    let sets = HashSets::open_read(&triage).unwrap();
    let matched = match_case(&mut case, &sets, 31).unwrap();
    let judged = by_path(&report::load(&case, &sets).unwrap());
    let verdict = |p: &str| judged[p].verdict.clone().unwrap_or_else(|| panic!("{p} has no verdict"));
    assert_eq!(verdict(&ev("notes.txt")).status, Status::KnownGood);
    let known = verdict(&ev("DCIM/IMG_0.png"));
    assert_eq!((known.status, known.hit.as_ref().unwrap().source.as_str()), (Status::Known, "vic-test"));
    assert_eq!(known.hit.unwrap().category.to_string(), "vics-us:2");
    let near = verdict(&ev("DCIM/IMG_1.png"));
    assert_eq!(
        (near.status, near.distance, near.hit.unwrap().category.to_string()),
        (Status::NearMatch, Some(3), "caid:B".to_string())
    );
    assert_eq!(verdict(&format!("{zip_path}!/photos/a.png")).status, Status::Unknown);
    assert_eq!(matched.by_status["known"], 1);
    assert_eq!(matched.by_status["known-good"], 1);
    assert_eq!(matched.by_status["near-match"], 1);

    // The reports.
    let files: Vec<CaseFile> = judged.into_values().collect();
    let html = report::html("RO-17", &files, &[]);
    assert!(html.contains("<td>near-match<td class=n>1"), "{html}");
    assert!(html.contains("caid:B (category B)"));
    assert!(html.contains("escaped-from-zip.txt"));
    assert!(!html.contains("<img"));
    let vics = report::vics_export("RO-17", &files);
    let back = limes_triage::known::parse_vics(&vics, limes_triage::known::Scheme::VicsUs).unwrap();
    assert_eq!(back.len(), 7, "six pictures (the cut one too: it has hashes) and the video");
    let img0_back = back.iter().find(|k| k.md5 == Some(md5_of(&pictures[0]))).unwrap();
    assert_eq!(img0_back.category.as_ref().map(ToString::to_string).as_deref(), Some("vics-us:2"));
}

fn nix_mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

#[test]
fn zip_bombs_and_deep_nesting_stop_and_the_scan_goes_on() {
    let root = tempfile::tempdir().unwrap();
    let evidence = root.path().join("evidence");
    std::fs::create_dir_all(&evidence).unwrap();
    let zeros = vec![0u8; 8 << 20];
    zip(&evidence.join("bomb.zip"), &[("zeros.bin", &zeros[..]), ("ok.txt", b"fine")]);
    tar(&evidence.join("bomb.tar.gz"), true, &[("zeros.bin", &zeros[..]), ("after.txt", b"never read")], &[]);
    // Zips in zips, six deep.
    let mut nested = b"innermost".to_vec();
    for level in 0..6 {
        let p = root.path().join(format!("n{level}.zip"));
        zip(&p, &[(&format!("level{level}.zip"), &nested[..])]);
        nested = std::fs::read(&p).unwrap();
    }
    std::fs::write(evidence.join("nested.zip"), &nested).unwrap();
    std::fs::write(evidence.join("after.txt"), b"still read").unwrap();
    let triage = root.path().join("triage");
    let mut case = CaseStore::open(&triage, "bombs").unwrap();
    let options = Options {
        limits: Limits { bomb_ratio: 100, bomb_floor: 1 << 20, max_depth: 3, ..Limits::default() },
        ..options()
    };
    scan(&mut case, std::slice::from_ref(&evidence), &options).unwrap();
    let files = by_path(&case.files().unwrap());
    let note = |p: &str| {
        files.get(p).unwrap_or_else(|| panic!("{p}: {:#?}", files.keys())).record.note.clone().unwrap_or_default()
    };
    let ev = |p: &str| format!("{}/{p}", evidence.display());
    // The zip's member declares its size: refused before it is expanded; its neighbour is read.
    assert!(note(&ev("bomb.zip!/zeros.bin")).contains("possible zip bomb"), "{}", note(&ev("bomb.zip!/zeros.bin")));
    assert!(files[&ev("bomb.zip!/ok.txt")].record.md5.is_some());
    // The gzip stream does not: it is stopped as it expands, and the rest of it left.
    assert!(
        note(&ev("bomb.tar.gz!/zeros.bin")).contains("possible zip bomb"),
        "{}",
        note(&ev("bomb.tar.gz!/zeros.bin"))
    );
    assert!(note(&ev("bomb.tar.gz")).contains("expands like a bomb"));
    assert!(!files.contains_key(&ev("bomb.tar.gz!/after.txt")));
    // Three levels opened, the fourth noted.
    let deepest = files
        .keys()
        .filter(|k| k.starts_with(&ev("nested.zip")))
        .max_by_key(|k| k.matches("!/").count())
        .unwrap()
        .clone();
    assert_eq!(deepest.matches("!/").count(), 3, "{deepest}");
    assert!(note(&deepest).contains("nested more than 3 deep"), "{}", note(&deepest));
    assert!(files[&ev("after.txt")].record.md5.is_some());
}

#[test]
fn a_scan_resumes_where_it_was_and_reads_nothing_twice() {
    let root = tempfile::tempdir().unwrap();
    let evidence = root.path().join("evidence");
    std::fs::create_dir_all(&evidence).unwrap();
    for i in 0..40 {
        std::fs::write(evidence.join(format!("{i:03}.png")), picture(i + 10, 48)).unwrap();
    }
    let triage = root.path().join("triage");
    let mut case = CaseStore::open(&triage, "resume").unwrap();
    let first = scan(&mut case, std::slice::from_ref(&evidence), &options()).unwrap();
    assert_eq!((first.found, first.already, first.recorded), (40, 0, 40));
    for i in 40..50 {
        std::fs::write(evidence.join(format!("{i:03}.png")), picture(i + 10, 48)).unwrap();
    }
    let mut case = CaseStore::open(&triage, "resume").unwrap();
    let second = scan(&mut case, std::slice::from_ref(&evidence), &options()).unwrap();
    assert_eq!((second.found, second.already, second.recorded), (50, 40, 10));
    assert_eq!(case.files().unwrap().len(), 50);
}

#[test]
fn unreadable_and_huge_files_are_recorded_with_what_could_be_known() {
    let root = tempfile::tempdir().unwrap();
    let evidence = root.path().join("evidence");
    std::fs::create_dir_all(&evidence).unwrap();
    // 4 GiB and a byte of zeros, sparse: hashed as a stream, never held.
    let huge = evidence.join("disk.img");
    std::fs::File::create(&huge).unwrap().set_len((4 << 30) + 1).unwrap();
    let triage = root.path().join("triage");
    let mut case = CaseStore::open(&triage, "huge").unwrap();
    // /proc/self/mem opens but cannot be read at its start: a real unreadable file, even as root.
    let summary = scan(&mut case, &[evidence.clone(), PathBuf::from("/proc/self/mem")], &options()).unwrap();
    assert_eq!(summary.found, 2);
    let files = by_path(&case.files().unwrap());
    let huge = &files[&huge.display().to_string()].record;
    assert_eq!(huge.size, (4 << 30) + 1);
    assert_eq!(huge.md5.map(|h| hex(&h)).as_deref(), Some("f18c798ff5d450dfe4d3acdc12b621ff"));
    assert_eq!(huge.sha1.map(|h| hex(&h)).as_deref(), Some("e7d747b75f76e0e41e83b75bce4642816136304f"));
    assert_eq!(
        huge.sha256.map(|h| hex(&h)).as_deref(),
        Some("fbb82f7b353676bb562eb82157fcf0ea42c36492ca13ee56dbf82c08b6802c5c")
    );
    let mem = &files["/proc/self/mem"].record;
    assert_eq!(mem.kind, Kind::Unreadable);
    assert!(mem.md5.is_none());
    assert!(mem.note.as_deref().unwrap_or_default().contains("error"), "{:?}", mem.note);
    // A path that does not exist is an error of the command, not of the evidence.
    assert!(scan(&mut case, &[root.path().join("missing")], &options()).is_err());
}

/// Every edit of the bridge picture in the shared data (blurred, sharpened, shrunk, squared,
/// turned and mirrored) is a near-match of the original; without the shared data, the three
/// pictures in limes-triage's fixtures stand in.
#[test]
fn every_edit_of_the_bridge_is_a_near_match_of_the_original() {
    let shared = std::env::var_os("LIMES_SHARED").map(|d| PathBuf::from(d).join("pdq/images"));
    let (dir, original) = match shared {
        Some(d) => {
            assert!(d.is_dir(), "{}: LIMES_SHARED names no PDQ pictures", d.display());
            (d.clone(), d.join("bridge-1-original.jpg"))
        }
        None => {
            let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../triage/tests/fixtures");
            (d.clone(), d.join("square-128x128.jpg"))
        }
    };
    let root = tempfile::tempdir().unwrap();
    let triage = root.path().join("triage");
    let (hashes, _) = limes_triage_scan::picture::pdq(&std::fs::read(&original).unwrap()).unwrap();
    HashSets::open(&triage)
        .unwrap()
        .import(
            "bridge",
            "pdq",
            [KnownHash {
                pdq: Some(hashes[0]),
                category: Some(Category::parse("vics-us:1").unwrap()),
                ..KnownHash::default()
            }],
        )
        .unwrap();
    let mut case = CaseStore::open(&triage, "bridge").unwrap();
    scan(&mut case, &[dir], &options()).unwrap();
    let sets = HashSets::open_read(&triage).unwrap();
    match_case(&mut case, &sets, 31).unwrap();
    let files = case.files().unwrap();
    let pictures: Vec<&CaseFile> = files.iter().filter(|f| f.record.kind == Kind::Picture).collect();
    assert!(pictures.len() >= 3);
    for f in pictures {
        let v = f.verdict.as_ref().unwrap();
        assert_eq!(v.status, Status::NearMatch, "{}", f.record.path);
        assert!(v.distance.unwrap() <= 31);
    }
}

/// EXIF written into generated JPEGs: the camera and its serial, the software, the time, a GPS
/// position near the Romanian–Ukrainian border crossing at Siret, and a thumbnail that is of
/// another picture (an edited picture) or of the same one.
#[test]
fn exif_leads_name_the_camera_place_time_and_pictures_edited_since() {
    use common::{angle, ascii, jpeg, shrunk, with_exif};
    use exif::Tag;
    let root = tempfile::tempdir().unwrap();
    let evidence = root.path().join("evidence");
    std::fs::create_dir_all(&evidence).unwrap();
    let camera = [
        ascii(Tag::Make, "Canon"),
        ascii(Tag::Model, "EOS 80D"),
        ascii(Tag::BodySerialNumber, "0123456789"),
        ascii(Tag::Software, "GIMP 2.10.36"),
        ascii(Tag::DateTimeOriginal, "2026:05:01 10:22:03"),
        ascii(Tag::OffsetTimeOriginal, "+03:00"),
        ascii(Tag::GPSLatitudeRef, "N"),
        angle(Tag::GPSLatitude, 47, 56, 2400),
        ascii(Tag::GPSLongitudeRef, "E"),
        angle(Tag::GPSLongitude, 26, 3, 3600),
    ];
    let edited = with_exif(&jpeg(21, 256), &camera, Some(&jpeg(22, 64)));
    std::fs::write(evidence.join("edited.jpg"), &edited).unwrap();
    // A photograph (the bridge kept beside limes-triage's tests), its thumbnail shrunk from it.
    let original =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../triage/tests/fixtures/square-256x256.jpg"))
            .unwrap();
    let same = with_exif(&original, &camera[..3], Some(&shrunk(&original, 64)));
    std::fs::write(evidence.join("same.jpg"), &same).unwrap();
    // Metadata that lies: a latitude past the pole, a clock never set.
    let lies = [
        ascii(Tag::DateTimeOriginal, "0000:00:00 00:00:00"),
        ascii(Tag::GPSLatitudeRef, "N"),
        angle(Tag::GPSLatitude, 95, 0, 0),
        ascii(Tag::GPSLongitudeRef, "E"),
        angle(Tag::GPSLongitude, 26, 0, 0),
        ascii(Tag::Make, "Nokia"),
    ];
    std::fs::write(evidence.join("lies.jpg"), with_exif(&jpeg(24, 128), &lies, None)).unwrap();
    std::fs::write(evidence.join("plain.jpg"), jpeg(25, 128)).unwrap();

    let triage = root.path().join("triage");
    let mut case = CaseStore::open(&triage, "leads").unwrap();
    scan(&mut case, std::slice::from_ref(&evidence), &options()).unwrap();
    let files = by_path(&case.files().unwrap());
    let leads = |name: &str| files[&format!("{}/{name}", evidence.display())].record.leads.clone();

    let e = leads("edited.jpg").expect("leads of edited.jpg");
    assert_eq!(
        (e.make.as_deref(), e.model.as_deref(), e.serial.as_deref()),
        (Some("Canon"), Some("EOS 80D"), Some("0123456789"))
    );
    assert_eq!(e.software.as_deref(), Some("GIMP 2.10.36"));
    assert_eq!(e.taken.as_deref(), Some("2026-05-01T10:22:03+03:00"));
    let p = e.position.unwrap();
    assert!(
        (p.latitude - (47.0 + 56.0 / 60.0 + 24.0 / 3600.0)).abs() < 1e-9
            && (p.longitude - (26.0 + 3.0 / 60.0 + 36.0 / 3600.0)).abs() < 1e-9,
        "{p:?}"
    );
    assert!(e.thumbnail_distance.unwrap() > 31, "{e:?}");
    let s = leads("same.jpg").expect("leads of same.jpg");
    assert!(s.thumbnail_distance.unwrap() <= 31, "{s:?}");
    assert_eq!(s.position, None);
    let l = leads("lies.jpg").expect("leads of lies.jpg");
    assert_eq!((l.make.as_deref(), l.taken, l.position), (Some("Nokia"), None, None));
    assert_eq!(leads("plain.jpg"), None);

    let html = report::html("leads", &case.files().unwrap(), &[]);
    assert!(html.contains("<td>Canon EOS 80D, serial 0123456789<td class=n>2"), "{html}");
    assert!(html.contains("differs from the picture (PDQ distance"));
    assert!(html.contains("47.940000, 26.060000"));
    assert_eq!(html.matches("<circle").count(), 1);
}

/// Two units' cases on the same material: one file in both, a picture of one re-encoded in the
/// other, pictures from the same camera. Both owners are told, in counts, whom to call; a third
/// case with nothing in common hears nothing.
#[test]
fn cases_sharing_new_files_cameras_or_pictures_tell_both_owners() {
    use common::{ascii, jpeg, with_exif};
    use exif::Tag;
    use limes_triage_scan::deconflict::{deconflict, notices_for};
    let root = tempfile::tempdir().unwrap();
    let triage = root.path().join("triage");
    let bridge =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../triage/tests/fixtures/square-256x256.jpg"))
            .unwrap();
    let reencoded = {
        let img = image::load_from_memory(&bridge).unwrap();
        let mut out = std::io::Cursor::new(Vec::new());
        img.to_rgb8().write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    let camera = [ascii(Tag::Make, "Sony"), ascii(Tag::BodySerialNumber, "SN-4711")];
    let shared = picture(31, 96);
    let mut evidence = Vec::new();
    for (name, files) in [
        (
            "a",
            vec![
                ("bridge.jpg", bridge.clone()),
                ("shared.png", shared.clone()),
                ("cam.jpg", with_exif(&jpeg(32, 128), &camera, None)),
            ],
        ),
        (
            "b",
            vec![
                ("bridge.png", reencoded),
                ("shared.png", shared.clone()),
                ("cam2.jpg", with_exif(&jpeg(33, 128), &camera, None)),
            ],
        ),
        ("c", vec![("other.png", picture(34, 96))]),
    ] {
        let dir = root.path().join(format!("evidence-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        for (file, bytes) in files {
            std::fs::write(dir.join(file), bytes).unwrap();
        }
        evidence.push(dir);
    }
    let sets = HashSets::open_read(&triage).unwrap();
    let run = |id: &str, owner: &str, dir: &PathBuf| {
        let mut case = CaseStore::open(&triage, id).unwrap();
        scan(&mut case, std::slice::from_ref(dir), &options()).unwrap();
        match_case(&mut case, &sets, 31).unwrap();
        deconflict(&triage, id, &mut case, owner, 31).unwrap()
    };
    assert!(run("RO-IASI-1", "DIICOT Iași, +40 232 000 000", &evidence[0]).is_empty());
    let to_b = run("RO-SV-2", "IPJ Suceava, cybercrime desk", &evidence[1]);
    assert_eq!(to_b.len(), 1);
    assert_eq!((to_b[0].case.as_str(), to_b[0].owner.as_str()), ("RO-IASI-1", "DIICOT Iași, +40 232 000 000"));
    let o = to_b[0].overlap;
    assert_eq!((o.files, o.devices, o.pictures), (1, 1, 1), "{o:?}");
    // The first case is told too, though it ran before.
    let to_a = notices_for(&triage, "RO-IASI-1").unwrap();
    assert_eq!(to_a.len(), 1);
    assert_eq!((to_a[0].case.as_str(), to_a[0].owner.as_str()), ("RO-SV-2", "IPJ Suceava, cybercrime desk"));
    assert_eq!((to_a[0].overlap.files, to_a[0].overlap.devices, to_a[0].overlap.pictures), (1, 1, 1));
    assert!(run("RO-CJ-3", "", &evidence[2]).is_empty());
    assert!(notices_for(&triage, "RO-CJ-3").unwrap().is_empty());
    // The report names the other case and its contact, never its files.
    let case = CaseStore::open(&triage, "RO-SV-2").unwrap();
    let html = report::html("RO-SV-2", &case.files().unwrap(), &to_b);
    assert!(
        html.contains("<td>RO-IASI-1<td>DIICOT Iași, +40 232 000 000<td class=n>1<td class=n>1<td class=n>1"),
        "{html}"
    );
    assert!(!html.contains("evidence-a"));
}
