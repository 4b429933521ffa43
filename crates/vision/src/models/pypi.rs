//! The PyPI JSON API's answer, without I/O: the files of a version and the one to take.
//!
//! `GET {index}/pypi/{name}/{version}/json` lists the version's files under `urls`; the project's
//! `GET {index}/pypi/{name}/json` lists every version's under `releases`. Some mirrors answer only
//! the latter, so both are read. A file's `url` may be relative to the answer's own address.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::manifest::Package;
use super::wheel;

/// One file of a release, as the index lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ListedFile {
    pub filename: String,
    pub url: String,
    pub size: Option<u64>,
    pub digests: Digests,
    #[serde(default)]
    pub yanked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Digests {
    pub sha256: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default)]
    urls: Option<Vec<ListedFile>>,
    #[serde(default)]
    releases: Option<BTreeMap<String, Vec<ListedFile>>>,
}

/// Why an index's answer gives no wheel to take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListingError {
    /// The answer is not the JSON API's.
    #[error("the answer is not the JSON API's ({0})")]
    NotJson(String),
    /// The answer lists no file of the version (a project answer without it).
    #[error("lists no release {0}")]
    NoRelease(String),
    /// None of the version's files is the pinned wheel (or source distribution).
    #[error("lists no {tags} of {package} (files: {files})")]
    NoWheel { package: String, tags: String, files: String },
    /// The pinned wheel is listed without a SHA-256 to check it against.
    #[error("lists {0} without a sha256 digest")]
    NoDigest(String),
}

/// The pinned wheel of `package` in an index's JSON answer (a version's or the project's).
pub fn wheel_in(answer: &[u8], package: &Package) -> Result<ListedFile, ListingError> {
    let answer: Answer = serde_json::from_slice(answer).map_err(|e| ListingError::NotJson(e.to_string()))?;
    let files = match (answer.urls, answer.releases) {
        // A project answer's `urls` are the latest version's: take `releases` when it is there.
        (_, Some(mut releases)) => {
            releases.remove(package.version).ok_or_else(|| ListingError::NoRelease(package.version.to_owned()))?
        }
        (Some(urls), None) => urls,
        (None, None) => return Err(ListingError::NotJson("neither `urls` nor `releases`".into())),
    };
    let chosen =
        wheel::choose(package, files.iter().map(|f| f.filename.as_str())).map(str::to_owned).ok_or_else(|| {
            ListingError::NoWheel {
                package: package.to_string(),
                tags: package.archive.to_string(),
                files: if files.is_empty() {
                    "none".into()
                } else {
                    files.iter().map(|f| f.filename.as_str()).collect::<Vec<_>>().join(", ")
                },
            }
        })?;
    let file = files.into_iter().find(|f| f.filename == chosen).expect("chosen among these");
    match &file.digests.sha256 {
        Some(d) if d.len() == 64 && d.chars().all(|c| c.is_ascii_hexdigit()) => Ok(file),
        _ => Err(ListingError::NoDigest(file.filename)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::manifest::{ModelId, file};

    fn rapid() -> &'static Package {
        file(ModelId::TextDetection).package
    }

    const VERSION_ANSWER: &str = r#"{"info": {"name": "rapidocr-onnxruntime", "version": "1.3.24"},
        "urls": [
          {"filename": "rapidocr_onnxruntime-1.3.24-py3-none-any.whl", "packagetype": "bdist_wheel",
           "size": 14910742, "url": "https://files.example/packages/ab/rapidocr_onnxruntime-1.3.24-py3-none-any.whl",
           "digests": {"md5": "x", "sha256": "4282ff0b8db05ad2a53afc8d0ef2e7d879c53022fc61a4f8e84c58d737822cd2"},
           "yanked": false}
        ], "vulnerabilities": []}"#;

    #[test]
    fn a_versions_answer_gives_its_wheel() {
        let f = wheel_in(VERSION_ANSWER.as_bytes(), rapid()).unwrap();
        assert_eq!(f.filename, "rapidocr_onnxruntime-1.3.24-py3-none-any.whl");
        assert_eq!(f.size, Some(14910742));
        assert_eq!(
            f.digests.sha256.as_deref(),
            Some("4282ff0b8db05ad2a53afc8d0ef2e7d879c53022fc61a4f8e84c58d737822cd2")
        );
    }

    #[test]
    fn a_projects_answer_gives_the_pinned_versions_wheel_not_the_latest() {
        let answer = r#"{"info": {}, "urls": [{"filename": "rapidocr_onnxruntime-1.4.4-py3-none-any.whl",
              "url": "x", "digests": {"sha256": "0000000000000000000000000000000000000000000000000000000000000000"}}],
            "releases": {
              "1.3.24": [{"filename": "rapidocr_onnxruntime-1.3.24-py3-none-any.whl", "url": "../../packages/a/b.whl",
                          "size": 5, "digests": {"sha256": "1111111111111111111111111111111111111111111111111111111111111111"}}],
              "1.4.4": [{"filename": "rapidocr_onnxruntime-1.4.4-py3-none-any.whl", "url": "x",
                         "digests": {"sha256": "0000000000000000000000000000000000000000000000000000000000000000"}}]}}"#;
        let f = wheel_in(answer.as_bytes(), rapid()).unwrap();
        assert_eq!(f.url, "../../packages/a/b.whl");
        let without = answer.replace("\"1.3.24\"", "\"1.3.23\"");
        assert_eq!(wheel_in(without.as_bytes(), rapid()), Err(ListingError::NoRelease("1.3.24".into())));
    }

    #[test]
    fn answers_that_give_nothing_to_take_say_why() {
        assert!(matches!(wheel_in(b"<html>", rapid()), Err(ListingError::NotJson(_))));
        assert!(matches!(wheel_in(b"{}", rapid()), Err(ListingError::NotJson(_))));
        let sdist_only = VERSION_ANSWER.replace("-py3-none-any.whl", ".tar.gz");
        match wheel_in(sdist_only.as_bytes(), rapid()) {
            Err(ListingError::NoWheel { tags, files, .. }) => {
                assert_eq!(tags, "py3-none-any wheel");
                assert_eq!(files, "rapidocr_onnxruntime-1.3.24.tar.gz");
            }
            other => panic!("{other:?}"),
        }
        // A yanked release is still the pinned one (pip installs it when pinned with ==), and
        // its files are checked by digest all the same.
        let yanked = VERSION_ANSWER.replace("\"yanked\": false", "\"yanked\": true");
        assert!(wheel_in(yanked.as_bytes(), rapid()).unwrap().yanked);
        let no_digest = VERSION_ANSWER.replace("\"sha256\": \"4282", "\"blake2b\": \"4282");
        assert_eq!(
            wheel_in(no_digest.as_bytes(), rapid()),
            Err(ListingError::NoDigest("rapidocr_onnxruntime-1.3.24-py3-none-any.whl".into()))
        );
    }
}
