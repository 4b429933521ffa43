//! `limes bench pdq`: PDQ hashing speed on one core — hash only (pixels already decoded, at
//! 512×512, the size the reference's file hasher brings larger pictures to) and end to end
//! (reading the file, decoding the JPEG, hashing) on 1–2 MP photographs — beside Meta's C++
//! reference through its PyPI bindings (`--pdqhash-python`: an interpreter with `pdqhash`,
//! `numpy` and `pillow`) on the same pixels, in the same run.
//!
//! The photographs are the bridge pictures of the shared data (`--pictures`, default
//! `$LIMES_SHARED/pdq/images`, the 1600×1004 ones), or generated ones when there are none.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use limes_triage::pdq;

use super::{BenchArgs, figure};

pub fn run(a: &BenchArgs) -> anyhow::Result<()> {
    hashing(a)?;
    search(a)
}

/// Search among `--pdq-hashes` random hashes (PDQ's bits are near enough to random for an
/// index's sake; near copies planted for the queries to find), radius 31: build time, memory,
/// queries a second on every core, and recall against comparing with every hash.
fn search(a: &BenchArgs) -> anyhow::Result<()> {
    use limes_triage::mih::{MihIndex, Scratch};
    let n = a.pdq_hashes;
    let mut seed = a.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let hashes: Vec<pdq::Hash256> = (0..n)
        .map(|_| {
            let mut words = [0u16; 16];
            for w in words.chunks_mut(4) {
                let v = next();
                for (i, x) in w.iter_mut().enumerate() {
                    *x = (v >> (16 * i)) as u16;
                }
            }
            pdq::Hash256 { words }
        })
        .collect();
    // Queries: near copies (1–31 bits off) of hashes in the set, and as many fresh hashes.
    let queries = a.queries.max(2);
    let mut qs = Vec::with_capacity(queries);
    for i in 0..queries {
        let mut q = hashes[(next() % n as u64) as usize];
        if i % 2 == 0 {
            for _ in 0..(next() % 31 + 1) {
                let k = (next() % 256) as usize;
                q.words[k / 16] ^= 1 << (k % 16);
            }
        } else {
            for w in &mut q.words {
                *w = next() as u16;
            }
        }
        qs.push(q);
    }
    // FAISS gets the same hashes and queries, as bytes in its bit order (bit k of a code is bit
    // k % 8 of byte k / 8: the hash's 64-bit words little-endian).
    let faiss_files = match &a.faiss_python {
        Some(_) => {
            let dir = tempfile::tempdir()?;
            let dump = |name: &str, hs: &[pdq::Hash256]| -> anyhow::Result<PathBuf> {
                let path = dir.path().join(name);
                let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
                for h in hs {
                    for w in h.words {
                        std::io::Write::write_all(&mut out, &w.to_le_bytes())?;
                    }
                }
                std::io::Write::flush(&mut out)?;
                Ok(path)
            };
            Some((dump("hashes.bin", &hashes)?, dump("queries.bin", &qs)?, dir))
        }
        None => None,
    };
    let started = Instant::now();
    let index = MihIndex::build(&hashes, 31)?;
    drop(hashes);
    figure("pdq.search.hashes", n, "hashes (random, radius 31)");
    figure(
        "pdq.search.build_s",
        format!("{:.1}", started.elapsed().as_secs_f64()),
        &format!("s ({} tables)", index.tables()),
    );
    figure("pdq.search.memory_mb", index.memory() >> 20, "MiB");
    let threads = std::thread::available_parallelism().map(|t| t.get()).unwrap_or(1);
    let started = Instant::now();
    let found: usize = std::thread::scope(|s| {
        let handles: Vec<_> = qs
            .chunks(qs.len().div_ceil(threads))
            .map(|chunk| {
                let index = &index;
                s.spawn(move || {
                    let mut scratch = Scratch::default();
                    chunk.iter().map(|q| index.search(q, &mut scratch).len()).sum::<usize>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a search thread")).sum()
    });
    let took = started.elapsed().as_secs_f64();
    figure(
        "pdq.search.queries_per_s",
        format!("{:.0}", qs.len() as f64 / took),
        &format!("queries/s on {threads} threads"),
    );
    figure("pdq.search.found", found, "matches");
    let mut scratch = Scratch::default();
    let (mut want, mut got) = (0usize, 0usize);
    for q in qs.iter().take(a.pdq_recall_queries) {
        let truth = index.brute_force(q);
        let found = index.search(q, &mut scratch);
        want += truth.len();
        got += truth.iter().filter(|t| found.contains(t)).count();
    }
    figure(
        "pdq.search.recall",
        format!("{:.4}", if want == 0 { 1.0 } else { got as f64 / want as f64 }),
        &format!("of {want} matches of {} queries, against brute force", a.pdq_recall_queries.min(qs.len())),
    );
    drop(index);
    let (Some(python), Some((hashes, queries, _dir))) = (&a.faiss_python, faiss_files) else {
        figure("pdq.search.faiss", "skipped (no --faiss-python)", "");
        return Ok(());
    };
    // FAISS's multi-hash index as PDQ's users configure it: 16 tables of 16 bits, one bit
    // flipped per probe (exact for radius 31 by the same pigeonhole), on as many threads.
    let script = format!(
        r#"
import time, numpy as np, faiss, resource
faiss.omp_set_num_threads({threads})
xb = np.fromfile({hashes:?}, dtype=np.uint8).reshape(-1, 32)
xq = np.fromfile({queries:?}, dtype=np.uint8).reshape(-1, 32)
t = time.perf_counter()
index = faiss.IndexBinaryMultiHash(256, 16, 16)
index.nflip = 1
index.add(xb)
print(f"pdq.search.faiss.build_s={{time.perf_counter() - t:.1f}} s (IndexBinaryMultiHash 16x16, nflip 1)")
t = time.perf_counter()
lims, D, I = index.range_search(xq, 32)
took = time.perf_counter() - t
print(f"pdq.search.faiss.queries_per_s={{len(xq) / took:.0f}} queries/s on {threads} threads")
print(f"pdq.search.faiss.found={{len(I)}} matches")
print(f"pdq.search.faiss.peak_rss_mb={{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}} MiB (the process, hashes loaded twice)")
"#,
        hashes = hashes.display().to_string(),
        queries = queries.display().to_string(),
    );
    let out = std::process::Command::new(python)
        .args(["-c", &script])
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    anyhow::ensure!(out.status.success(), "FAISS failed: {}", String::from_utf8_lossy(&out.stderr));
    print!("{}", String::from_utf8_lossy(&out.stdout));
    Ok(())
}

fn hashing(a: &BenchArgs) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let files = pictures(a, tmp.path())?;
    let decoded: Vec<image::RgbImage> =
        files.iter().map(|f| crate::pdq::decode(f).map_err(anyhow::Error::msg)).collect::<Result<_, _>>()?;
    let megapixels =
        decoded.iter().map(|p| f64::from(p.width() * p.height())).sum::<f64>() / decoded.len() as f64 / 1e6;
    figure("pdq.pictures", format!("{} JPEG, {megapixels:.2} MP each on average", files.len()), "");
    // At 512×512: the pictures as the reference's file hasher resamples them.
    let square: Vec<image::RgbImage> =
        decoded.iter().map(|p| image::imageops::resize(p, 512, 512, image::imageops::FilterType::Nearest)).collect();
    let rounds = a.pdq_rounds.max(1);
    let started = Instant::now();
    let mut n = 0u64;
    for _ in 0..rounds {
        for p in &square {
            std::hint::black_box(pdq::hash_rgb8(p.as_raw(), 512, 512)?);
            n += 1;
        }
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    figure("pdq.limes.hash_512.per_s", format!("{rate:.0}"), "pictures/s on one core (512x512 pixels in memory)");
    let started = Instant::now();
    let mut n = 0u64;
    for _ in 0..rounds {
        for p in &decoded {
            std::hint::black_box(pdq::hash_rgb8(p.as_raw(), p.width() as usize, p.height() as usize)?);
            n += 1;
        }
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    figure(
        "pdq.limes.hash_full.per_s",
        format!("{rate:.0}"),
        "pictures/s on one core (full-size pixels in memory, resampled as the reference does)",
    );
    let started = Instant::now();
    let mut n = 0u64;
    for _ in 0..rounds.div_ceil(4) {
        for f in &files {
            let p = crate::pdq::decode(f).map_err(anyhow::Error::msg)?;
            std::hint::black_box(pdq::hash_rgb8(p.as_raw(), p.width() as usize, p.height() as usize)?);
            n += 1;
        }
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    figure("pdq.limes.end_to_end.per_s", format!("{rate:.1}"), "pictures/s on one core (read, JPEG decode, hash)");
    let Some(python) = &a.pdqhash_python else {
        figure("pdq.reference", "skipped (no --pdqhash-python)", "");
        return Ok(());
    };
    // The same 512×512 pixels, written raw for the reference.
    let raw = tmp.path().join("square.rgb");
    let bytes: Vec<u8> = square.iter().flat_map(|p| p.as_raw().iter().copied()).collect();
    std::fs::write(&raw, bytes)?;
    let list = tmp.path().join("files.txt");
    std::fs::write(&list, files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join("\n"))?;
    let script = format!(
        r#"
import sys, time, numpy as np, pdqhash
from PIL import Image
raw = np.fromfile({raw:?}, dtype=np.uint8).reshape(-1, 512, 512, 3)
rounds = {rounds}
t = time.perf_counter(); n = 0
for _ in range(rounds):
    for p in raw:
        pdqhash.compute(p); n += 1
print(f"pdq.reference.hash_512.per_s={{n / (time.perf_counter() - t):.0f}} pictures/s on one core (pdqhash, the C++ reference through its bindings; its luma in numpy)")
files = open({list:?}).read().split("\n")
t = time.perf_counter(); n = 0
for _ in range(max(1, (rounds + 3) // 4)):
    for f in files:
        p = np.asarray(Image.open(f).convert("RGB"))
        if p.shape[0] > 512 or p.shape[1] > 512:
            p = np.asarray(Image.fromarray(p).resize((512, 512), Image.NEAREST))
        pdqhash.compute(p); n += 1
print(f"pdq.reference.end_to_end.per_s={{n / (time.perf_counter() - t):.1f}} pictures/s on one core (Pillow decode, resample to 512 as the reference's file hasher does, pdqhash)")
"#,
        raw = raw.display().to_string(),
        list = list.display().to_string(),
    );
    let out = std::process::Command::new(python)
        .args(["-c", &script])
        .env("OMP_NUM_THREADS", "1")
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    anyhow::ensure!(out.status.success(), "the reference failed: {}", String::from_utf8_lossy(&out.stderr));
    print!("{}", String::from_utf8_lossy(&out.stdout));
    Ok(())
}

/// The photographs to hash: the shared bridge pictures over 1 MP, or generated ones.
fn pictures(a: &BenchArgs, tmp: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let dir =
        a.pictures.clone().or_else(|| std::env::var_os("LIMES_SHARED").map(|d| PathBuf::from(d).join("pdq/images")));
    if let Some(dir) = dir.filter(|d| d.is_dir()) {
        let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("jpg")))
            .filter(|p| image::image_dimensions(p).is_ok_and(|(w, h)| u64::from(w) * u64::from(h) >= 1_000_000))
            .collect();
        found.sort();
        if !found.is_empty() {
            return Ok(found);
        }
    }
    // Generated: smooth gradients with noise, 1600×1000, as JPEG.
    (0..8u32)
        .map(|k| {
            let mut s = 0x9e37_79b9u32.wrapping_mul(k + 1) | 1;
            let picture = image::RgbImage::from_fn(1600, 1000, |x, y| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                let n = (s % 32) as u8;
                image::Rgb([(x / 7 + k * 20) as u8 ^ n, (y / 5) as u8, ((x + y) / 9) as u8])
            });
            let path = tmp.join(format!("generated-{k}.jpg"));
            picture.save(&path)?;
            Ok(path)
        })
        .collect()
}
