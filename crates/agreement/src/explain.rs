//! The agreement in plain words: who sends what to whom, how, for what, for how long.

use std::fmt::Write;

use crate::category::Category;
use crate::coherence::{self, Problem};
use crate::document::{Agreement, ImageRule, Mode, Onward, PlateRule, TransferBasis};
use crate::sign;

/// A text an officer or a data-protection officer can read, ending with the problems found.
pub fn explain(a: &Agreement) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Agreement {} — {}", a.id, a.title);
    let _ = writeln!(out, "In force from {} to {} inclusive (UTC).", a.valid_from, a.valid_until);
    for p in &a.parties {
        let _ = writeln!(out, "  {} — {} ({}), under {}; {}.", p.agency, p.name, p.country, p.regime.words(), p.law);
    }
    match sign::verify(a) {
        Ok(()) => out.push_str("Signed by both parties.\n"),
        Err(e) => {
            let _ = writeln!(out, "Not in force on any node: {e}.");
        }
    }
    for w in &a.witnesses {
        let _ = writeln!(out, "Audit logs also witnessed by {}.", w.name);
    }
    for (from, to) in directions(a) {
        let flows: Vec<_> = a.flows.iter().filter(|f| f.from == from && f.to == to).collect();
        let _ = writeln!(out, "\n{from} → {to}:");
        if flows.is_empty() {
            out.push_str("  nothing.\n");
        }
        for f in flows {
            let _ = writeln!(out, "  • {}: {}.", capitalised(f.category.words()), mode_words(f.mode, &f.from));
            if f.urgent_requests_approved_automatically && f.mode != Mode::Push {
                out.push_str("    Urgent requests are approved automatically.\n");
            }
            let mut shown = Vec::new();
            if f.category.carries_plates() {
                shown.push(match f.plates {
                    PlateRule::Pseudonymised => "plates pseudonymised",
                    PlateRule::Clear => "plates in clear",
                });
            }
            shown.push(match f.images {
                ImageRule::None => "no images",
                ImageRule::Blurred => "images with faces and plates blurred",
                ImageRule::Clear => "images as recorded",
            });
            let _ = writeln!(out, "    Shown: {}.", shown.join(", "));
            let _ = writeln!(out, "    For: {}.", f.purposes.join(", ").replace('_', " "));
            let _ = writeln!(
                out,
                "    Kept by {to} for {} days after arrival, then deleted with a receipt to {from}.",
                f.retention_days
            );
            let _ = writeln!(
                out,
                "    {}",
                match f.onward_transfer {
                    Onward::Forbidden => format!("{to} may not pass it on."),
                    Onward::WithConsent => format!("{to} may pass it on only with {from}'s consent for the case."),
                    Onward::Allowed => format!("{to} may pass it on to its partners under their agreements."),
                }
            );
            let _ = writeln!(out, "    Legal instrument: {}, {}.", f.instrument, f.article);
            if let Some(t) = &f.transfer {
                let basis = match t.basis {
                    TransferBasis::Adequacy => "an adequacy decision",
                    TransferBasis::AppropriateSafeguards => "appropriate safeguards",
                    TransferBasis::Derogation => "a derogation for specific cases",
                };
                let _ = writeln!(
                    out,
                    "    Transfer to a third country on {basis} ({}), documented in {}.",
                    t.article, t.reference
                );
            }
            if let Some(c) = &f.channel {
                let _ = writeln!(out, "    Not by SIENA: {}.", c.justification.trim_end_matches('.'));
            }
            if let Some(h) = &f.handling_code {
                let _ = writeln!(out, "    Handling code {h}.");
            }
            if f.valid_from.is_some() || f.valid_until.is_some() {
                let (s, e) = f.window(a);
                let _ = writeln!(out, "    Only from {} until {} (exclusive).", s.date_naive(), e.date_naive());
            }
        }
    }
    let named: Vec<Category> = a.flows.iter().map(|f| f.category).collect();
    let never: Vec<&str> = Category::ALL.iter().filter(|c| !named.contains(c)).map(|c| c.words()).collect();
    if !never.is_empty() {
        let _ = writeln!(out, "\nNever crosses, in either direction: {}.", never.join(", "));
    }
    let problems: Vec<Problem> = coherence::check(a);
    if problems.is_empty() {
        out.push_str("\nThe agreement is coherent.\n");
    } else {
        out.push('\n');
        for p in &problems {
            let _ = writeln!(out, "{p}");
        }
        if coherence::is_coherent(&problems) {
            out.push_str("The agreement is coherent (with warnings).\n");
        } else {
            out.push_str("The agreement is incoherent and cannot be used.\n");
        }
    }
    out
}

fn directions(a: &Agreement) -> Vec<(String, String)> {
    match &a.parties[..] {
        [x, y] => vec![(x.agency.clone(), y.agency.clone()), (y.agency.clone(), x.agency.clone())],
        _ => Vec::new(),
    }
}

fn mode_words(mode: Mode, owner: &str) -> String {
    match mode {
        Mode::Push => "sent as they arise".into(),
        Mode::HitNoHit => {
            format!("hit/no-hit only (the question stays hidden); full records on a request {owner} approves")
        }
        Mode::OnRequest => format!("only on a request {owner} approves"),
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}
