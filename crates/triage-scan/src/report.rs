//! A case's reports: an HTML summary (self-contained, no script, no pictures: the pictures are
//! for the review view, not for a report that travels) and the VICS 2.0 export.

use std::collections::BTreeMap;
use std::fmt::Write;

use limes_triage::known::{Class, hex};
use limes_triage::leads::{self, Leads};
use limes_triage::verdict::Status;
use limes_triage::vics;

use crate::deconflict::Notice;
use crate::matching::{needs_review, resolve};
use crate::store::{CaseFile, CaseStore, HashSets, Kind, StoreError};

/// The case's files with their verdicts' hits filled in.
pub fn load(case: &CaseStore, sets: &HashSets) -> Result<Vec<CaseFile>, StoreError> {
    let mut files = case.files()?;
    for f in &mut files {
        if let Some(v) = &f.verdict {
            f.verdict = Some(resolve(sets, v)?);
        }
    }
    Ok(files)
}

fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// The HTML summary of a case: counts by verdict and category; known and near-matched files
/// with category, source and distance; what needs review, unknown pictures first (largest
/// series first), with the series they are in; and every file that could not be read, with why.
pub fn html(case: &str, files: &[CaseFile], notices: &[Notice]) -> String {
    let mut by_status: BTreeMap<Status, u64> = BTreeMap::new();
    let mut by_category: BTreeMap<(Class, String, String), u64> = BTreeMap::new();
    let mut series: BTreeMap<u64, u64> = BTreeMap::new();
    for f in files {
        if let Some(v) = &f.verdict {
            *by_status.entry(v.status).or_default() += 1;
            if let Some(hit) = &v.hit {
                *by_category
                    .entry((hit.category.class(), hit.category.to_string(), hit.source.clone()))
                    .or_default() += 1;
            }
        }
        if let Some(s) = f.series {
            *series.entry(s).or_default() += 1;
        }
    }
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Triage of case {c}</title>\
         <style>body{{font:14px system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}\
         td,th{{border:1px solid #bbb;padding:2px 8px;text-align:left}}td.n{{text-align:right}}</style>\
         <h1>Triage of case {c}</h1><p>{n} files and archive members. Hashes only: this report holds no picture.</p>",
        c = esc(case),
        n = files.len()
    );
    h.push_str("<h2>Other cases on the same material</h2>");
    if notices.is_empty() {
        h.push_str("<p id=\"notices\">No other case of this node shares its new files, cameras or pictures.</p>");
    } else {
        h.push_str("<p>Contact their owners before acting: this case and theirs share what is counted below (neither side sees the other's files).</p>");
        h.push_str(
            "<table id=\"notices\"><tr><th>case<th>contact<th>same files<th>same cameras<th>near pictures<th>since",
        );
        for n in notices {
            let owner = if n.owner.is_empty() { "(no owner given)".to_owned() } else { esc(&n.owner) };
            let o = n.overlap;
            let _ = write!(
                h,
                "<tr><td>{}<td>{owner}<td class=n>{}<td class=n>{}<td class=n>{}<td>{}",
                esc(&n.case),
                o.files,
                o.devices,
                o.pictures,
                esc(&n.at)
            );
        }
        h.push_str("</table>");
    }
    h.push_str("<h2>Verdicts</h2><table id=\"verdicts\"><tr><th>verdict<th>files");
    for (s, n) in &by_status {
        let _ = write!(h, "<tr><td>{}<td class=n>{n}", s.name());
    }
    h.push_str("</table><h2>Categories</h2><table id=\"categories\"><tr><th>class<th>category<th>source<th>files");
    for ((class, category, source), n) in &by_category {
        let _ = write!(h, "<tr><td>{}<td>{}<td>{}<td class=n>{n}", class.name(), esc(category), esc(source));
    }
    h.push_str("</table><h2>Known and near-matched files</h2><table id=\"known\"><tr><th>file<th>bytes<th>verdict<th>category<th>source<th>distance");
    for f in files {
        let Some(v) = &f.verdict else { continue };
        let Some(hit) = &v.hit else { continue };
        if v.status == Status::KnownGood {
            continue;
        }
        let _ = write!(
            h,
            "<tr><td>{}<td class=n>{}<td>{}<td>{} ({})<td>{}<td class=n>{}",
            esc(&f.record.path),
            f.record.size,
            v.status.name(),
            esc(&hit.category.to_string()),
            hit.category.label(),
            esc(&hit.source),
            v.distance.map(|d| d.to_string()).unwrap_or_default()
        );
    }
    // Review order: unknown pictures (where a new victim may be), biggest series first, then
    // the other files needing review.
    let mut review: Vec<&CaseFile> =
        files.iter().filter(|f| f.verdict.as_ref().is_some_and(|v| needs_review(v.status))).collect();
    review.sort_by_key(|f| {
        let picture = matches!(f.record.kind, Kind::Picture | Kind::Video);
        let unknown = f.verdict.as_ref().is_some_and(|v| v.status == Status::Unknown);
        let in_series = f.series.map_or(0, |s| series[&s]);
        let faces = f.faces.unwrap_or(0);
        (
            !(picture && unknown),
            faces == 0,
            !picture,
            std::cmp::Reverse(in_series),
            std::cmp::Reverse(faces),
            f.series.unwrap_or(f.id),
            f.id,
        )
    });
    h.push_str("</table><h2>To review</h2><p>Unknown pictures first: those with faces, then the largest series.</p>");
    h.push_str("<table id=\"review\"><tr><th>file<th>kind<th>verdict<th>faces<th>series<th>SHA-1");
    for f in review {
        let v = f.verdict.as_ref().map_or("", |v| v.status.name());
        let s = f.series.map(|s| format!("#{s} ({} files)", series[&s])).unwrap_or_default();
        let faces = f.faces.map(|n| n.to_string()).unwrap_or_default();
        let _ = write!(
            h,
            "<tr><td>{}<td>{}<td>{v}<td class=n>{faces}<td>{s}<td>{}",
            esc(&f.record.path),
            f.record.kind.name(),
            f.record.sha1.map(|x| hex(&x)).unwrap_or_default()
        );
    }
    leads_html(&mut h, files);
    h.push_str("<h2>Not read, or noticed</h2><table id=\"notes\"><tr><th>file<th>kind<th>note");
    for f in files.iter().filter(|f| f.record.note.is_some()) {
        let _ = write!(
            h,
            "<tr><td>{}<td>{}<td>{}",
            esc(&f.record.path),
            f.record.kind.name(),
            esc(f.record.note.as_deref().unwrap_or_default())
        );
    }
    h.push_str("</table></html>\n");
    h
}

/// Leads to authors: devices by serial number, every picture with metadata, and the positions
/// on a plot of their own (latitude against longitude: the report must open on a closed network,
/// so no map tiles).
fn leads_html(h: &mut String, files: &[CaseFile]) {
    let with: Vec<(&CaseFile, &Leads)> = files.iter().filter_map(|f| f.record.leads.as_ref().map(|l| (f, l))).collect();
    h.push_str("</table><h2>Devices</h2><table id=\"devices\"><tr><th>device<th>files<th>first of them");
    for (device, of) in leads::by_device(with.iter().map(|(f, l)| (f.id, *l))) {
        let names: Vec<String> =
            with.iter().filter(|(f, _)| of.contains(&f.id)).take(3).map(|(f, _)| esc(&f.record.path)).collect();
        let _ = write!(h, "<tr><td>{}<td class=n>{}<td>{}", esc(&device), of.len(), names.join("<br>"));
    }
    h.push_str("</table><h2>Metadata</h2><table id=\"metadata\"><tr><th>file<th>camera<th>serial<th>software<th>taken<th>position<th>thumbnail");
    for (f, l) in &with {
        let camera = [l.make.as_deref(), l.model.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
        let position = l.position.map(|p| format!("{:.6}, {:.6}", p.latitude, p.longitude)).unwrap_or_default();
        let thumbnail = match l.thumbnail_distance {
            Some(d) if d > limes_triage::mih::DEFAULT_RADIUS => format!("differs from the picture (PDQ distance {d})"),
            Some(d) => format!("the same picture (distance {d})"),
            None => String::new(),
        };
        let _ = write!(
            h,
            "<tr><td>{}<td>{}<td>{}<td>{}<td>{}<td>{position}<td>{thumbnail}",
            esc(&f.record.path),
            esc(&camera),
            esc(l.serial.as_deref().unwrap_or_default()),
            esc(l.software.as_deref().unwrap_or_default()),
            esc(l.taken.as_deref().unwrap_or_default())
        );
    }
    let points: Vec<(&CaseFile, leads::Position)> =
        with.iter().filter_map(|(f, l)| l.position.map(|p| (*f, p))).collect();
    h.push_str("</table><h2>Positions</h2>");
    if points.is_empty() {
        h.push_str("<p>No picture says where it was taken.</p>");
        return;
    }
    let (w, ht, pad) = (640.0, 400.0, 20.0);
    let lat = points.iter().map(|(_, p)| p.latitude);
    let lon = points.iter().map(|(_, p)| p.longitude);
    let (lat0, lat1) = (lat.clone().fold(f64::MAX, f64::min), lat.fold(f64::MIN, f64::max));
    let (lon0, lon1) = (lon.clone().fold(f64::MAX, f64::min), lon.fold(f64::MIN, f64::max));
    let span = (lat1 - lat0).max(lon1 - lon0).max(1e-4);
    let _ = write!(
        h,
        "<svg id=\"positions\" width=\"{w}\" height=\"{ht}\" viewBox=\"0 0 {w} {ht}\" style=\"border:1px solid #bbb\">\
         <text x=\"4\" y=\"14\" font-size=\"11\">{lat1:.5}° N, {lon0:.5}° E</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{lat0:.5}° N, {lon1:.5}° E</text>",
        w - 4.0,
        ht - 6.0
    );
    for (f, p) in &points {
        let x = pad + (p.longitude - lon0) / span * (w - 2.0 * pad);
        let y = pad + (lat1 - p.latitude) / span * (ht - 2.0 * pad);
        let _ = write!(
            h,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"5\" fill=\"#c0392b\"><title>{}</title></circle>",
            esc(&f.record.path)
        );
    }
    h.push_str("</svg>");
}

/// The case as VICS 2.0 JSON: every picture and video that was hashed, with the category of
/// the set that knows it exactly.
pub fn vics_export(case: &str, files: &[CaseFile]) -> String {
    let media: Vec<vics::Media> = files
        .iter()
        .filter(|f| matches!(f.record.kind, Kind::Picture | Kind::Video))
        .filter_map(|f| {
            let r = &f.record;
            Some(vics::Media {
                id: f.id,
                md5: r.md5?,
                sha1: r.sha1?,
                sha256: r.sha256?,
                pdq: r.pdq.map(|(h, _)| h),
                size: r.size,
                path: r.path.clone(),
                // A reviewer's category over the one of the set that knows the file.
                category: f.review.as_ref().map(|(c, _)| c.clone()).or_else(|| {
                    f.verdict
                        .as_ref()
                        .filter(|v| v.status == Status::Known)
                        .and_then(|v| v.hit.as_ref())
                        .map(|h| h.category.clone())
                }),
            })
        })
        .collect();
    vics::export(case, &media)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_names_is_escaped() {
        assert_eq!(esc("<img src=x onerror='a'>&\u{7}"), "&lt;img src=x onerror=&#39;a&#39;&gt;&amp;\u{fffd}");
    }
}
