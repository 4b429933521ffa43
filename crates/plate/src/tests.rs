//! Data-driven unit tests: each case is an input, a country ("" for none) and what comes out.

use crate::grammar::{self, KNOWN, Regions};
use crate::{CountryCode, PlateError, PlateText, clean, display, lookalike_key, normalize};

/// Normalises `input` for `country` (a code, or "" for none) and compares a one-line summary:
///
/// * with a country: the text as that country prints it, then `valid`, `invalid` or
///   `ambiguous`, then `repaired` if it was;
/// * without: the cleaned text, a colon, and the candidates as `COUNTRY TEXT SCORE`;
/// * on error: `error` and the error.
#[track_caller]
fn check(input: &str, country: &str, expected: &str) {
    let country = (!country.is_empty()).then(|| CountryCode::parse(country).unwrap());
    let actual = match normalize(input, country) {
        Err(e) => format!("error {e:?}"),
        Ok(n) => match n.country {
            Some(c) => {
                let state = if n.ambiguous {
                    "ambiguous"
                } else if n.valid {
                    "valid"
                } else {
                    "invalid"
                };
                let repaired = if n.repaired { " repaired" } else { "" };
                format!("{} {state}{repaired}", display(&n.text, c))
            }
            None => {
                let mut s = format!("{}:", n.text);
                for c in &n.candidates {
                    s += &format!(" {} {} {:.2}", c.country, c.text, c.score);
                }
                if n.candidates.is_empty() {
                    s += " none";
                }
                assert_eq!(n.valid, !n.candidates.is_empty());
                s
            }
        },
    };
    assert_eq!(actual, expected, "input {input:?}");
}

#[test]
fn romania() {
    check("b 12 abc", "RO", "B 12 ABC valid");
    check("B 123 ABC", "RO", "B 123 ABC valid");
    check("CJ 07 XYZ", "RO", "CJ 07 XYZ valid");
    check("cj-07-xyz", "RO", "CJ 07 XYZ valid");
    check("IS 99 HAH", "RO", "IS 99 HAH valid");
    // An O where Romania allows only digits is a 0; an 8 where only letters, a B.
    check("CJ O7 XYZ", "RO", "CJ 07 XYZ valid repaired");
    check("8 12 ABC", "RO", "B 12 ABC valid repaired");
    check("B 12 A8C", "RO", "B 12 ABC valid repaired");
    check("B I23 ABC", "RO", "B 123 ABC valid repaired");
    check("XX 12 ABC", "RO", "XX12ABC invalid"); // no such county
    check("B 00 ABC", "RO", "B00ABC invalid");
    check("B 012 ABC", "RO", "B012ABC invalid");
    check("CJ 07 IAB", "RO", "CJ07IAB invalid"); // the letter group does not start with I
    check("CJ 07 1AB", "RO", "CJ071AB invalid"); // …so a 1 there is not repaired to one
    check("CJ 07 AQB", "RO", "CJ07AQB invalid"); // no Q
    check("CJ 123 ABC", "RO", "CJ123ABC invalid"); // three digits only in Bucharest
    check("B 1 ABC", "RO", "B1ABC invalid");
}

#[test]
fn ukraine() {
    check("AA 1234 BX", "UA", "AA 1234 BX valid");
    check("АА 1234 ВХ", "UA", "AA 1234 BX valid"); // Cyrillic
    check("аа1234вх", "UA", "AA 1234 BX valid");
    check("КА 7777 ІО", "UA", "KA 7777 IO valid"); // Kyiv, 2013 series
    check("ВС 0042 СЕ", "UA", "BC 0042 CE valid"); // Lviv
    check("AA 12O4 BX", "UA", "AA 1204 BX valid repaired");
    check("AA 1234 B0", "UA", "AA 1234 BO valid repaired");
    check("AA 1234 BZ", "UA", "AA1234BZ invalid"); // Z is not one of the twelve letters
    check("ZZ 1234 AA", "UA", "ZZ1234AA invalid");
    check("AA 0000 BX", "UA", "AA0000BX invalid");
    check("AA 123 BX", "UA", "AA123BX invalid");
    check("АА 12З4 ВХ", "UA", "error BadChar('З')"); // Cyrillic Ze is no letter of a plate
}

#[test]
fn serbia() {
    check("BG 123-AB", "RS", "BG 123-AB valid");
    check("BG 1234-AB", "RS", "BG 1234-AB valid");
    check("BG 12345-AB", "RS", "BG 12345-AB valid");
    check("ČA 123-AB", "RS", "CA 123-AB valid"); // Čačak
    check("ŠA 042-ĐŽ", "RS", "SA 042-DZ valid"); // Šabac
    check("КА 1234-ТХ", "RS", "KA 1234-TX valid"); // Kanjiža, typed in Cyrillic
    check("BG I23-AB", "RS", "BG 123-AB valid repaired");
    check("BG 123-A8", "RS", "BG 123-AB valid repaired");
    check("XQ 123-AB", "RS", "XQ 123-AB valid"); // an unlisted city code, as it stands…
    check("XQ I23-AB", "RS", "XQI23AB invalid"); // …is not repaired
    check("BG 12-AB", "RS", "BG12AB invalid");
    check("ЧА 123-АБ", "RS", "error BadChar('Ч')"); // Serbian Cyrillic that looks like no Latin letter
}

#[test]
fn czechia() {
    check("1A2 3456", "CZ", "1A2 3456 valid");
    check("1ab 3456", "CZ", "1AB 3456 valid"); // Prague series letters
    check("9Z9-9999", "CZ", "9Z9 9999 valid");
    check("IA2 3456", "CZ", "1A2 3456 valid repaired");
    check("1A2 34S6", "CZ", "1A2 3456 valid repaired");
    check("0A2 3456", "CZ", "0A23456 invalid"); // the first digit is 1–9
    check("1G2 3456", "CZ", "1G23456 invalid"); // no region G
    check("1AO 3456", "CZ", "1AO3456 invalid"); // no O, and a series character is never repaired
}

#[test]
fn poland() {
    check("WX 12345", "PL", "WX 12345 valid");
    check("KR 1234A", "PL", "KR 1234A valid");
    check("KRA 12AC", "PL", "KRA 12AC valid");
    check("KRA 1234", "PL", "KRA1234 invalid"); // three-letter districts have no four-digit serial
    check("ŁDZ 12345", "PL", "LDZ 12345 valid");
    check("WX 1234B", "PL", "WX 12348 valid repaired"); // B is not used in serials
    check("WX I2345", "PL", "WX 12345 valid repaired");
    check("AX 12345", "PL", "AX12345 invalid"); // A is no voivodeship
    check("W0 ABC", "PL", "W0 ABC valid"); // individual plate
    check("PI18ZO4", "PL", "PI18ZO4 ambiguous"); // PI 18204 or PI 182O4?
}

#[test]
fn hungary() {
    check("ABC-123", "HU", "ABC-123 valid");
    check("AA AA-123", "HU", "AA AA-123 valid");
    check("ÖÜŐ-123", "HU", "OUO-123 valid");
    check("ABC-I23", "HU", "ABC-123 valid repaired");
    check("AB0-123", "HU", "ABO-123 valid repaired");
    check("AB-123", "HU", "AB123 invalid");
    check("ABC-000", "HU", "ABC000 invalid");
}

#[test]
fn moldova() {
    check("ABC 123", "MD", "ABC 123 valid");
    check("C AB 123", "MD", "C AB 123 valid");
    check("BL AB 123", "MD", "BL AB 123 valid");
    check("ȘD AB 123", "MD", "SD AB 123 valid"); // Șoldănești
    check("ABC I23", "MD", "ABC 123 valid repaired");
    check("ABC 1234", "MD", "ABC1234 invalid");
}

#[test]
fn slovakia() {
    check("BA 123AB", "SK", "BA 123AB valid");
    check("BA-123 AB", "SK", "BA 123AB valid");
    check("ŽA 042XY", "SK", "ZA 042XY valid"); // Žilina
    check("QQ 123AA", "SK", "QQ 123AA valid"); // 2023 series, no district
    check("BA 12OAB", "SK", "BA 120AB valid repaired");
    check("BA 1234B", "SK", "BA1234B invalid");
}

#[test]
fn bulgaria() {
    check("CA 1234 AB", "BG", "CA 1234 AB valid");
    check("СА 1234 АВ", "BG", "CA 1234 AB valid"); // Cyrillic
    check("У 1234 АВ", "BG", "Y 1234 AB valid"); // Yambol
    check("ТХ 0001 М", "BG", "TX 0001 M valid"); // Dobrich
    check("CA 1234 A8", "BG", "CA 1234 AB valid repaired");
    check("CA 1234 AZ", "BG", "CA1234AZ invalid"); // Z is not one of the twelve letters
    check("ZZ 1234 AB", "BG", "ZZ1234AB invalid");
    check("P8 5060 K", "BG", "P85060K ambiguous"); // PB 5060 K or P 8506 OK?
    check("ЖА 1234 АВ", "BG", "error BadChar('Ж')");
}

#[test]
fn germany() {
    check("M-AB 123", "DE", "M-AB 123 valid");
    check("m ab 123 e", "DE", "M-AB 123E valid"); // electric
    check("B-XY 1H", "DE", "B-XY 1H valid"); // historic
    check("MÜ-AB 12", "DE", "MU-AB 12 valid"); // Mühldorf
    check("BGL-Z 9999", "DE", "BGL-Z 9999 valid");
    check("M-AB 12O", "DE", "M-AB 120 valid repaired");
    check("M-AB 0123", "DE", "MA-BO 123 valid repaired"); // no leading zero: Mannheim BO 123
    check("M-AB 77777", "DE", "MAB77777 invalid"); // at most four digits
    check("BGL-AB 1234", "DE", "BGLAB1234 invalid"); // more than eight characters
    check("LI2S4", "DE", "LI2S4 ambiguous"); // LI 254 or L-IZ 54?
}

#[test]
fn unknown_country() {
    check("AB 123", "FR", "AB123 valid");
    check("ab-cd-123", "AT", "ABCD123 valid");
    check("ABCDEF", "FR", "ABCDEF invalid"); // no digit
    check("A", "FR", "A invalid");
    check("O0 SI", "FR", "O0SI valid"); // unknown countries are not repaired
}

#[test]
fn candidates() {
    check("B12ABC", "", "B12ABC: RO B12ABC 1.00 PL B1ZABC 0.40");
    check("АА 1234 ВХ", "", "AA1234BX: UA AA1234BX 1.00 RS AA1234BX 0.80"); // RS: an unlisted city
    check("CJ O7 XYZ", "", "CJO7XYZ: RO CJ07XYZ 0.50 PL CJO7XY2 0.40"); // PL: CJO 7XY2
    check("1A2 3456", "", "1A23456: CZ 1A23456 1.00");
    // Cherkasy, Sofia and Čačak: the same text is a valid plate of three countries.
    check("CA 1234 AB", "", "CA1234AB: UA CA1234AB 1.00 BG CA1234AB 1.00 RS CA1234AB 0.90");
    check("BG 123-AB", "", "BG123AB: RS BG123AB 0.90 SK BG123AB 0.80 BG B6123AB 0.50"); // Varna B 6123 AB
    check("ABC-123", "", "ABC123: DE ABC123 0.90 HU ABC123 0.80 MD ABC123 0.80");
    check("P8 5060 K", "", "P85060K: SK PB506OK 0.25"); // ambiguous in BG, so not a BG candidate
    check("ZZZ", "", "ZZZ: DE ZZ2 0.45"); // Zwickau Z 2
    check("QQQ", "", "QQQ: none");
}

#[test]
fn hostile_input() {
    let ten_mb = 10 * 1024 * 1024;
    check(&"A".repeat(ten_mb), "RO", &format!("error TooLong({ten_mb})"));
    check(&format!("{}B12ABC", " ".repeat(ten_mb)), "RO", "B 12 ABC valid");
    check(&format!("B12ABC{}", "€".repeat(ten_mb / 3)), "RO", "error BadChar('€')");
    check(&format!("A{}", "\u{301}".repeat(ten_mb / 2)), "", "A: none");
    check("B\x0012ABC", "RO", "error BadChar('\\0')");
    check("B12\u{7}ABC", "RO", "error BadChar('\\u{7}')");
    check("B12\u{1b}[31mABC", "RO", "error BadChar('\\u{1b}')");
    check("B12ABC🚗", "RO", "error BadChar('🚗')");
    check("1\u{FE0F}\u{20E3}", "RO", "error BadChar('\\u{fe0f}')"); // keycap emoji
    check("B12\u{202E}CBA", "RO", "error BadChar('\\u{202e}')"); // right-to-left override
    check("B12\u{2067}ABC\u{2069}", "RO", "error BadChar('\\u{2067}')"); // right-to-left isolate
    check("\u{200F}B12\u{200E}ABC", "RO", "B 12 ABC valid"); // direction marks reorder nothing here
    check("B\u{200B}12\u{FEFF}ABC\u{AD}", "RO", "B 12 ABC valid"); // invisible characters
    check("\u{301}B12ABC", "RO", "error BadChar('\\u{301}')"); // a lone combining mark
    check("B1\u{301}2ABC", "RO", "error BadChar('\\u{301}')"); // a mark on a digit
    check("B \u{301}12ABC", "RO", "error BadChar('\\u{301}')"); // a mark on a separator
    check("B\u{301}\u{308}12ABC", "RO", "B 12 ABC valid"); // marks on a letter
    check("Ｂ１２ＡＢＣ", "RO", "B 12 ABC valid"); // fullwidth
    check("B\u{A0}12\u{2009}ABC", "RO", "B 12 ABC valid"); // no-break and thin spaces
    check("B·12•ABC", "RO", "B 12 ABC valid");
    check("B\u{2013}12\u{2014}ABC", "RO", "B 12 ABC valid"); // dashes
    check("", "RO", "error Empty");
    check(" -.\t_/| ", "RO", "error Empty");
    check("ABCDEFGHIJKLM", "", "error TooLong(13)");
    check("ABCDEFGHIJKL", "", "ABCDEFGHIJKL: none");
    check("ÄÄÄÄÄÄÄÄÄÄÄÄÄ", "", "error TooLong(13)");
    check("ßßßßßßß", "", "error TooLong(14)");
    check("Й", "", "error BadChar('Й')");
    check("\u{E000}", "", "error BadChar('\\u{e000}')"); // private use
    check("\u{FFFD}", "", "error BadChar('\u{FFFD}')");
}

#[test]
fn country_codes() {
    for bad in ["", "R", "R0", "ROU", "ЯЯ", "R\u{0}", "🇷🇴"] {
        assert_eq!(CountryCode::parse(bad), Err(PlateError::BadCountry(bad.to_owned())), "{bad:?}");
    }
    assert_eq!(CountryCode::parse(" ro ").unwrap(), CountryCode::RO);
    assert_eq!("ua".parse::<CountryCode>().unwrap().as_str(), "UA");
}

#[test]
fn folding() {
    let cases = [
        ("čćđšž", "CCDSZ"),
        ("ŁØßÆŒ", "LOSSAEOE"),
        ("ĂÂÎȘȚ", "AAIST"),
        ("ăâîșț", "AAIST"),
        ("ÁÉÍÓÖŐÚÜŰ", "AEIOOOUUU"),
        ("АВЕІКМН", "ABEIKMH"),
        ("ОРСТХУ", "OPCTXY"),
        ("авеікмн", "ABEIKMH"),
        ("орстху", "OPCTXY"),
        ("ЇЁЎ", "IEY"),
        ("ΑΒΕΖΗΙΚ", "ABEZHIK"),
        ("ΜΝΟΡΤΥΧ", "MNOPTYX"),
        ("A\u{30A}B\u{327}", "AB"),
    ];
    for (raw, expected) in cases {
        assert_eq!(clean(raw).unwrap().as_str(), expected, "{raw:?}");
    }
}

#[test]
fn lookalike_keys() {
    let key = |s: &str| lookalike_key(&clean(s).unwrap()).as_str().to_owned();
    assert_eq!(key("OD QIB SZG"), "00018526");
    assert_eq!(key("B 12 ABO"), key("8 I2 A8D"));
    assert_ne!(key("B 12 ABC"), key("B 12 ABE"));
}

#[test]
fn display_forms() {
    let cases = [
        ("RO", "B12ABC", "B 12 ABC"),
        ("RO", "CJ07XYZ", "CJ 07 XYZ"),
        ("UA", "AA1234BB", "AA 1234 BB"),
        ("RS", "BG123AB", "BG 123-AB"),
        ("CZ", "1A23456", "1A2 3456"),
        ("PL", "WX12345", "WX 12345"),
        ("PL", "KRA12AC", "KRA 12AC"),
        ("HU", "AAAA123", "AA AA-123"),
        ("MD", "CAB123", "C AB 123"),
        ("SK", "BA123AB", "BA 123AB"),
        ("BG", "CA1234AB", "CA 1234 AB"),
        ("DE", "MAB123", "M-AB 123"),
        ("DE", "HHAB1234", "HH-AB 1234"),
        ("FR", "AB123CD", "AB123CD"),
        ("RO", "B0O", "B0O"), // not a Romanian plate: as it is
    ];
    for (country, text, expected) in cases {
        let text = PlateText::new(text).unwrap();
        assert_eq!(display(&text, CountryCode::parse(country).unwrap()), expected);
    }
}

/// The region lists are sorted (lookup is a binary search), without duplicates, upper-case ASCII
/// and as long as the format's region code.
#[test]
fn region_lists() {
    let unknown = CountryCode::parse("ZZ").unwrap();
    for country in KNOWN.into_iter().chain([unknown]) {
        for format in grammar::formats(country) {
            let region_len = format.pattern().bytes().filter(|&b| b == b'R').count();
            assert!(region_len <= 4, "region codes are packed into a u32");
            if let Regions::Complete(list) | Regions::Partial(list) = format.region_codes() {
                let codes: Vec<&str> = format.region_codes().codes().collect();
                assert!(!codes.is_empty());
                assert_eq!(codes.join(" "), list, "{country}: one space between codes");
                assert!(codes.windows(2).all(|w| w[0] < w[1]), "{country} {}", format.pattern());
                for code in codes {
                    assert_eq!(code.len(), region_len, "{country} {code}");
                    assert!(code.bytes().all(|b| b.is_ascii_uppercase()), "{country} {code}");
                }
            }
        }
    }
}

/// A generator that counts up, so that every format's first few plates are deterministic.
#[test]
fn generate_is_valid_for_every_format() {
    let unknown = CountryCode::parse("ZZ").unwrap();
    for country in KNOWN.into_iter().chain([unknown]) {
        for format in grammar::formats(country) {
            for seed in 0..50usize {
                let mut k = seed;
                let plate = format.generate(&mut |n| {
                    k = k.wrapping_mul(31).wrapping_add(7);
                    k % n
                });
                let n = normalize(plate.as_str(), Some(country)).unwrap();
                assert!(n.valid && !n.repaired && n.text == plate, "{country} {} {plate}", format.pattern());
                assert!(format.accepts(&plate));
            }
            // A generator that always answers 0, and one that answers out of range.
            for pick in [&mut (|_| 0usize) as &mut dyn FnMut(usize) -> usize, &mut |n| n + 3] {
                let plate = format.generate(pick);
                assert!(normalize(plate.as_str(), Some(country)).unwrap().valid, "{country} {plate}");
            }
        }
    }
}

#[test]
fn the_lookalike_table_is_one_set_of_classes() {
    use crate::{digit_to_letter, letter_to_digit, lookalike_class, lookalike_swap};
    for c in (b'0'..=b'9').chain(b'A'..=b'Z') {
        assert_eq!(lookalike_class(lookalike_class(c)), lookalike_class(c));
        if let Some(s) = lookalike_swap(c) {
            assert_ne!(s, c);
            assert_eq!(lookalike_class(s), lookalike_class(c), "{} and {}", c as char, s as char);
            assert_ne!(s.is_ascii_digit(), c.is_ascii_digit(), "a swap crosses letters and digits");
        }
        if let Some(d) = letter_to_digit(c) {
            assert!(c.is_ascii_uppercase() && d.is_ascii_digit());
            assert_eq!(digit_to_letter(d).map(lookalike_class), Some(d));
        }
    }
    let swapped: String = "ODQIBSZG018526".bytes().map(|c| lookalike_swap(c).unwrap() as char).collect();
    assert_eq!(swapped, "00018526OIBSZG");
}
