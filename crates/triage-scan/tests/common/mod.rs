//! Evidence for the tests, all generated: patterned pictures, archives, a video from ffmpeg's
//! test pattern. Never anything else.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

/// A PNG of a pattern that differs with `seed` (enough texture for a PDQ quality of 100).
pub fn picture(seed: u32, side: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(side, side, |x, y| {
        let v = (x.wrapping_mul(seed % 7 + 1) ^ y.wrapping_mul(seed % 5 + 2)).wrapping_add(seed * 37);
        let band = ((x / (seed % 9 + 3)) + (y / (seed % 4 + 2)) * seed) % 3;
        image::Rgb([(v % 256) as u8, ((v / 3 + band * 80) % 256) as u8, ((v * (band + 1)) % 256) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

pub fn zip(path: &Path, members: &[(&str, &[u8])]) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in members {
        z.start_file(*name, options).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap();
}

/// A tar (gzipped if asked) of members, names written as given (`..` too: the tar crate's
/// own path setter would refuse them, which is the point of writing them here).
pub fn tar(path: &Path, gzip: bool, members: &[(&str, &[u8])], links: &[(&str, &str)]) {
    let file = std::fs::File::create(path).unwrap();
    let out: Box<dyn Write> = if gzip {
        Box::new(flate2::write::GzEncoder::new(file, flate2::Compression::default()))
    } else {
        Box::new(file)
    };
    let mut b = tar::Builder::new(out);
    for (name, data) in members {
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    for (name, target) in links {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_link_name(target).unwrap();
        h.set_path(name).unwrap();
        h.set_cksum();
        b.append(&h, std::io::empty()).unwrap();
    }
    b.into_inner().unwrap().flush().unwrap();
}

/// A three-second video of ffmpeg's test pattern (MPEG-4 part 2 in MP4).
pub fn video(path: &Path) {
    let status = std::process::Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x120:rate=5",
            "-t",
            "3",
            "-c:v",
            "mpeg4",
        ])
        .arg(path)
        .status()
        .expect("ffmpeg (scripts/test installs it)");
    assert!(status.success());
}

/// Every file under `dir` with its length, for "nothing else was written".
pub fn listing(dir: &Path) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| (e.path().display().to_string(), e.metadata().map(|m| m.len()).unwrap_or(0)))
        .collect();
    out.sort();
    out
}

/// A JPEG of `seed`'s pattern.
pub fn jpeg(seed: u32, side: u32) -> Vec<u8> {
    let png = picture(seed, side);
    let img = image::load_from_memory(&png).unwrap();
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// `jpeg` with an EXIF segment (APP1, right after the start marker) holding `fields` and, if
/// given, an embedded thumbnail; written by kamadak-exif's writer.
pub fn with_exif(jpeg: &[u8], fields: &[exif::Field], thumbnail: Option<&[u8]>) -> Vec<u8> {
    let mut w = exif::experimental::Writer::new();
    for f in fields {
        w.push_field(f);
    }
    if let Some(t) = thumbnail {
        w.set_jpeg(t, exif::In::THUMBNAIL);
    }
    let mut tiff = std::io::Cursor::new(Vec::new());
    w.write(&mut tiff, false).unwrap();
    let tiff = tiff.into_inner();
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xff, 0xe1]);
    out.extend_from_slice(&u16::try_from(2 + 6 + tiff.len()).unwrap().to_be_bytes());
    out.extend_from_slice(b"Exif\0\0");
    out.extend_from_slice(&tiff);
    out.extend_from_slice(&jpeg[2..]);
    out
}

pub fn ascii(tag: exif::Tag, text: &str) -> exif::Field {
    exif::Field { tag, ifd_num: exif::In::PRIMARY, value: exif::Value::Ascii(vec![text.as_bytes().to_vec()]) }
}

/// Degrees, minutes and seconds as EXIF writes a GPS angle.
pub fn angle(tag: exif::Tag, degrees: u32, minutes: u32, centiseconds: u32) -> exif::Field {
    let r = |num, denom| exif::Rational { num, denom };
    exif::Field {
        tag,
        ifd_num: exif::In::PRIMARY,
        value: exif::Value::Rational(vec![r(degrees, 1), r(minutes, 1), r(centiseconds, 100)]),
    }
}

/// A JPEG shrunk to `side` (a camera's thumbnail of it).
pub fn shrunk(jpeg: &[u8], side: u32) -> Vec<u8> {
    let img = image::load_from_memory(jpeg).unwrap().resize(side, side, image::imageops::FilterType::Triangle);
    let mut out = std::io::Cursor::new(Vec::new());
    img.to_rgb8().write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}
