//! PDQ against Meta's C++ reference: the golden hashes and qualities it computes on the RGB8
//! pixels the `image` crate decodes, for the bridge photographs — three kept beside this test,
//! all twenty in the shared data (`$LIMES_SHARED/pdq`) — must come out identical; the eight
//! dihedral variants from one DCT match the pictures rotated and mirrored; every edit of the
//! bridge is within PDQ's match distance (31) of the original, after the right transform.

use std::path::{Path, PathBuf};

use limes_triage::pdq::{Dihedral, Hash256, dihedral_rgb8, hash_rgb8};

/// `(file, hash, quality)` of a golden CSV.
fn golden(csv: &Path) -> Vec<(String, Hash256, u8)> {
    let text = std::fs::read_to_string(csv).unwrap_or_else(|e| panic!("{}: {e}", csv.display()));
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut f = l.split(',');
            let (file, hex, quality) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
            (file.to_owned(), hex.parse().unwrap(), quality.trim().parse().unwrap())
        })
        .collect()
}

fn rgb(path: &Path) -> image::RgbImage {
    image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_rgb8()
}

fn hash(picture: &image::RgbImage) -> (Hash256, u8) {
    hash_rgb8(picture.as_raw(), picture.width() as usize, picture.height() as usize).unwrap()
}

fn check_golden(dir: &Path, csv: &Path) -> usize {
    let mut checked = 0;
    let mut wrong = Vec::new();
    for (file, want, quality) in golden(csv) {
        let picture = rgb(&dir.join(&file));
        let got = hash(&picture);
        if got != (want, quality) {
            wrong.push(format!(
                "{file} ({}×{}): {} (quality {}) where the reference gives {want} ({quality}), {} bits apart",
                picture.width(),
                picture.height(),
                got.0,
                got.1,
                got.0.distance(&want)
            ));
        }
        checked += 1;
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    checked
}

#[test]
fn the_pictures_kept_here_hash_exactly_as_the_reference_hashes_them() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    assert_eq!(check_golden(&fixtures, &fixtures.join("golden.csv")), 3);
}

/// The shared data, when `LIMES_SHARED` names it (as `.ci/run` does); a folder named there that
/// lacks it fails the test.
fn shared_pdq() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("LIMES_SHARED") else {
        eprintln!("LIMES_SHARED is not set: the twenty shared pictures are not checked here");
        return None;
    };
    let dir = PathBuf::from(dir).join("pdq");
    assert!(dir.join("golden.csv").is_file(), "{}/golden.csv: LIMES_SHARED names no PDQ data", dir.display());
    Some(dir)
}

#[test]
fn all_twenty_shared_pictures_hash_exactly_as_the_reference_hashes_them() {
    let Some(dir) = shared_pdq() else { return };
    assert_eq!(check_golden(&dir.join("images"), &dir.join("golden.csv")), 20);
}

#[test]
fn the_dihedral_variants_are_the_hashes_of_the_picture_turned_and_mirrored() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let picture = rgb(&fixtures.join("square-256x256.jpg"));
    let (w, h) = (picture.width() as usize, picture.height() as usize);
    let (d, quality) = dihedral_rgb8(picture.as_raw(), w, h).unwrap();
    assert_eq!((d.original, quality), hash(&picture));
    // (x, y) → (y, x), and (x, y) → (h − 1 − y, w − 1 − x).
    let transposed = image::imageops::rotate270(&image::imageops::flip_horizontal(&picture));
    let anti = image::imageops::rotate90(&image::imageops::flip_horizontal(&picture));
    // Named as the reference names them: rotations anticlockwise, flip_x swaps top and bottom.
    let cases = [
        ("rotate90", d.rotate90, image::imageops::rotate270(&picture)),
        ("rotate180", d.rotate180, image::imageops::rotate180(&picture)),
        ("rotate270", d.rotate270, image::imageops::rotate90(&picture)),
        ("flip_x", d.flip_x, image::imageops::flip_vertical(&picture)),
        ("flip_y", d.flip_y, image::imageops::flip_horizontal(&picture)),
        ("flip_plus1", d.flip_plus1, transposed),
        ("flip_minus1", d.flip_minus1, anti),
    ];
    for (name, variant, turned) in cases {
        let direct = hash(&turned).0;
        // The decimation samples each 64th of the picture a little off its centre, so a mirrored
        // picture is sampled a pixel apart: some bits differ (the reference's variants are the
        // same sign patterns), yet the variant is far nearer the picture so transformed than
        // any other variant is (those are about 128 bits away).
        let distance = variant.distance(&direct);
        assert!(distance < 48, "{name}: {distance} bits from the hash of the picture so transformed");
        for other in d.all().iter().filter(|o| **o != variant) {
            assert!(other.distance(&direct) > distance, "{name}: another variant is nearer");
        }
    }
}

#[test]
fn every_edit_of_the_bridge_is_a_near_match_of_the_original_after_its_transform() {
    let Some(dir) = shared_pdq() else { return };
    let original = rgb(&dir.join("images/bridge-1-original.jpg"));
    let (d, _) = dihedral_rgb8(original.as_raw(), original.width() as usize, original.height() as usize).unwrap();
    let named = |file: &str, d: &Dihedral| match file {
        "bridge-2-rotate-90.jpg" => Some(d.rotate90),
        "bridge-3-rotate-180.jpg" => Some(d.rotate180),
        "bridge-4-rotate-270.jpg" => Some(d.rotate270),
        "bridge-5-flipx.jpg" => Some(d.flip_x),
        "bridge-6-flipy.jpg" => Some(d.flip_y),
        "bridge-7-flip-plus-1.jpg" => Some(d.flip_plus1),
        "bridge-8-flip-minus-1.jpg" => Some(d.flip_minus1),
        _ => None,
    };
    for (file, golden, _) in golden(&dir.join("golden.csv")) {
        let best = d.all().iter().map(|v| v.distance(&golden)).min().unwrap();
        assert!(best <= 31, "{file}: {best} bits from the nearest variant of the original");
        if let Some(v) = named(&file, &d) {
            let distance = v.distance(&golden);
            assert!(distance <= 31, "{file}: {distance} bits from the variant of its name");
        } else {
            assert!(d.original.distance(&golden) <= 31, "{file}: an edit, not turned");
        }
    }
}
