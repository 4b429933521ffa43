//! Reading seized pictures: what a file's first bytes say it is, and decoding a picture within
//! limits (a picture that claims a huge size is refused before it is decoded).

use crate::store::Kind;

/// The largest picture decoded: its side, and the memory its pixels may take.
pub const MAX_SIDE: u32 = 1 << 15;
pub const MAX_ALLOC: u64 = 1 << 30;
/// The largest file read into memory as a picture; a larger one is hashed as a stream.
pub const MAX_PICTURE_BYTES: u64 = 512 << 20;

/// What a file is, from its first bytes (at least 262 of them when the file has them): the
/// picture formats this build decodes, the containers ffmpeg reads as video, and the archives
/// triage opens (zip, tar, gzip).
pub fn sniff(head: &[u8]) -> Kind {
    use image::ImageFormat as F;
    if let Ok(F::Jpeg | F::Png | F::Gif | F::Bmp | F::Tiff | F::WebP) = image::guess_format(head) {
        return Kind::Picture;
    }
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    if at(0, b"PK\x03\x04") || at(0, b"PK\x05\x06") || at(0, &[0x1f, 0x8b]) || at(257, b"ustar") {
        return Kind::Archive;
    }
    if at(4, b"ftyp") {
        // HEIF and AVIF pictures share MP4's box format; this build does not decode them.
        let brand = head.get(8..12).unwrap_or_default();
        return if [&b"heic"[..], b"heix", b"mif1", b"msf1", b"avif", b"avis"].contains(&brand) {
            Kind::Other
        } else {
            Kind::Video
        };
    }
    let video = at(0, &[0x1a, 0x45, 0xdf, 0xa3]) // Matroska, WebM
        || (at(0, b"RIFF") && at(8, b"AVI "))
        || at(0, &[0x00, 0x00, 0x01, 0xba]) // MPEG program stream
        || (head.first() == Some(&0x47) && head.get(188) == Some(&0x47)) // MPEG transport stream
        || at(0, b"FLV")
        || at(0, &[0x30, 0x26, 0xb2, 0x75]); // ASF (WMV)
    if video { Kind::Video } else { Kind::Other }
}

/// A picture's RGB8 pixels, decoded within the limits. A JPEG that stops before its
/// end-of-image marker is refused: the decoder would fill what is missing with grey, and the
/// hash would be of a picture that does not exist.
pub fn decode(bytes: &[u8]) -> Result<image::RgbImage, String> {
    let format = image::guess_format(bytes).map_err(|_| "not a picture in a format this build reads".to_owned())?;
    if format == image::ImageFormat::Jpeg {
        let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        if !bytes[..end].ends_with(&[0xff, 0xd9]) {
            return Err("the JPEG is cut short (it has no end-of-image marker)".into());
        }
    }
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let picture = reader.decode().map_err(|e| e.to_string())?;
    Ok(picture.to_rgb8())
}

/// The PDQ hashes of a picture's bytes — the picture's, then its seven rotations and mirror
/// images (one DCT gives all eight) — and its quality.
pub fn pdq(bytes: &[u8]) -> Result<([limes_triage::pdq::Hash256; 8], u8), String> {
    let picture = decode(bytes)?;
    let (d, quality) =
        limes_triage::pdq::dihedral_rgb8(picture.as_raw(), picture.width() as usize, picture.height() as usize)
            .map_err(|e| e.to_string())?;
    Ok((d.all(), quality))
}

/// A thumbnail of a picture for review, at most `side` pixels on its longer side, as JPEG:
/// greyscale and blurred past recognition unless `clear` (the review shows pictures so until an
/// investigator reveals one, for their wellbeing).
pub fn thumbnail(bytes: &[u8], side: u32, clear: bool) -> Result<Vec<u8>, String> {
    let picture = image::DynamicImage::ImageRgb8(decode(bytes)?).thumbnail(side, side);
    let picture = if clear {
        picture
    } else {
        let sigma = picture.width().max(picture.height()) as f32 / 16.0;
        image::DynamicImage::ImageLuma8(image::imageops::blur(&picture.to_luma8(), sigma.max(2.0)))
    };
    let mut out = std::io::Cursor::new(Vec::new());
    picture.write_to(&mut out, image::ImageFormat::Jpeg).map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing_goes_by_content_not_name() {
        let mut tar = vec![0u8; 512];
        tar[257..262].copy_from_slice(b"ustar");
        let mut ts = vec![0u8; 189];
        ts[0] = 0x47;
        ts[188] = 0x47;
        for (head, kind) in [
            (&b"\xff\xd8\xff\xe0\0\x10JFIF"[..], Kind::Picture),
            (b"\x89PNG\r\n\x1a\n", Kind::Picture),
            (b"PK\x03\x04", Kind::Archive),
            (b"\x1f\x8b\x08", Kind::Archive),
            (&tar, Kind::Archive),
            (b"\0\0\0\x20ftypisom", Kind::Video),
            (b"\0\0\0\x20ftypheic", Kind::Other),
            (b"\x1a\x45\xdf\xa3", Kind::Video),
            (b"RIFF\0\0\0\0AVI LIST", Kind::Video),
            (&ts, Kind::Video),
            (b"hello", Kind::Other),
            (b"", Kind::Other),
        ] {
            assert_eq!(sniff(head), kind, "{head:?}");
        }
    }

    #[test]
    fn review_thumbnails_are_small_and_blurred_grey_until_revealed() {
        // A sharp colour checkerboard.
        let img = image::RgbImage::from_fn(400, 300, |x, y| {
            if (x / 10 + y / 10) % 2 == 0 { image::Rgb([255, 0, 0]) } else { image::Rgb([0, 0, 255]) }
        });
        let mut png = std::io::Cursor::new(Vec::new());
        img.write_to(&mut png, image::ImageFormat::Png).unwrap();
        let png = png.into_inner();
        let hidden = image::load_from_memory(&thumbnail(&png, 160, false).unwrap()).unwrap();
        assert_eq!((hidden.width(), hidden.height()), (160, 120));
        assert_eq!(hidden.color(), image::ColorType::L8);
        // Blurred: the squares' contrast is gone (no pixel far from the mean).
        let luma = hidden.to_luma8();
        let mean = luma.pixels().map(|p| f64::from(p[0])).sum::<f64>() / f64::from(160 * 120);
        let spread = luma.pixels().map(|p| (f64::from(p[0]) - mean).abs()).fold(0.0, f64::max);
        assert!(spread < 20.0, "spread {spread} around {mean}");
        let clear = image::load_from_memory(&thumbnail(&png, 160, true).unwrap()).unwrap().to_rgb8();
        assert_eq!(clear.dimensions(), (160, 120));
        let p = clear.get_pixel(1, 1);
        assert!(p[0] > 150 && p[2] < 100, "{p:?}");
        assert!(thumbnail(b"not a picture", 160, false).is_err());
    }

    #[test]
    fn hostile_pictures_are_refused_with_a_reason() {
        // A PNG header claiming 1 000 000 × 1 000 000 pixels.
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&1_000_000u32.to_be_bytes());
        png.extend_from_slice(&1_000_000u32.to_be_bytes());
        png.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
        assert!(decode(&png).is_err());
        assert!(decode(b"\xff\xd8\xff\xe0 cut").unwrap_err().contains("cut short"));
        assert!(decode(b"GIF89a").is_err());
        assert!(decode(b"").is_err());
    }
}
