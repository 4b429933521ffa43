//! The in-memory hotlist index: entries by slot, an id table, a look-alike table
//! with chains, the fuzzy index and the edit-distance index.

use std::hash::BuildHasher;

use chrono::{DateTime, Utc};
use hashbrown::{DefaultHashBuilder, HashMap, HashTable};
use limes_model::{AgencyId, Colour, Demotion, HotlistEntry, HotlistReason, Make, MatchKind, VehicleCode, VehicleInfo};
use limes_plate::{CountryCode, Normalized};
use rayon::prelude::*;

use crate::distance::levenshtein_within;
use crate::fuzzy::FuzzyIndex;
use crate::key::{fold_key, pack, unpack};
use crate::query::{Prepared, Query, SearchHit, expired, hit_order};
use crate::segments::SegmentIndex;

/// The end of a chain.
const NIL: u32 = u32::MAX;

/// One live alert candidate: which entry, how sure, and how far the texts were.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hit {
    pub entry_id: u64,
    pub kind: MatchKind,
    /// The Levenshtein distance between the read's text (or the candidate text that
    /// matched) and the entry's plate: 0 for an exact match.
    pub distance: u8,
    /// Why a hit that the text alone would confirm is only possible
    /// ([`MatchPolicy::apply`](crate::MatchPolicy::apply) sets it).
    pub demoted: Option<Demotion>,
}

/// An entry as the index keeps it: 56 bytes, with the agency interned, the vehicle
/// as the two codes matching compares, and the rare note (and vehicle descriptions
/// the codes do not reproduce) kept aside.
#[derive(Debug, Clone)]
struct Slot {
    /// The packed plate; 0 marks a free slot.
    key: u64,
    /// The packed look-alike fold of the plate.
    fold: u64,
    id: u64,
    expires: Option<DateTime<Utc>>,
    /// The next slot with the same fold, or [`NIL`].
    next: u32,
    agency: u32,
    country: Option<CountryCode>,
    reason: HotlistReason,
    priority: u8,
    fuzzy: bool,
    /// An exercise's entry (`HotlistEntry::exercise`).
    exercise: bool,
    /// [`Make::code`] or 0.
    make: u8,
    /// [`Colour::code`] or 0.
    colour: u8,
}

impl Slot {
    fn is_free(&self) -> bool {
        self.key == 0
    }
}

/// The hotlist in memory, for live matching and investigative search.
///
/// Each entry lives in a slot (a `u32`); two hash tables hold only slot numbers
/// (five bytes a bucket, control byte included) and compare through the slots:
/// one by entry id, one by look-alike fold of the plate. Entries with the same
/// fold are chained through their slots, so one probe finds both the exact and the
/// look-alike matches of a read. Hashing is hashbrown's default, foldhash: packed
/// plates are base-37 numbers whose low bits follow the last characters, so the
/// hash must mix all 64 bits (as foldhash's folded multiply does in about a
/// nanosecond; FxHash's single multiply leaves the top bits, which hashbrown uses
/// as tags, weak), and its seed differs between tables and processes, so plates
/// cannot be crafted in advance to collide.
///
/// Slots are `u32`: an index holds fewer than 2^32 - 1 entries (at 56 bytes a
/// slot, 240 GB of them).
#[derive(Default)]
pub struct HotlistIndex {
    slots: Vec<Slot>,
    free: Vec<u32>,
    hasher: DefaultHashBuilder,
    by_id: HashTable<u32>,
    /// The first slot of each fold chain.
    by_fold: HashTable<u32>,
    agencies: Vec<AgencyId>,
    agency_slots: HashMap<AgencyId, u32>,
    notes: HashMap<u32, String>,
    /// Vehicle descriptions that the slot's codes do not reproduce word for word.
    vehicles: HashMap<u32, VehicleInfo>,
    fuzzy: FuzzyIndex,
    segments: SegmentIndex,
    len: usize,
}

/// One text of a read to match: the read's own, or a candidate country's repair.
#[derive(Clone, Copy)]
struct Form<'a> {
    text: &'a [u8],
    key: u64,
    fold: u64,
    rule: Rule,
}

/// When an equal text confirms a hit.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// The read's country was given: entries of that country or of none.
    Country(CountryCode),
    /// The read had no country and this is its own text: any entry.
    Any,
    /// The read had no country and this is this candidate country's repair: it never
    /// confirms. Guessing the country and then repairing by that guess is two guesses:
    /// measured on simulated traffic, such hits were often another plate (a valid RO
    /// plate read without a country, repaired as BG, equal to a BG entry).
    Candidate(CountryCode),
}

impl Rule {
    fn confirms(self, entry: Option<CountryCode>) -> bool {
        match (self, entry) {
            (Rule::Candidate(_), _) => false,
            (_, None) | (Rule::Any, _) => true,
            (Rule::Country(c), Some(e)) => c == e,
        }
    }
}

/// Forms of a read kept on the stack; reads with more candidates use the heap.
const STACK_FORMS: usize = 8;

impl HotlistIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds an index of `entries`; of entries with the same id, the last wins.
    ///
    /// Converting entries and building the edit-distance index run in parallel;
    /// the two hash tables are filled in one pass each, presized.
    pub fn from_entries(entries: Vec<HotlistEntry>) -> Self {
        let mut index = Self::new();
        let n = entries.len();
        assert!(n < NIL as usize, "a hotlist index holds fewer than 2^32 - 1 entries");
        let agencies: Vec<u32> = entries.iter().map(|e| index.intern(&e.agency)).collect();
        let notes: Vec<(u32, String)> =
            entries.par_iter().enumerate().filter_map(|(i, e)| e.note.clone().map(|note| (i as u32, note))).collect();
        let (slots, vehicles): (Vec<Slot>, Vec<Option<VehicleInfo>>) =
            entries.into_par_iter().zip(agencies).map(|(e, agency)| Slot::new(e, agency)).unzip();
        index.slots = slots;
        index.notes = notes.into_iter().collect();
        index.vehicles = vehicles.into_iter().enumerate().filter_map(|(i, v)| Some((i as u32, v?))).collect();

        let Self { slots, free, hasher, by_id, by_fold, notes, vehicles, .. } = &mut index;
        by_id.reserve(n, |&s| hasher.hash_one(slots[s as usize].id));
        for s in 0..slots.len() as u32 {
            let id = slots[s as usize].id;
            match by_id.entry(
                hasher.hash_one(id),
                |&t| slots[t as usize].id == id,
                |&t| hasher.hash_one(slots[t as usize].id),
            ) {
                hashbrown::hash_table::Entry::Occupied(mut o) => {
                    // An earlier entry with this id: the later one replaces it.
                    let old = std::mem::replace(o.get_mut(), s);
                    slots[old as usize].key = 0;
                    notes.remove(&old);
                    vehicles.remove(&old);
                    free.push(old);
                }
                hashbrown::hash_table::Entry::Vacant(v) => {
                    v.insert(s);
                }
            }
        }
        by_fold.reserve(by_id.len(), |&s| hasher.hash_one(slots[s as usize].fold));
        for s in 0..slots.len() as u32 {
            if slots[s as usize].is_free() {
                continue;
            }
            Self::link(slots, hasher, by_fold, s);
        }
        index.len = index.by_id.len();
        for s in 0..index.slots.len() {
            let slot = &index.slots[s];
            if slot.fuzzy && !slot.is_free() {
                index.fuzzy.add(unpack(slot.key).as_bytes(), s as u32);
            }
        }
        let keys: Vec<u64> = index.slots.par_iter().filter(|s| !s.is_free()).map(|s| s.key).collect();
        index.segments = SegmentIndex::build(keys);
        index
    }

    fn intern(&mut self, agency: &AgencyId) -> u32 {
        if let Some(&a) = self.agency_slots.get(agency) {
            return a;
        }
        let a = self.agencies.len() as u32;
        self.agencies.push(agency.clone());
        self.agency_slots.insert(agency.clone(), a);
        a
    }

    /// The number of live entries.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn slot_of(&self, id: u64) -> Option<u32> {
        self.by_id.find(self.hasher.hash_one(id), |&s| self.slots[s as usize].id == id).copied()
    }

    pub fn contains(&self, id: u64) -> bool {
        self.slot_of(id).is_some()
    }

    /// The entry with this id, rebuilt from its slot.
    pub fn get(&self, id: u64) -> Option<HotlistEntry> {
        self.slot_of(id).map(|s| self.entry(s))
    }

    /// Every live entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = HotlistEntry> + '_ {
        (0..self.slots.len() as u32).filter(|&s| !self.slots[s as usize].is_free()).map(|s| self.entry(s))
    }

    fn entry(&self, s: u32) -> HotlistEntry {
        let slot = &self.slots[s as usize];
        HotlistEntry {
            id: slot.id,
            plate: unpack(slot.key).to_plate(),
            country: slot.country,
            reason: slot.reason,
            priority: slot.priority,
            agency: self.agencies[slot.agency as usize].clone(),
            expires: slot.expires,
            fuzzy: slot.fuzzy,
            exercise: slot.exercise,
            note: self.notes.get(&s).cloned(),
            vehicle: self.vehicles.get(&s).cloned().or_else(|| vehicle_of_codes(slot.make, slot.colour)),
        }
    }

    /// The make and colour of entry `id`, as read-side checks compare them.
    pub fn vehicle_code(&self, id: u64) -> Option<VehicleCode> {
        let slot = &self.slots[self.slot_of(id)? as usize];
        Some(VehicleCode { make: Make::from_code(slot.make), colour: Colour::from_code(slot.colour) })
    }

    /// Adds an entry, replacing and returning the one with the same id.
    pub fn insert(&mut self, mut entry: HotlistEntry) -> Option<HotlistEntry> {
        let old = self.remove(entry.id);
        let agency = self.intern(&entry.agency);
        let note = entry.note.take();
        let (slot, vehicle) = Slot::new(entry, agency);
        let s = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = slot;
                s
            }
            None => {
                assert!(self.slots.len() < NIL as usize, "a hotlist index holds fewer than 2^32 - 1 entries");
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        if let Some(note) = note {
            self.notes.insert(s, note);
        }
        if let Some(vehicle) = vehicle {
            self.vehicles.insert(s, vehicle);
        }
        let (id, key) = (self.slots[s as usize].id, self.slots[s as usize].key);
        let Self { slots, hasher, by_id, .. } = self;
        by_id.insert_unique(hasher.hash_one(id), s, |&t| hasher.hash_one(slots[t as usize].id));
        // Asked before linking the new slot, which has the key itself.
        let known = self.has_key(key);
        let Self { slots, hasher, by_fold, .. } = self;
        Self::link(slots, hasher, by_fold, s);
        if !known {
            self.segments.add(key);
        }
        if self.slots[s as usize].fuzzy {
            self.fuzzy.add(unpack(key).as_bytes(), s);
        }
        self.len += 1;
        old
    }

    /// Puts slot `s` at the head of its fold chain.
    fn link(slots: &mut [Slot], hasher: &DefaultHashBuilder, by_fold: &mut HashTable<u32>, s: u32) {
        let fold = slots[s as usize].fold;
        let hash = hasher.hash_one(fold);
        match by_fold.find_mut(hash, |&t| slots[t as usize].fold == fold) {
            Some(head) => {
                slots[s as usize].next = *head;
                *head = s;
            }
            None => {
                slots[s as usize].next = NIL;
                by_fold.insert_unique(hash, s, |&t| hasher.hash_one(slots[t as usize].fold));
            }
        }
    }

    /// The slots whose plate folds to `fold`.
    fn chain(&self, fold: u64) -> impl Iterator<Item = u32> + '_ {
        let head = self.by_fold.find(self.hasher.hash_one(fold), |&s| self.slots[s as usize].fold == fold);
        let mut next = head.copied().unwrap_or(NIL);
        std::iter::from_fn(move || {
            if next == NIL {
                return None;
            }
            let s = next;
            next = self.slots[s as usize].next;
            Some(s)
        })
    }

    /// Whether a live entry has this packed plate.
    fn has_key(&self, key: u64) -> bool {
        self.chain(fold_key(unpack(key).as_bytes())).any(|s| self.slots[s as usize].key == key)
    }

    /// Removes and returns the entry with this id.
    pub fn remove(&mut self, id: u64) -> Option<HotlistEntry> {
        let s = self.slot_of(id)?;
        let entry = self.entry(s);
        let hash = self.hasher.hash_one(id);
        if let Ok(found) = self.by_id.find_entry(hash, |&t| t == s) {
            found.remove();
        }
        self.unlink(s);
        let key = self.slots[s as usize].key;
        if self.slots[s as usize].fuzzy {
            self.fuzzy.remove(unpack(key).as_bytes(), s);
        }
        self.slots[s as usize].key = 0;
        if !self.has_key(key) {
            self.segments.retire(key);
        }
        self.notes.remove(&s);
        self.vehicles.remove(&s);
        self.free.push(s);
        self.len -= 1;
        Some(entry)
    }

    /// Takes slot `s` out of its fold chain.
    fn unlink(&mut self, s: u32) {
        let fold = self.slots[s as usize].fold;
        let next = self.slots[s as usize].next;
        let hash = self.hasher.hash_one(fold);
        let Self { slots, by_fold, .. } = self;
        let Ok(mut head) = by_fold.find_entry(hash, |&t| slots[t as usize].fold == fold) else {
            return;
        };
        if *head.get() == s {
            if next == NIL {
                head.remove();
            } else {
                *head.get_mut() = next;
            }
            return;
        }
        let mut prev = *head.get();
        while slots[prev as usize].next != s {
            prev = slots[prev as usize].next;
            if prev == NIL {
                return;
            }
        }
        slots[prev as usize].next = next;
    }

    /// The live alerts for one read: see [`match_read_into`](Self::match_read_into).
    pub fn match_read(&self, read: &Normalized, now: DateTime<Utc>) -> Vec<Hit> {
        let mut hits = Vec::new();
        self.match_read_into(read, now, &mut hits);
        hits
    }

    /// The live alerts for one read, into `hits` (cleared first), strongest first:
    /// confirmed before possible, then by distance, then by entry id. Allocates
    /// nothing when nothing matches.
    ///
    /// A read's texts are its `text` and, when it came without a country, each
    /// candidate country's repair (`normalize` lists candidates only then).
    ///
    /// * **Confirmed**: an entry's plate equals a text of the read and the
    ///   countries agree: for a known country, the entry's is the same or none;
    ///   without one, the read's own (cleaned, unrepaired) text matched.
    /// * **Possible**: the plate equals a text but the countries disagree, or only
    ///   a candidate country's repair of a read without a country equals it; or the
    ///   look-alike folds of a text and the plate are equal; or the entry is
    ///   fuzzy-flagged and its plate is within one edit of a text.
    /// * Entries that expire at or before `now` never hit, and each entry hits at
    ///   most once, with its strongest match.
    pub fn match_read_into(&self, read: &Normalized, now: DateTime<Utc>, hits: &mut Vec<Hit>) {
        hits.clear();
        let rule = match read.country {
            Some(c) => Rule::Country(c),
            None => Rule::Any,
        };
        let own = Form::new(read.text.as_bytes(), rule);
        let count = 1 + read.candidates.len();
        if count <= STACK_FORMS {
            let mut forms = [own; STACK_FORMS];
            for (form, c) in forms[1..].iter_mut().zip(&read.candidates) {
                *form = Form::new(c.text.as_bytes(), Rule::Candidate(c.country));
            }
            self.match_forms(&forms[..count], now, hits);
        } else {
            let forms: Vec<Form> = std::iter::once(own)
                .chain(read.candidates.iter().map(|c| Form::new(c.text.as_bytes(), Rule::Candidate(c.country))))
                .collect();
            self.match_forms(&forms, now, hits);
        }
    }

    fn match_forms(&self, forms: &[Form], now: DateTime<Utc>, hits: &mut Vec<Hit>) {
        for (i, form) in forms.iter().enumerate() {
            // One walk per distinct fold; it serves every form with that fold.
            if forms[..i].iter().any(|f| f.fold == form.fold) {
                continue;
            }
            for s in self.chain(form.fold) {
                let slot = &self.slots[s as usize];
                if expired(slot.expires, now) {
                    continue;
                }
                let best = forms[i..]
                    .iter()
                    .filter(|f| f.fold == form.fold)
                    .map(|f| {
                        if f.key != slot.key {
                            // Folding maps character to character: the lengths are
                            // equal and the distance is at most 12.
                            let d = levenshtein_within(f.text, unpack(slot.key).as_bytes(), u8::MAX).unwrap_or(u8::MAX);
                            (MatchKind::Possible, d)
                        } else if f.rule.confirms(slot.country) {
                            (MatchKind::Confirmed, 0)
                        } else {
                            (MatchKind::Possible, 0)
                        }
                    })
                    .min();
                if let Some((kind, distance)) = best {
                    hits.push(Hit { entry_id: slot.id, kind, distance, demoted: None });
                }
            }
        }
        if !self.fuzzy.is_empty() {
            for (i, form) in forms.iter().enumerate() {
                if forms[..i].iter().any(|f| f.key == form.key) {
                    continue;
                }
                self.fuzzy.candidates(form.text, |s| {
                    let slot = &self.slots[s as usize];
                    if expired(slot.expires, now) {
                        return;
                    }
                    if let Some(distance) = levenshtein_within(form.text, unpack(slot.key).as_bytes(), 1) {
                        hits.push(Hit { entry_id: slot.id, kind: MatchKind::Possible, distance, demoted: None });
                    }
                });
            }
        }
        if hits.len() > 1 {
            hits.sort_unstable_by_key(|h| (h.entry_id, h.kind, h.distance));
            hits.dedup_by_key(|h| h.entry_id);
            hits.sort_unstable_by_key(|h| (h.kind, h.distance, h.entry_id));
        }
    }

    /// The entries an investigative query finds, closest first (then by plate and
    /// id), at most `limit` of them; expired entries are left out.
    ///
    /// * Exact and look-alike queries are one probe of the look-alike table.
    /// * Edit-distance queries use the Pass-Join index (see the `segments` module
    ///   for why it cannot miss), then verify each candidate exactly.
    /// * Wildcard queries scan the indexed plates, in parallel, skipping whole
    ///   postings whose length and first characters cannot match.
    pub fn search(&self, query: &Query, now: DateTime<Utc>, limit: usize) -> Vec<SearchHit> {
        let prepared = Prepared::new(query);
        // (distance, packed plate, slot) of every hit, materialised after the limit.
        let mut found: Vec<(u8, u64, u64, u32)> = Vec::new();
        let take = |key: u64, distance: u8, found: &mut Vec<(u8, u64, u64, u32)>| {
            for s in self.chain(fold_key(unpack(key).as_bytes())) {
                let slot = &self.slots[s as usize];
                if slot.key == key && !expired(slot.expires, now) {
                    found.push((distance, key, slot.id, s));
                }
            }
        };
        match query {
            Query::Exact(plate) => take(pack(plate.as_bytes()), 0, &mut found),
            Query::Lookalike(plate) => {
                let mut keys: Vec<u64> =
                    self.chain(fold_key(plate.as_bytes())).map(|s| self.slots[s as usize].key).collect();
                keys.sort_unstable();
                keys.dedup();
                for key in keys {
                    if let Some(d) = prepared.test(unpack(key).as_bytes()) {
                        take(key, d, &mut found);
                    }
                }
            }
            Query::EditDistance { plate, max } => {
                let mut keys = self.segments.within(plate.as_bytes(), usize::from(max.get()));
                keys.sort_unstable();
                keys.dedup_by_key(|&mut (k, _)| k);
                for (key, d) in keys {
                    take(key, d, &mut found);
                }
            }
            Query::Wildcard(pattern) => {
                let mut keys = self.segments.matching(pattern);
                keys.sort_unstable();
                for key in keys {
                    take(key, 0, &mut found);
                }
            }
        }
        found.sort_unstable();
        found.truncate(limit);
        let hits: Vec<SearchHit> = found
            .into_iter()
            .map(|(distance, key, _, s)| SearchHit {
                entry_id: self.slots[s as usize].id,
                plate: unpack(key).to_plate(),
                country: self.slots[s as usize].country,
                distance,
            })
            .collect();
        debug_assert!(hits.is_sorted_by_key(hit_order));
        hits
    }

    /// An estimate of the bytes the index holds on the heap: slots, tables, the
    /// fuzzy and edit-distance indexes. Walks the posting lists, so it costs a few
    /// milliseconds at ten million entries.
    pub fn memory_bytes(&self) -> usize {
        let agencies: usize = self.agencies.iter().map(|a| 2 * (24 + a.as_str().len())).sum();
        self.slots.capacity() * std::mem::size_of::<Slot>()
            + self.free.capacity() * 4
            + self.by_id.allocation_size()
            + self.by_fold.allocation_size()
            + agencies
            + self.agency_slots.allocation_size()
            + self.notes.allocation_size()
            + self.notes.values().map(String::capacity).sum::<usize>()
            + self.vehicles.allocation_size()
            + self.fuzzy.memory_bytes()
            + self.segments.memory_bytes()
    }
}

impl<'a> Form<'a> {
    fn new(text: &'a [u8], rule: Rule) -> Self {
        Form { text, key: pack(text), fold: fold_key(text), rule }
    }
}

impl Slot {
    /// The slot for `entry`, and its vehicle description when the slot's codes do not
    /// reproduce it.
    fn new(entry: HotlistEntry, agency: u32) -> (Self, Option<VehicleInfo>) {
        let bytes = entry.plate.as_bytes();
        let code = entry.vehicle.as_ref().map(VehicleCode::of).unwrap_or_default();
        let (make, colour) = (code.make.map_or(0, Make::code), code.colour.map_or(0, Colour::code));
        let aside = entry.vehicle.filter(|v| vehicle_of_codes(make, colour).as_ref() != Some(v));
        let slot = Slot {
            key: pack(bytes),
            fold: fold_key(bytes),
            id: entry.id,
            expires: entry.expires,
            next: NIL,
            agency,
            country: entry.country,
            reason: entry.reason,
            priority: entry.priority,
            fuzzy: entry.fuzzy,
            exercise: entry.exercise,
            make,
            colour,
        };
        (slot, aside)
    }
}

/// The vehicle description the codes stand for, in canonical words.
fn vehicle_of_codes(make: u8, colour: u8) -> Option<VehicleInfo> {
    let (make, colour) = (Make::from_code(make), Colour::from_code(colour));
    (make.is_some() || colour.is_some()).then(|| VehicleInfo {
        make: make.map(|m| m.name().to_owned()),
        colour: colour.map(|c| c.as_str().to_owned()),
        class: None,
    })
}

impl std::fmt::Debug for HotlistIndex {
    /// A summary: the entries themselves can number millions.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HotlistIndex")
            .field("len", &self.len)
            .field("slots", &self.slots.len())
            .field("agencies", &self.agencies.len())
            .finish_non_exhaustive()
    }
}

impl FromIterator<HotlistEntry> for HotlistIndex {
    fn from_iter<I: IntoIterator<Item = HotlistEntry>>(entries: I) -> Self {
        Self::from_entries(entries.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_stay_small() {
        assert!(std::mem::size_of::<Slot>() <= 56, "{}", std::mem::size_of::<Slot>());
    }
}
