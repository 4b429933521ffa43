//! Vehicle make and colour as words a machine can compare.
//!
//! Readers and hotlists write makes and colours as free text (`VW`, `Volkswagen`,
//! `gray`, `silver-grey`, `alb`). A plate match is worth more when the vehicle agrees
//! with the entry and less when it plainly does not, so both sides are brought to a
//! small shared vocabulary here. A word outside the vocabulary is not guessed at: it
//! takes part in no comparison.
//!
//! Colour is compared loosely. Classifiers confuse neighbouring colours (white, silver
//! and grey in sunlight; black, dark blue and dark grey at night, when many cameras
//! see in infrared), so only colours that no lighting turns into each other
//! *contradict* ([`Colour::contradicts`]).

use serde::{Deserialize, Serialize};

use crate::VehicleInfo;

/// A car colour, as readers and registers report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Colour {
    White = 1,
    Silver,
    Grey,
    Black,
    Blue,
    Red,
    Green,
    Yellow,
    Orange,
    Brown,
    Beige,
    Gold,
    Purple,
    Pink,
}

const COLOURS: [Colour; 14] = [
    Colour::White,
    Colour::Silver,
    Colour::Grey,
    Colour::Black,
    Colour::Blue,
    Colour::Red,
    Colour::Green,
    Colour::Yellow,
    Colour::Orange,
    Colour::Brown,
    Colour::Beige,
    Colour::Gold,
    Colour::Purple,
    Colour::Pink,
];

/// Words for each colour: English (as cameras report them, both spellings), then the
/// region's languages (Romanian, Ukrainian, Serbian, Czech, Polish, Hungarian, German),
/// lower case and without diacritics, as [`Colour::parse`] compares them.
const COLOUR_WORDS: [(Colour, &[&str]); 14] = [
    (Colour::White, &["white", "alb", "alba", "bilyi", "bila", "bily", "bela", "beli", "bialy", "feher", "weiss"]),
    (Colour::Silver, &["silver", "argintiu", "sriblyastyi", "stribrna", "stribrny", "srebrna", "srebrny", "ezust"]),
    (
        Colour::Grey,
        &["grey", "gray", "gri", "siryi", "seda", "sedy", "siva", "sivi", "szary", "szara", "szurke", "grau"],
    ),
    (Colour::Black, &["black", "negru", "neagra", "chornyi", "cerna", "cerny", "crna", "crni", "czarny", "fekete"]),
    (Colour::Blue, &["blue", "albastru", "synii", "modra", "modry", "plava", "plavi", "niebieski", "kek", "blau"]),
    (Colour::Red, &["red", "rosu", "rosie", "chervonyi", "cervena", "cerveny", "crvena", "czerwony", "piros", "rot"]),
    (Colour::Green, &["green", "verde", "zelenyi", "zelena", "zeleny", "zeleni", "zielony", "zold", "grun"]),
    (Colour::Yellow, &["yellow", "galben", "zhovtyi", "zluta", "zluty", "zuta", "zolty", "sarga", "gelb"]),
    (Colour::Orange, &["orange", "portocaliu", "pomaranchevyi", "oranzova", "narandzasta", "pomaranczowy", "narancs"]),
    (
        Colour::Brown,
        &["brown", "maro", "korychnevyi", "hneda", "hnedy", "braon", "smedja", "brazowy", "barna", "braun"],
    ),
    (Colour::Beige, &["beige", "bej", "bezhevyi", "bezova", "bez", "bezowy"]),
    (Colour::Gold, &["gold", "golden", "auriu", "zolotyi", "zlata", "zlatna", "zloty", "arany"]),
    (Colour::Purple, &["purple", "violet", "mov", "fioletovyi", "fialova", "ljubicasta", "fioletowy", "lila"]),
    (Colour::Pink, &["pink", "roz", "rozhevyi", "ruzova", "roza", "rozowy", "rosa"]),
];

impl Colour {
    /// The colour a word names, or `None` for a word outside the vocabulary. Case,
    /// diacritics, a leading `light`/`dark` and separators do not matter.
    pub fn parse(word: &str) -> Option<Colour> {
        let key = fold_word(word);
        let key = key.strip_prefix("dark").or_else(|| key.strip_prefix("light")).unwrap_or(&key);
        COLOUR_WORDS.iter().find(|(_, words)| words.contains(&key)).map(|(c, _)| *c)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Colour::White => "white",
            Colour::Silver => "silver",
            Colour::Grey => "grey",
            Colour::Black => "black",
            Colour::Blue => "blue",
            Colour::Red => "red",
            Colour::Green => "green",
            Colour::Yellow => "yellow",
            Colour::Orange => "orange",
            Colour::Brown => "brown",
            Colour::Beige => "beige",
            Colour::Gold => "gold",
            Colour::Purple => "purple",
            Colour::Pink => "pink",
        }
    }

    /// The colour with this [`Colour::code`].
    pub fn from_code(code: u8) -> Option<Colour> {
        COLOURS.get(usize::from(code).wrapping_sub(1)).copied()
    }

    /// A non-zero byte standing for the colour.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The colours a classifier may report for this one under some light: itself and
    /// its neighbours. The relation is symmetric.
    fn neighbours(self) -> &'static [Colour] {
        use Colour::*;
        match self {
            White => &[Silver, Grey, Beige],
            Silver => &[White, Grey, Beige, Gold],
            Grey => &[White, Silver, Black, Blue, Green],
            Black => &[Grey, Blue, Green, Brown, Purple],
            Blue => &[Grey, Black, Purple],
            Red => &[Orange, Brown, Purple, Pink],
            Green => &[Grey, Black],
            Yellow => &[Orange, Gold, Beige],
            Orange => &[Red, Yellow, Gold, Brown],
            Brown => &[Black, Red, Orange, Beige, Gold],
            Beige => &[White, Silver, Yellow, Brown, Gold],
            Gold => &[Silver, Yellow, Orange, Brown, Beige],
            Purple => &[Black, Blue, Red, Pink],
            Pink => &[Red, Purple],
        }
    }

    /// Whether no lighting makes a car of one colour look the other: red and white
    /// contradict, white and silver do not.
    pub fn contradicts(self, other: Colour) -> bool {
        self != other && !self.neighbours().contains(&other)
    }
}

/// A vehicle make from the vocabulary [`Make::parse`] knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Make(u8);

/// Canonical make names and the other spellings readers and registers use (lower
/// case, no diacritics, no separators). The makes sold in the region and those common
/// among cars travelling through it; more can be added at the end (codes are indices).
const MAKES: [(&str, &[&str]); 64] = [
    ("Alfa Romeo", &["alfa", "alfaromeo"]),
    ("Audi", &[]),
    ("BMW", &["bayerischemotorenwerke"]),
    ("BYD", &[]),
    ("Chevrolet", &["chevy"]),
    ("Chrysler", &[]),
    ("Citroën", &["citroen"]),
    ("Cupra", &[]),
    ("Dacia", &[]),
    ("DAF", &[]),
    ("Daewoo", &[]),
    ("Dodge", &[]),
    ("DS", &["dsautomobiles"]),
    ("Fiat", &[]),
    ("Ford", &[]),
    ("GAZ", &["gaz", "gorkyautomobileplant"]),
    ("Honda", &[]),
    ("Hyundai", &[]),
    ("Infiniti", &[]),
    ("Isuzu", &[]),
    ("Iveco", &[]),
    ("Jaguar", &[]),
    ("Jeep", &[]),
    ("Kia", &[]),
    ("KTM", &[]),
    ("Lada", &["vaz", "avtovaz"]),
    ("Lancia", &[]),
    ("Land Rover", &["landrover", "rangerover"]),
    ("Lexus", &[]),
    ("MAN", &[]),
    ("Mazda", &[]),
    ("Mercedes-Benz", &["mercedes", "mercedesbenz", "benz", "mb"]),
    ("MG", &[]),
    ("Mini", &[]),
    ("Mitsubishi", &[]),
    ("Neoplan", &[]),
    ("Nissan", &[]),
    ("Opel", &["vauxhall"]),
    ("Peugeot", &[]),
    ("Porsche", &[]),
    ("Renault", &[]),
    ("Scania", &[]),
    ("SEAT", &[]),
    ("Setra", &[]),
    ("Škoda", &["skoda"]),
    ("Smart", &[]),
    ("SsangYong", &["ssangyong", "kgm"]),
    ("Subaru", &[]),
    ("Suzuki", &[]),
    ("Tesla", &[]),
    ("Toyota", &[]),
    ("Volkswagen", &["vw", "volkswagen", "volkswagon"]),
    ("Volvo", &[]),
    ("Yamaha", &[]),
    ("Zastava", &[]),
    ("ZAZ", &["zaporozhets"]),
    ("UAZ", &[]),
    ("KamAZ", &["kamaz"]),
    ("MAZ", &[]),
    ("Tatra", &[]),
    ("Solaris", &[]),
    ("Karsan", &[]),
    ("Otokar", &[]),
    ("Piaggio", &["vespa"]),
];

impl Make {
    /// The make a word names (`VW`, `vw`, `Volkswagen`, `Mercedes Benz`, `Skoda`), or
    /// `None` for a word outside the vocabulary.
    pub fn parse(word: &str) -> Option<Make> {
        let key = fold_word(word);
        if key.is_empty() {
            return None;
        }
        MAKES
            .iter()
            .position(|(name, aliases)| fold_word(name) == key || aliases.contains(&key.as_str()))
            .map(|i| Make(i as u8))
    }

    pub fn name(self) -> &'static str {
        MAKES[usize::from(self.0)].0
    }

    /// A non-zero byte standing for the make.
    pub fn code(self) -> u8 {
        self.0 + 1
    }

    /// The make with this [`Make::code`].
    pub fn from_code(code: u8) -> Option<Make> {
        let i = code.checked_sub(1)?;
        (usize::from(i) < MAKES.len()).then_some(Make(i))
    }
}

/// Lower case ASCII letters and digits only, diacritics dropped (`Weiß` → `weiss`,
/// `smeđa` → `smedja`).
fn fold_word(word: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mut out = String::with_capacity(word.len());
    for c in word.nfd() {
        match c {
            'ß' => out.push_str("ss"),
            'ł' | 'Ł' => out.push('l'),
            'đ' | 'Đ' => out.push_str("dj"),
            c if c.is_ascii_alphanumeric() => out.push(c.to_ascii_lowercase()),
            _ => {}
        }
    }
    out
}

/// What a vehicle comparison looks at: make and colour, each when known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct VehicleCode {
    pub make: Option<Make>,
    pub colour: Option<Colour>,
}

impl VehicleCode {
    pub fn of(info: &VehicleInfo) -> VehicleCode {
        VehicleCode {
            make: info.make.as_deref().and_then(Make::parse),
            colour: info.colour.as_deref().and_then(Colour::parse),
        }
    }

    /// How a read's vehicle contradicts an entry's, if it does: makes differ, or
    /// colours contradict ([`Colour::contradicts`]). Unknown on either side never
    /// contradicts.
    pub fn contradiction(self, entry: VehicleCode) -> Option<Mismatch> {
        if let (Some(a), Some(b)) = (self.make, entry.make)
            && a != b
        {
            return Some(Mismatch::Make);
        }
        match (self.colour, entry.colour) {
            (Some(a), Some(b)) if a.contradicts(b) => Some(Mismatch::Colour),
            _ => None,
        }
    }
}

/// Which vehicle attribute contradicted the entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mismatch {
    Make,
    Colour,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_are_recognised_in_their_spellings() {
        let vw = Make::parse("Volkswagen").unwrap();
        for word in ["VW", "vw", "Volks-wagen", " volkswagen "] {
            assert_eq!(Make::parse(word), Some(vw), "{word}");
        }
        assert_eq!(Make::parse("Mercedes Benz"), Make::parse("MERCEDES"));
        assert_eq!(Make::parse("Škoda").unwrap().name(), "Škoda");
        assert_eq!(Make::parse("skoda"), Make::parse("Škoda"));
        assert_eq!(Make::parse("Citroen").unwrap().name(), "Citroën");
        for unknown in ["", "---", "Trabant", "car"] {
            assert_eq!(Make::parse(unknown), None, "{unknown}");
        }
        for (i, (name, _)) in MAKES.iter().enumerate() {
            let make = Make::parse(name).unwrap();
            assert_eq!(make, Make(i as u8), "{name} is listed once");
            assert_eq!(Make::from_code(make.code()), Some(make));
        }
        assert_eq!(Make::from_code(0), None);
        assert_eq!(Make::from_code(MAKES.len() as u8 + 1), None);
    }

    #[test]
    fn colours_are_recognised_in_the_regions_languages() {
        for (word, colour) in [
            ("WHITE", Colour::White),
            ("gray", Colour::Grey),
            ("Dark Grey", Colour::Grey),
            ("light-blue", Colour::Blue),
            ("roșu", Colour::Red),
            ("černá", Colour::Black),
            ("biały", Colour::White),
            ("Weiß", Colour::White),
        ] {
            assert_eq!(Colour::parse(word), Some(colour), "{word}");
        }
        assert_eq!(Colour::parse("camouflage"), None);
        for c in COLOURS {
            assert_eq!(Colour::parse(c.as_str()), Some(c));
            assert_eq!(Colour::from_code(c.code()), Some(c));
        }
        assert_eq!(Colour::from_code(0), None);
        assert_eq!(Colour::from_code(15), None);
    }

    #[test]
    fn only_distant_colours_contradict() {
        for a in COLOURS {
            assert!(!a.contradicts(a));
            for b in COLOURS {
                assert_eq!(a.contradicts(b), b.contradicts(a), "{a:?} {b:?} is symmetric");
            }
        }
        assert!(!Colour::White.contradicts(Colour::Silver));
        assert!(!Colour::Black.contradicts(Colour::Blue), "at night");
        assert!(Colour::White.contradicts(Colour::Red));
        assert!(Colour::Black.contradicts(Colour::Yellow));
    }

    #[test]
    fn a_vehicle_contradicts_only_on_known_attributes() {
        let code = |make: &str, colour: &str| VehicleCode { make: Make::parse(make), colour: Colour::parse(colour) };
        let entry = code("Dacia", "white");
        assert_eq!(code("Dacia", "silver").contradiction(entry), None);
        assert_eq!(code("", "").contradiction(entry), None);
        assert_eq!(code("Trabant", "").contradiction(entry), None, "unknown make takes no part");
        assert_eq!(code("BMW", "white").contradiction(entry), Some(Mismatch::Make));
        assert_eq!(code("Dacia", "red").contradiction(entry), Some(Mismatch::Colour));
        assert_eq!(code("", "red").contradiction(code("", "")), None);
    }
}
