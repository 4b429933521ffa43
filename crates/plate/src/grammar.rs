//! Per-country plate grammars, as data.
//!
//! Each country has a few [`Format`]s, one per shape of its current national plates. A format is
//! a pattern of character classes with the country's separators between them, e.g. Romania's
//! `RR NN MLL` ("CJ 07 ABC"):
//!
//! | class | meaning |
//! | --- | --- |
//! | `R` | a letter of the region code; the run of `R`s is checked against the format's [`Regions`] |
//! | `L` | a letter from the format's letter set |
//! | `M` | the first letter of a serial, from the format's (smaller) set of initials |
//! | `N` | a digit |
//! | `P` | a digit other than 0 (a serial without leading zero) |
//! | `X` | a digit or a letter from the format's letter set |
//! | `a`–`z` | that letter, upper case (the German E and H suffixes) |
//! | other | a separator, printed by [`Format::display`] and dropped by [`clean`](crate::clean) |
//!
//! The sources are the countries' registration rules as published in their official gazettes
//! and summarised in the usual plate references; where a rule is a choice of ours rather than the
//! law's, the comment on the format says so. Region code lists are real, complete where marked
//! [`Regions::Complete`], and the commonly issued codes where marked [`Regions::Partial`].

use crate::{CountryCode, PlateText, digit_to_letter, letter_to_digit};

/// The countries with a grammar of their own; others use the generic fallback.
pub const KNOWN: [CountryCode; 10] = [
    CountryCode::RO,
    CountryCode::UA,
    CountryCode::RS,
    CountryCode::CZ,
    CountryCode::PL,
    CountryCode::HU,
    CountryCode::MD,
    CountryCode::SK,
    CountryCode::BG,
    CountryCode::DE,
];

/// The region codes a format's `R` run may hold. Lists are the codes separated by single spaces,
/// ASCII-folded (Serbian ČA is `CA`, German TÜ is `TU`) and sorted, so that lookup is a binary
/// search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regions {
    /// The format has no region code.
    None,
    /// Every code there is: a code not listed makes the plate invalid.
    Complete(&'static str),
    /// The commonly issued codes: others exist, so an unlisted code is valid but scores lower,
    /// and only a text that needs no repair may have one. [`Format::generate`] uses only listed
    /// codes.
    Partial(&'static str),
    /// Any code whose first letter is one of these (the Polish voivodeship letters).
    FirstLetter(&'static str),
}

impl Regions {
    /// The listed codes (none for [`Regions::None`] and [`Regions::FirstLetter`]).
    pub fn codes(&self) -> impl Iterator<Item = &'static str> {
        let list = match *self {
            Regions::Complete(list) | Regions::Partial(list) => list,
            Regions::None | Regions::FirstLetter(_) => "",
        };
        list.split(' ').filter(|c| !c.is_empty())
    }
}

/// How strongly a fit is backed by a region code, from weakest to strongest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Evidence {
    /// No region code was checked against a list.
    Shape,
    /// The region code is in a partial list.
    PartialList,
    /// The region code is in a complete list.
    CompleteList,
}

impl Evidence {
    /// The candidate score of a fit with this evidence and no repair.
    pub(crate) fn weight(self) -> f32 {
        match self {
            Evidence::Shape => 0.8,
            Evidence::PartialList => 0.9,
            Evidence::CompleteList => 1.0,
        }
    }
}

/// A format's match of a text: how many characters had to be repaired and how well it is backed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fit {
    pub(crate) repairs: u8,
    pub(crate) evidence: Evidence,
}

/// The most characters a reading may repair. A text that needs more is more likely another
/// plate, or no plate, than this format misread: "1A2 3456" is not Slovak "IA 234SG".
pub const MAX_REPAIRS: u8 = 2;

const AZ: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// One format of a country's plates.
#[derive(Debug)]
pub struct Format {
    pattern: &'static str,
    /// The class of each plate character (the pattern without separators).
    classes: [u8; PlateText::MAX_LEN],
    len: u8,
    region_start: u8,
    region_len: u8,
    regions: Regions,
    letters: &'static str,
    letter_mask: u32,
    initials: &'static str,
    initial_mask: u32,
    /// The digits of the plate (`N` and `P`) may not all be zero.
    nonzero: bool,
    /// At least one character must be a digit (the generic format).
    needs_digit: bool,
    /// Bit `i` is set where the format allows only a digit (`N`, `P`).
    digit_slots: u16,
    /// Bit `i` is set where the format allows only a letter (`R`, `L`, `M`, literals).
    letter_slots: u16,
}

/// Which characters of a text are letters and which are digits, one bit per position: what a
/// format's slots are compared with to reject it before reading it character by character.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kinds {
    letters: u16,
    digits: u16,
    /// Letters that look like no digit (A, C, E, …), which no repair can put in a digit slot.
    fixed_letters: u16,
    /// Digits that look like no letter (3, 4, 7, 9), which no repair can put in a letter slot.
    fixed_digits: u16,
}

impl Kinds {
    pub(crate) fn of(text: &[u8]) -> Self {
        let mut kinds = Kinds { letters: 0, digits: 0, fixed_letters: 0, fixed_digits: 0 };
        for (i, &b) in text.iter().take(PlateText::MAX_LEN).enumerate() {
            if b.is_ascii_digit() {
                kinds.digits |= 1 << i;
                if digit_to_letter(b).is_none() {
                    kinds.fixed_digits |= 1 << i;
                }
            } else {
                kinds.letters |= 1 << i;
                if letter_to_digit(b).is_none() {
                    kinds.fixed_letters |= 1 << i;
                }
            }
        }
        kinds
    }
}

const fn mask(letters: &str) -> u32 {
    let b = letters.as_bytes();
    let mut m = 0u32;
    let mut i = 0;
    while i < b.len() {
        assert!(b[i].is_ascii_uppercase(), "letter sets hold upper-case ASCII letters");
        m |= 1 << (b[i] - b'A');
        i += 1;
    }
    m
}

const fn is_class(b: u8) -> bool {
    matches!(b, b'R' | b'L' | b'M' | b'N' | b'P' | b'X' | b'a'..=b'z')
}

impl Format {
    /// A format of `pattern` with no region code, any letter, and digits not all zero.
    const fn new(pattern: &'static str) -> Self {
        let p = pattern.as_bytes();
        let mut classes = [0u8; PlateText::MAX_LEN];
        let (mut len, mut region_start, mut region_len) = (0usize, 0usize, 0usize);
        let (mut digit_slots, mut letter_slots) = (0u16, 0u16);
        let mut i = 0;
        while i < p.len() {
            if is_class(p[i]) {
                assert!(len < PlateText::MAX_LEN, "pattern longer than a plate");
                if p[i] == b'R' {
                    assert!(region_len == 0 || region_start + region_len == len, "one run of R");
                    if region_len == 0 {
                        region_start = len;
                    }
                    region_len += 1;
                }
                classes[len] = p[i];
                match p[i] {
                    b'N' | b'P' => digit_slots |= 1 << len,
                    b'X' => {}
                    _ => letter_slots |= 1 << len,
                }
                len += 1;
            }
            i += 1;
        }
        Format {
            pattern,
            classes,
            len: len as u8,
            region_start: region_start as u8,
            region_len: region_len as u8,
            regions: Regions::None,
            letters: AZ,
            letter_mask: mask(AZ),
            initials: AZ,
            initial_mask: mask(AZ),
            nonzero: true,
            needs_digit: false,
            digit_slots,
            letter_slots,
        }
    }

    const fn regions(mut self, regions: Regions) -> Self {
        assert!(self.region_len > 0, "a region list needs an R run");
        self.regions = regions;
        self
    }

    /// Sets the letters of `L`, `M` and `X` positions.
    const fn letters(mut self, letters: &'static str) -> Self {
        self.letters = letters;
        self.letter_mask = mask(letters);
        self.initials = letters;
        self.initial_mask = self.letter_mask;
        self
    }

    /// Sets the letters of `M` positions.
    const fn initials(mut self, initials: &'static str) -> Self {
        self.initials = initials;
        self.initial_mask = mask(initials);
        self
    }

    /// Allows the digits of the plate to be all zero.
    const fn any_digits(mut self) -> Self {
        self.nonzero = false;
        self
    }

    /// A generic format: letters and digits, at least one digit.
    const fn generic(pattern: &'static str) -> Self {
        let mut f = Self::new(pattern);
        f.nonzero = false;
        f.needs_digit = true;
        f
    }

    /// The pattern: classes and separators, as described in the [module docs](self).
    pub fn pattern(&self) -> &'static str {
        self.pattern
    }

    /// The number of characters of a plate of this format.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Always false: every format has at least one character.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Where the region code of this format's plates comes from.
    pub fn region_codes(&self) -> Regions {
        self.regions
    }

    /// Whether `text` is a plate of this format as it stands, without repair.
    pub fn accepts(&self, text: &PlateText) -> bool {
        let mut out = [0u8; PlateText::MAX_LEN];
        self.fit(text.as_bytes(), &mut out).is_some_and(|f| f.repairs == 0)
    }

    fn allows(&self, mask: u32, letter: u8) -> bool {
        mask & (1 << (letter - b'A')) != 0
    }

    /// Matches canonical `text` against this format, writing the repaired text to `out`.
    ///
    /// Where the format allows only a digit, a letter that looks like one is replaced (O, D, Q→0,
    /// I→1, B→8, S→5, Z→2, G→6); where it allows only a letter, a digit that looks like one is
    /// (0→O, 1→I, 8→B, 5→S, 2→Z, 6→G). `X` positions, which allow both, are never repaired, and
    /// a text needing more than [`MAX_REPAIRS`] repairs does not fit.
    pub(crate) fn fit(&self, text: &[u8], out: &mut [u8; PlateText::MAX_LEN]) -> Option<Fit> {
        self.fit_kinds(text, Kinds::of(text), out)
    }

    /// [`fit`](Self::fit) with the text's [`Kinds`] computed once for many formats.
    fn fit_kinds(&self, text: &[u8], kinds: Kinds, out: &mut [u8; PlateText::MAX_LEN]) -> Option<Fit> {
        if text.len() != self.len as usize {
            return None;
        }
        // Every letter in a digit slot and digit in a letter slot needs a repair: too many, and
        // the format is out without reading a character.
        let misplaced = (kinds.letters & self.digit_slots) | (kinds.digits & self.letter_slots);
        let unrepairable = (kinds.fixed_letters & self.digit_slots) | (kinds.fixed_digits & self.letter_slots);
        if unrepairable != 0 || misplaced.count_ones() > u32::from(MAX_REPAIRS) {
            return None;
        }
        let mut repairs = 0u8;
        let (mut digits, mut nonzero_digit, mut any_digit) = (false, false, false);
        for ((&c, &class), slot) in text.iter().zip(&self.classes).zip(out.iter_mut()) {
            let o = match class {
                b'N' | b'P' => {
                    let d = if c.is_ascii_digit() {
                        c
                    } else {
                        repairs += 1;
                        letter_to_digit(c)?
                    };
                    if class == b'P' && d == b'0' {
                        return None;
                    }
                    digits = true;
                    nonzero_digit |= d != b'0';
                    d
                }
                b'X' => {
                    if c.is_ascii_uppercase() && !self.allows(self.letter_mask, c) {
                        return None;
                    }
                    c
                }
                _ => {
                    let l = if c.is_ascii_uppercase() {
                        c
                    } else {
                        repairs += 1;
                        digit_to_letter(c)?
                    };
                    let ok = match class {
                        b'R' => true,
                        b'L' => self.allows(self.letter_mask, l),
                        b'M' => self.allows(self.initial_mask, l),
                        literal => l == literal.to_ascii_uppercase(),
                    };
                    if !ok {
                        return None;
                    }
                    l
                }
            };
            any_digit |= o.is_ascii_digit();
            *slot = o;
        }
        if repairs > MAX_REPAIRS || (self.nonzero && digits && !nonzero_digit) || (self.needs_digit && !any_digit) {
            return None;
        }
        let start = self.region_start as usize;
        let region = &out[start..start + self.region_len as usize];
        let evidence = match self.regions {
            Regions::None => Evidence::Shape,
            Regions::Complete(list) if listed(list, region) => Evidence::CompleteList,
            Regions::Complete(_) => return None,
            Regions::Partial(list) if listed(list, region) => Evidence::PartialList,
            // An unlisted code may be real, but a reading that had to be repaired as well is too
            // weak to stand: repairs need a listed code.
            Regions::Partial(_) if repairs == 0 => Evidence::Shape,
            Regions::Partial(_) => return None,
            Regions::FirstLetter(set) if set.as_bytes().contains(&region[0]) => Evidence::Shape,
            Regions::FirstLetter(_) => return None,
        };
        Some(Fit { repairs, evidence })
    }

    /// Generates a valid plate of this format; `pick(n)` must return a number in `0..n`.
    ///
    /// Region codes come from the format's list where it has one, so that simulated plates look
    /// real. A `pick` that returns `n` or more is taken modulo `n`.
    pub fn generate(&self, pick: &mut dyn FnMut(usize) -> usize) -> PlateText {
        const DIGITS: &str = "0123456789";
        const ALNUM: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let mut draw = |n: usize| pick(n) % n;
        let mut out = [0u8; PlateText::MAX_LEN];
        let n = self.len as usize;
        let region = self.region_start as usize..(self.region_start + self.region_len) as usize;
        match self.regions {
            Regions::Complete(list) | Regions::Partial(list) if !list.is_empty() => {
                let width = region.len();
                let count = list.len().div_ceil(width + 1);
                out[region].copy_from_slice(nth_code(list, width, draw(count)));
            }
            Regions::FirstLetter(set) => {
                for (k, slot) in out[region].iter_mut().enumerate() {
                    *slot = one_of(&mut draw, if k == 0 { set } else { AZ });
                }
            }
            _ => out[region].iter_mut().for_each(|slot| *slot = one_of(&mut draw, AZ)),
        }
        for (slot, &class) in out.iter_mut().zip(&self.classes[..n]) {
            *slot = match class {
                b'R' => continue,
                b'L' => one_of(&mut draw, self.letters),
                b'M' => one_of(&mut draw, self.initials),
                b'N' => one_of(&mut draw, DIGITS),
                b'P' => one_of(&mut draw, &DIGITS[1..]),
                b'X' => match one_of(&mut draw, ALNUM) {
                    c if c.is_ascii_digit() => c,
                    _ => one_of(&mut draw, self.letters),
                },
                literal => literal.to_ascii_uppercase(),
            };
        }
        let last_digit = self.classes[..n].iter().rposition(|c| matches!(c, b'N' | b'P'));
        if let Some(last) = last_digit {
            let digits = self.classes[..n].iter().zip(&out).filter(|(c, _)| matches!(c, b'N' | b'P'));
            if self.nonzero && digits.clone().all(|(_, &d)| d == b'0') {
                out[last] = one_of(&mut draw, &DIGITS[1..]);
            }
        }
        if self.needs_digit && !out[..n].iter().any(u8::is_ascii_digit) {
            let i = draw(n);
            out[i] = one_of(&mut draw, DIGITS);
        }
        PlateText::from_canonical(&out[..n])
    }

    /// The plate as it is printed, with this format's separators; a text of another length is
    /// returned as it is.
    pub fn display(&self, text: &PlateText) -> String {
        if text.len() != self.len as usize {
            return text.as_str().to_owned();
        }
        let mut chars = text.as_bytes().iter();
        self.pattern
            .bytes()
            .filter_map(|p| if is_class(p) { chars.next().map(|&c| c as char) } else { Some(p as char) })
            .collect()
    }
}

/// One byte of `set`, drawn with `draw(n)` in `0..n`.
fn one_of(draw: &mut impl FnMut(usize) -> usize, set: &str) -> u8 {
    set.as_bytes()[draw(set.len())]
}

/// Whether `code` is in `list`, sorted codes as long as it separated by single spaces.
fn listed(list: &str, code: &[u8]) -> bool {
    // Codes are at most three letters: packed big-endian into an integer they compare as they
    // sort, without a call to memcmp per probe.
    let pack = |bytes: &[u8]| bytes.iter().fold(0u32, |k, &b| k << 8 | u32::from(b));
    let (list, width) = (list.as_bytes(), code.len());
    let stride = width + 1;
    let key = pack(code);
    let (mut low, mut high) = (0, list.len().div_ceil(stride));
    while low < high {
        let mid = low + (high - low) / 2;
        let Some(probe) = list.get(mid * stride..mid * stride + width) else { return false };
        match pack(probe).cmp(&key) {
            std::cmp::Ordering::Less => low = mid + 1,
            std::cmp::Ordering::Greater => high = mid,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

/// The `i`th code of a space-separated list of codes of `width` letters.
fn nth_code(list: &str, width: usize, i: usize) -> &[u8] {
    &list.as_bytes()[i * (width + 1)..i * (width + 1) + width]
}

// ---------------------------------------------------------------------------------------------
// Romania. Order of the Ministry of Internal Affairs on registration plates (since 1992, serial
// rules of 2007): county code, two digits 01–99, three letters; Bucharest, B, also has three-digit
// numbers 100–999. The letter group does not use Q and does not start with I or O, which would
// read as 1 and 0. Temporary (red, numeric) and institutional plates are not national formats.

/// The 41 county codes (Bucharest, B, has formats of its own).
const RO_COUNTIES: &str = concat!(
    "AB AG AR BC BH BN BR BT BV BZ CJ CL CS CT CV DB DJ GJ GL GR HD HR IF IL IS MH MM MS NT OT PH SB SJ ",
    "SM SV TL TM TR VL VN VS",
);
const RO_LETTERS: &str = "ABCDEFGHIJKLMNOPRSTUVWXYZ";
const RO_INITIALS: &str = "ABCDEFGHJKLMNPRSTUVWXYZ";

static RO: [Format; 3] = [
    Format::new("RR NN MLL").regions(Regions::Complete(RO_COUNTIES)).letters(RO_LETTERS).initials(RO_INITIALS),
    Format::new("R NN MLL").regions(Regions::Complete("B")).letters(RO_LETTERS).initials(RO_INITIALS),
    Format::new("R PNN MLL").regions(Regions::Complete("B")).letters(RO_LETTERS).initials(RO_INITIALS),
];

// ---------------------------------------------------------------------------------------------
// Ukraine. Plates of 2004 (region codes of 2004 and of the 2013 second series): region code, four
// digits, two letters, all letters from the twelve shared by Cyrillic and Latin.

/// The letters Ukrainian plates use: А В Е І К М Н О Р С Т Х.
const UA_LETTERS: &str = "ABCEHIKMOPTX";
/// Region codes of the 2004 series (AA Kyiv … CH Sevastopol), their 2013 counterparts (KA … IH)
/// and II, issued nationally.
const UA_REGIONS: &str = concat!(
    "AA AB AC AE AH AI AK AM AO AP AT AX BA BB BC BE BH BI BK BM BO BT BX CA CB CE CH HA HB HC HE HH HI ",
    "HK HM HO HT HX IA IB IE IH II KA KB KC KE KH KI KK KM KO KP KT KX",
);

static UA: [Format; 1] = [Format::new("RR NNNN LL").regions(Regions::Complete(UA_REGIONS)).letters(UA_LETTERS)];

// ---------------------------------------------------------------------------------------------
// Serbia. Plates of 2011: city code, three to five digits, hyphen, two letters ("BG 123-AB"). The
// Latin letters include Č Ć Đ Š Ž, which clean folds to C C D S Z.

/// City codes, folded (ČA Čačak is CA, ŠA Šabac is SA, ĆU Ćuprija is CU, and PŽ Požega and
/// PZ Prizren share PZ). Partial: codes are added as registration areas are.
const RS_CITIES: &str = concat!(
    "AC AL AR BB BC BG BO BP BT BU CA CU DE GM IC IN JA KA KG KI KL KM KO KS KV KZ LE LO LU NG NI NP NS ",
    "NV PA PI PK PN PO PP PZ RA RU SA SD SI SJ SM SO SP SU SV TO TS UB UE VA VB VL VP VR VS ZA ZR",
);

static RS: [Format; 3] = [
    Format::new("RR NNN-LL").regions(Regions::Partial(RS_CITIES)),
    Format::new("RR NNNN-LL").regions(Regions::Partial(RS_CITIES)),
    Format::new("RR NNNNN-LL").regions(Regions::Partial(RS_CITIES)),
];

// ---------------------------------------------------------------------------------------------
// Czech Republic. Plates of 2001: a digit 1–9, the region letter, a series character (a digit,
// or a letter once a region's digits ran out), a space, four digits ("1A2 3456"). G, O, Q and W
// are not used.

/// The 14 region letters (A Praha, B Jihomoravský, C Jihočeský, E Pardubický, H Královéhradecký,
/// J Vysočina, K Karlovarský, L Liberecký, M Olomoucký, P Plzeňský, S Středočeský,
/// T Moravskoslezský, U Ústecký, Z Zlínský).
const CZ_REGIONS: &str = "A B C E H J K L M P S T U Z";
const CZ_LETTERS: &str = "ABCDEFHIJKLMNPRSTUVXYZ";

static CZ: [Format; 1] = [Format::new("PRX NNNN").regions(Regions::Complete(CZ_REGIONS)).letters(CZ_LETTERS)];

// ---------------------------------------------------------------------------------------------
// Poland. Plates of 2000 (regulation of the Minister of Infrastructure): a district code of two
// letters (cities) followed by five characters, or of three letters followed by four or five,
// in the fixed digit/letter layouts below. The first letter of a district code is the
// voivodeship's. B, D, I, O and Z are not used in the serial, for they read as 8, 0, 1, 0 and 2.
// Individual (vanity) plates: the voivodeship letter, a digit, and three to five characters
// starting with a letter.

/// Voivodeship letters: B Podlaskie, C Kujawsko-Pomorskie, D Dolnośląskie, E Łódzkie, F Lubuskie,
/// G Pomorskie, K Małopolskie, L Lubelskie, N Warmińsko-Mazurskie, O Opolskie, P Wielkopolskie,
/// R Podkarpackie, S Śląskie, T Świętokrzyskie, W Mazowieckie, Z Zachodniopomorskie.
const PL_VOIVODESHIPS: &str = "BCDEFGKLNOPRSTWZ";
const PL_LETTERS: &str = "ACEFGHJKLMNPRSTUVWXY";
const PL: Regions = Regions::FirstLetter(PL_VOIVODESHIPS);

static PL_FORMATS: [Format; 17] = [
    Format::new("RR NNNNN").regions(PL).letters(PL_LETTERS),
    Format::new("RR NNNNL").regions(PL).letters(PL_LETTERS),
    Format::new("RR NNNLL").regions(PL).letters(PL_LETTERS),
    Format::new("RR NLNNN").regions(PL).letters(PL_LETTERS),
    Format::new("RR NLLNN").regions(PL).letters(PL_LETTERS),
    Format::new("RRR LNNN").regions(PL).letters(PL_LETTERS),
    Format::new("RRR NNLL").regions(PL).letters(PL_LETTERS),
    Format::new("RRR NLNN").regions(PL).letters(PL_LETTERS),
    Format::new("RRR NNLN").regions(PL).letters(PL_LETTERS),
    Format::new("RRR NLLN").regions(PL).letters(PL_LETTERS),
    Format::new("RRR LLNN").regions(PL).letters(PL_LETTERS),
    Format::new("RRR NNNNN").regions(PL).letters(PL_LETTERS),
    Format::new("RRR NNNNL").regions(PL).letters(PL_LETTERS),
    Format::new("RRR NNNLL").regions(PL).letters(PL_LETTERS),
    Format::new("RN LXX").regions(PL).any_digits(),
    Format::new("RN LXXX").regions(PL).any_digits(),
    Format::new("RN LXXXX").regions(PL).any_digits(),
];

// ---------------------------------------------------------------------------------------------
// Hungary. Plates of 1990: three letters, three digits ("ABC-123"); plates of 2022: four letters,
// three digits ("AA AA-123").

static HU: [Format; 2] = [Format::new("LLL-NNN"), Format::new("LL LL-NNN")];

// ---------------------------------------------------------------------------------------------
// Moldova. National series of 2011: three letters, three digits ("ABC 123"). Region forms, still
// on the road: district code (C Chișinău, or two letters), two letters, three digits
// ("C AB 123", "BL AB 123").

/// District codes of the region forms. Partial.
const MD_DISTRICTS: &str =
    "AN BL BR BS CH CL CM CR CS CT DB DN DR ED FL FR GE GL HN IL LV NS OC OR RS RZ SD SG SR ST SV TL TR UN";

static MD: [Format; 3] = [
    Format::new("LLL NNN"),
    Format::new("R LL NNN").regions(Regions::Partial("C")),
    Format::new("RR LL NNN").regions(Regions::Partial(MD_DISTRICTS)),
];

// ---------------------------------------------------------------------------------------------
// Slovakia. Plates of 1997: district code, three digits, two letters ("BA 123AB"). Since 2023
// new plates no longer carry the district: the same shape with two series letters.

/// District codes (with the extra codes of the large districts: BA BL BT BD BE BI Bratislava,
/// KE KI Košice, NR NI Nitra, PO PV Prešov, TT TA Trnava, TN TC Trenčín, ZA ZI Žilina, BB BC
/// Banská Bystrica).
const SK_DISTRICTS: &str = concat!(
    "BA BB BC BD BE BI BJ BL BN BR BS BT BY BZ CA DK DS DT GA GL HC HE IL KA KE KI KK KM KN KS LC LE LM ",
    "LV MA MI ML MT MY NI NM NO NR NZ PB PD PE PK PN PO PP PS PT PU PV RA RK RS RV SA SB SC SE SI SK SL ",
    "SN SO SP SV TA TC TN TO TR TS TT TV VK VT ZA ZC ZH ZI ZM ZV",
);

static SK: [Format; 2] = [Format::new("RR NNNLL").regions(Regions::Complete(SK_DISTRICTS)), Format::new("LL NNNLL")];

// ---------------------------------------------------------------------------------------------
// Bulgaria. Plates of 1992/2008: province code of one or two letters, four digits, one or two
// letters, all letters from the twelve Cyrillic ones that look Latin (А В Е К М Н О Р С Т У Х).

const BG_LETTERS: &str = "ABCEHKMOPTXY";
/// One-letter province codes: A Burgas, B Varna, C Sofia city, E Blagoevgrad, H Shumen,
/// K Kardzhali, M Montana, P Ruse, T Targovishte, X Haskovo, Y Yambol.
const BG_PROVINCES_1: &str = "A B C E H K M P T X Y";
/// Two-letter province codes: BH Vidin, BP Vratsa, BT Veliko Tarnovo, CA CB Sofia city,
/// CC Silistra, CH Sliven, CM Smolyan, CO Sofia province, CT Stara Zagora, EB Gabrovo, EH Pleven,
/// KH Kyustendil, OB Lovech, PA Pazardzhik, PB Plovdiv, PK Pernik, PP Razgrad, TX Dobrich.
const BG_PROVINCES_2: &str = "BH BP BT CA CB CC CH CM CO CT EB EH KH OB PA PB PK PP TX";

static BG: [Format; 4] = [
    Format::new("R NNNN L").regions(Regions::Complete(BG_PROVINCES_1)).letters(BG_LETTERS),
    Format::new("R NNNN LL").regions(Regions::Complete(BG_PROVINCES_1)).letters(BG_LETTERS),
    Format::new("RR NNNN L").regions(Regions::Complete(BG_PROVINCES_2)).letters(BG_LETTERS),
    Format::new("RR NNNN LL").regions(Regions::Complete(BG_PROVINCES_2)).letters(BG_LETTERS),
];

// ---------------------------------------------------------------------------------------------
// Germany. Fahrzeug-Zulassungsverordnung (FZV) § 8 and Anlage 4: district code of one to three
// letters (Ä Ö Ü fold to A O U), one or two letters, a number 1–9999 without leading zero, at
// most eight characters; electric vehicles add E, historic vehicles H ("M-AB 123E").

/// District codes of one letter (B Berlin, M München, …).
const DE1: &str = "A B C D E F G H J K L M N P R S V W Z";
/// Common two-letter district codes. Partial: there are about 400 district codes in all.
const DE2: &str = concat!(
    "AA AB AC AK AM AN AO AP AS AW AZ BA BB BC BI BK BL BM BN BO BS BT BZ CB CE CO CW DA DD DE DH DN DO ",
    "DU DW EA ED EE EF EI EL EM EN ER ES EU FB FD FF FL FN FO FR FS FT FU GE GF GG GI GL GM GO GP GR GS ",
    "GT GZ HA HB HD HE HF HG HH HI HL HM HN HO HP HR HS HU HX HZ IK IN IZ KA KB KC KE KF KG KH KI KL KN ",
    "KO KR KS KT KU LA LB LD LG LI LL LM LO LU MA MB MD ME MG MH MI MK MM MN MR MS MZ NB ND NE NF NI NK ",
    "NM NR NU NW OA OB OD OE OF OG OH OK OL OS PA PB PE PF PI PM PR PS RA RD RE RH RO RP RS RT RV RW RZ ",
    "SB SC SE SG SI SK SL SM SN SO SP SR ST SU SW SZ TF TR TS TU UE UL UM UN VB VK VS WB WE WF WI WL WM ",
    "WN WO WT WU WW ZW",
);
/// Common three-letter district codes. Partial.
const DE3: &str = concat!(
    "AIC AUR BAD BGL BIR BIT BOR BOT CHA CLP COC COE CUX DAH DAN DAU DEG DEL DGF DLG DON EBE EMD EMS ERB ",
    "FDS FFB FRG GAP HAL HAM HBN HDH HER HGW HRO HSK HST HVL HWI IGB KIB KLE KUN KUS LAU LDK LDS LER LEV ",
    "LIF LIP LOS LUP MEI MIL MKK MOL MOS MSE MSH MSP MTK MYK MZG NEA NES NEW NMS NOH NOM NWM OAL OHA OHZ ",
    "OPR OSL PAF PAN PCH PIR PLO REG ROW RUD SAD SAW SHA SHG SIG SLS SOM SON STA STD SUW TBB TIR TOL TUT ",
    "VEC VER VIE WAF WAK WEN WES WHV WIL WND WOB WST WTM WUG WUN",
);

const fn de(pattern: &'static str, districts: &'static str) -> Format {
    Format::new(pattern).regions(Regions::Partial(districts))
}

/// Every split of at most eight characters into district (1–3), letters (1–2) and number (1–4),
/// plain, then with the E suffix, then with the H suffix.
static DE: [Format; 69] = [
    de("R-L P", DE1),
    de("R-L PN", DE1),
    de("R-L PNN", DE1),
    de("R-L PNNN", DE1),
    de("R-LL P", DE1),
    de("R-LL PN", DE1),
    de("R-LL PNN", DE1),
    de("R-LL PNNN", DE1),
    de("RR-L P", DE2),
    de("RR-L PN", DE2),
    de("RR-L PNN", DE2),
    de("RR-L PNNN", DE2),
    de("RR-LL P", DE2),
    de("RR-LL PN", DE2),
    de("RR-LL PNN", DE2),
    de("RR-LL PNNN", DE2),
    de("RRR-L P", DE3),
    de("RRR-L PN", DE3),
    de("RRR-L PNN", DE3),
    de("RRR-L PNNN", DE3),
    de("RRR-LL P", DE3),
    de("RRR-LL PN", DE3),
    de("RRR-LL PNN", DE3),
    de("R-L Pe", DE1),
    de("R-L PNe", DE1),
    de("R-L PNNe", DE1),
    de("R-L PNNNe", DE1),
    de("R-LL Pe", DE1),
    de("R-LL PNe", DE1),
    de("R-LL PNNe", DE1),
    de("R-LL PNNNe", DE1),
    de("RR-L Pe", DE2),
    de("RR-L PNe", DE2),
    de("RR-L PNNe", DE2),
    de("RR-L PNNNe", DE2),
    de("RR-LL Pe", DE2),
    de("RR-LL PNe", DE2),
    de("RR-LL PNNe", DE2),
    de("RR-LL PNNNe", DE2),
    de("RRR-L Pe", DE3),
    de("RRR-L PNe", DE3),
    de("RRR-L PNNe", DE3),
    de("RRR-L PNNNe", DE3),
    de("RRR-LL Pe", DE3),
    de("RRR-LL PNe", DE3),
    de("RRR-LL PNNe", DE3),
    de("R-L Ph", DE1),
    de("R-L PNh", DE1),
    de("R-L PNNh", DE1),
    de("R-L PNNNh", DE1),
    de("R-LL Ph", DE1),
    de("R-LL PNh", DE1),
    de("R-LL PNNh", DE1),
    de("R-LL PNNNh", DE1),
    de("RR-L Ph", DE2),
    de("RR-L PNh", DE2),
    de("RR-L PNNh", DE2),
    de("RR-L PNNNh", DE2),
    de("RR-LL Ph", DE2),
    de("RR-LL PNh", DE2),
    de("RR-LL PNNh", DE2),
    de("RR-LL PNNNh", DE2),
    de("RRR-L Ph", DE3),
    de("RRR-L PNh", DE3),
    de("RRR-L PNNh", DE3),
    de("RRR-L PNNNh", DE3),
    de("RRR-LL Ph", DE3),
    de("RRR-LL PNh", DE3),
    de("RRR-LL PNNh", DE3),
];

// ---------------------------------------------------------------------------------------------
// Any other country: 2 to 10 letters and digits, at least one digit.

static GENERIC: [Format; 9] = [
    Format::generic("XX"),
    Format::generic("XXX"),
    Format::generic("XXXX"),
    Format::generic("XXXXX"),
    Format::generic("XXXXXX"),
    Format::generic("XXXXXXX"),
    Format::generic("XXXXXXXX"),
    Format::generic("XXXXXXXXX"),
    Format::generic("XXXXXXXXXX"),
];

/// The formats of a country's current plates (the generic ones for a country not in [`KNOWN`]).
pub fn formats(country: CountryCode) -> &'static [Format] {
    match country {
        CountryCode::RO => &RO,
        CountryCode::UA => &UA,
        CountryCode::RS => &RS,
        CountryCode::CZ => &CZ,
        CountryCode::PL => &PL_FORMATS,
        CountryCode::HU => &HU,
        CountryCode::MD => &MD,
        CountryCode::SK => &SK,
        CountryCode::BG => &BG,
        CountryCode::DE => &DE,
        _ => &GENERIC,
    }
}

/// How a country's grammar reads a text.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reading {
    /// Valid after `fit.repairs` repairs, as `text[..len]`, printed by `format`.
    Valid { text: [u8; PlateText::MAX_LEN], fit: Fit, format: &'static Format },
    /// Formats fit with equally few repairs but different results.
    Ambiguous,
    /// No format fits.
    Invalid,
}

/// Reads canonical `text` with `country`'s grammar: the fit needing the fewest repairs, the
/// strongest evidence among equals.
pub(crate) fn read(country: CountryCode, text: &[u8]) -> Reading {
    read_kinds(country, text, Kinds::of(text))
}

/// [`read`] with the text's [`Kinds`] computed once for many countries.
pub(crate) fn read_kinds(country: CountryCode, text: &[u8], kinds: Kinds) -> Reading {
    let mut best: Option<([u8; PlateText::MAX_LEN], Fit, &'static Format)> = None;
    let mut ambiguous = false;
    let mut out = [0u8; PlateText::MAX_LEN];
    for format in formats(country) {
        let Some(fit) = format.fit_kinds(text, kinds, &mut out) else { continue };
        match &mut best {
            Some((_, b, _)) if fit.repairs > b.repairs => {}
            Some((t, b, f)) if fit.repairs == b.repairs => {
                if *t != out {
                    ambiguous = true;
                } else if fit.evidence > b.evidence {
                    (*b, *f) = (fit, format);
                }
            }
            _ => {
                best = Some((out, fit, format));
                ambiguous = false;
            }
        }
    }
    match best {
        _ if ambiguous => Reading::Ambiguous,
        Some((text, fit, format)) => Reading::Valid { text, fit, format },
        None => Reading::Invalid,
    }
}
