//! Frames resized into the models' inputs (the face detector's, the object detector's letterbox,
//! the text detector's and the recogniser's), with SIMD (`fast_image_resize`): the `image`
//! crate's generic resize took 34 ms to stretch a 720p frame to CenterFace's 1280×736, a sixth of
//! the frame's whole time.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::RgbImage;

/// `img` resized to `width`×`height` (both at least 1) with a bilinear filter, as OpenCV's
/// `INTER_LINEAR` (what the Python tools feed the same models) resizes.
pub fn bilinear(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (width, height) = (width.max(1), height.max(1));
    if img.dimensions() == (width, height) {
        return img.clone();
    }
    let resized = ImageRef::new(img.width(), img.height(), img.as_raw(), PixelType::U8x3).ok().and_then(|src| {
        let mut dst = Image::new(width, height, PixelType::U8x3);
        let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
        Resizer::new().resize(&src, &mut dst, &options).ok()?;
        RgbImage::from_raw(width, height, dst.into_vec())
    });
    // The library refuses only buffers of the wrong size or alignment, which an `RgbImage`'s
    // never are; should it refuse, the `image` crate's resize gives the same picture, slower.
    resized.unwrap_or_else(|| image::imageops::resize(img, width, height, image::imageops::FilterType::Triangle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resizes_as_the_image_crate_does_within_rounding() {
        let img = RgbImage::from_fn(64, 36, |x, y| image::Rgb([(x * 4) as u8, (y * 7) as u8, ((x + y) * 3) as u8]));
        for (w, h) in [(64, 37), (128, 72), (32, 18), (7, 3), (1, 1)] {
            let fast = bilinear(&img, w, h);
            let slow = image::imageops::resize(&img, w, h, image::imageops::FilterType::Triangle);
            assert_eq!(fast.dimensions(), (w, h));
            let worst = fast.as_raw().iter().zip(slow.as_raw()).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
            assert!(worst <= 3, "{w}×{h}: {worst}");
        }
        assert_eq!(bilinear(&img, 64, 36), img);
        assert_eq!(bilinear(&img, 0, 0).dimensions(), (1, 1));
    }
}
