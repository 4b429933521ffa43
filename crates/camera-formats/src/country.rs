//! ISO 3166-1 country codes: alpha-3 and alpha-2 to [`CountryCode`].

use limes_plate::CountryCode;

/// Every ISO 3166-1 country as (alpha-3, alpha-2), sorted by alpha-3 (from Debian's
/// `iso-codes` 4.15, 249 entries).
#[rustfmt::skip]
const ISO_3166_1: [(&str, &str); 249] = [
    ("ABW", "AW"), ("AFG", "AF"), ("AGO", "AO"), ("AIA", "AI"), ("ALA", "AX"), ("ALB", "AL"), ("AND", "AD"),
    ("ARE", "AE"), ("ARG", "AR"), ("ARM", "AM"), ("ASM", "AS"), ("ATA", "AQ"), ("ATF", "TF"), ("ATG", "AG"),
    ("AUS", "AU"), ("AUT", "AT"), ("AZE", "AZ"), ("BDI", "BI"), ("BEL", "BE"), ("BEN", "BJ"), ("BES", "BQ"),
    ("BFA", "BF"), ("BGD", "BD"), ("BGR", "BG"), ("BHR", "BH"), ("BHS", "BS"), ("BIH", "BA"), ("BLM", "BL"),
    ("BLR", "BY"), ("BLZ", "BZ"), ("BMU", "BM"), ("BOL", "BO"), ("BRA", "BR"), ("BRB", "BB"), ("BRN", "BN"),
    ("BTN", "BT"), ("BVT", "BV"), ("BWA", "BW"), ("CAF", "CF"), ("CAN", "CA"), ("CCK", "CC"), ("CHE", "CH"),
    ("CHL", "CL"), ("CHN", "CN"), ("CIV", "CI"), ("CMR", "CM"), ("COD", "CD"), ("COG", "CG"), ("COK", "CK"),
    ("COL", "CO"), ("COM", "KM"), ("CPV", "CV"), ("CRI", "CR"), ("CUB", "CU"), ("CUW", "CW"), ("CXR", "CX"),
    ("CYM", "KY"), ("CYP", "CY"), ("CZE", "CZ"), ("DEU", "DE"), ("DJI", "DJ"), ("DMA", "DM"), ("DNK", "DK"),
    ("DOM", "DO"), ("DZA", "DZ"), ("ECU", "EC"), ("EGY", "EG"), ("ERI", "ER"), ("ESH", "EH"), ("ESP", "ES"),
    ("EST", "EE"), ("ETH", "ET"), ("FIN", "FI"), ("FJI", "FJ"), ("FLK", "FK"), ("FRA", "FR"), ("FRO", "FO"),
    ("FSM", "FM"), ("GAB", "GA"), ("GBR", "GB"), ("GEO", "GE"), ("GGY", "GG"), ("GHA", "GH"), ("GIB", "GI"),
    ("GIN", "GN"), ("GLP", "GP"), ("GMB", "GM"), ("GNB", "GW"), ("GNQ", "GQ"), ("GRC", "GR"), ("GRD", "GD"),
    ("GRL", "GL"), ("GTM", "GT"), ("GUF", "GF"), ("GUM", "GU"), ("GUY", "GY"), ("HKG", "HK"), ("HMD", "HM"),
    ("HND", "HN"), ("HRV", "HR"), ("HTI", "HT"), ("HUN", "HU"), ("IDN", "ID"), ("IMN", "IM"), ("IND", "IN"),
    ("IOT", "IO"), ("IRL", "IE"), ("IRN", "IR"), ("IRQ", "IQ"), ("ISL", "IS"), ("ISR", "IL"), ("ITA", "IT"),
    ("JAM", "JM"), ("JEY", "JE"), ("JOR", "JO"), ("JPN", "JP"), ("KAZ", "KZ"), ("KEN", "KE"), ("KGZ", "KG"),
    ("KHM", "KH"), ("KIR", "KI"), ("KNA", "KN"), ("KOR", "KR"), ("KWT", "KW"), ("LAO", "LA"), ("LBN", "LB"),
    ("LBR", "LR"), ("LBY", "LY"), ("LCA", "LC"), ("LIE", "LI"), ("LKA", "LK"), ("LSO", "LS"), ("LTU", "LT"),
    ("LUX", "LU"), ("LVA", "LV"), ("MAC", "MO"), ("MAF", "MF"), ("MAR", "MA"), ("MCO", "MC"), ("MDA", "MD"),
    ("MDG", "MG"), ("MDV", "MV"), ("MEX", "MX"), ("MHL", "MH"), ("MKD", "MK"), ("MLI", "ML"), ("MLT", "MT"),
    ("MMR", "MM"), ("MNE", "ME"), ("MNG", "MN"), ("MNP", "MP"), ("MOZ", "MZ"), ("MRT", "MR"), ("MSR", "MS"),
    ("MTQ", "MQ"), ("MUS", "MU"), ("MWI", "MW"), ("MYS", "MY"), ("MYT", "YT"), ("NAM", "NA"), ("NCL", "NC"),
    ("NER", "NE"), ("NFK", "NF"), ("NGA", "NG"), ("NIC", "NI"), ("NIU", "NU"), ("NLD", "NL"), ("NOR", "NO"),
    ("NPL", "NP"), ("NRU", "NR"), ("NZL", "NZ"), ("OMN", "OM"), ("PAK", "PK"), ("PAN", "PA"), ("PCN", "PN"),
    ("PER", "PE"), ("PHL", "PH"), ("PLW", "PW"), ("PNG", "PG"), ("POL", "PL"), ("PRI", "PR"), ("PRK", "KP"),
    ("PRT", "PT"), ("PRY", "PY"), ("PSE", "PS"), ("PYF", "PF"), ("QAT", "QA"), ("REU", "RE"), ("ROU", "RO"),
    ("RUS", "RU"), ("RWA", "RW"), ("SAU", "SA"), ("SDN", "SD"), ("SEN", "SN"), ("SGP", "SG"), ("SGS", "GS"),
    ("SHN", "SH"), ("SJM", "SJ"), ("SLB", "SB"), ("SLE", "SL"), ("SLV", "SV"), ("SMR", "SM"), ("SOM", "SO"),
    ("SPM", "PM"), ("SRB", "RS"), ("SSD", "SS"), ("STP", "ST"), ("SUR", "SR"), ("SVK", "SK"), ("SVN", "SI"),
    ("SWE", "SE"), ("SWZ", "SZ"), ("SXM", "SX"), ("SYC", "SC"), ("SYR", "SY"), ("TCA", "TC"), ("TCD", "TD"),
    ("TGO", "TG"), ("THA", "TH"), ("TJK", "TJ"), ("TKL", "TK"), ("TKM", "TM"), ("TLS", "TL"), ("TON", "TO"),
    ("TTO", "TT"), ("TUN", "TN"), ("TUR", "TR"), ("TUV", "TV"), ("TWN", "TW"), ("TZA", "TZ"), ("UGA", "UG"),
    ("UKR", "UA"), ("UMI", "UM"), ("URY", "UY"), ("USA", "US"), ("UZB", "UZ"), ("VAT", "VA"), ("VCT", "VC"),
    ("VEN", "VE"), ("VGB", "VG"), ("VIR", "VI"), ("VNM", "VN"), ("VUT", "VU"), ("WLF", "WF"), ("WSM", "WS"),
    ("YEM", "YE"), ("ZAF", "ZA"), ("ZMB", "ZM"), ("ZWE", "ZW"),
];

/// Codes outside ISO 3166-1 that cameras send, with the code limes uses for them.
const ALIASES: [(&str, &str); 5] = [
    // Romania's alpha-3 before 2002; older readers still send it.
    ("ROM", "RO"),
    // The United Kingdom's exceptionally reserved alpha-2, and the EU's code for Greece.
    ("UK", "GB"),
    ("EL", "GR"),
    // Kosovo: user-assigned codes in common use (not in ISO 3166-1).
    ("XKX", "XK"),
    ("XK", "XK"),
];

/// The limes country for an ISO 3166-1 alpha-2 or alpha-3 code, any case, surrounding
/// spaces ignored (`DEU`, `deu`, `DE` → Germany). Numbers, names and unassigned codes
/// give `None`: a camera's country is only ever taken when it is known for certain.
///
/// ```
/// use limes_camera_formats::country_from_code;
/// use limes_plate::CountryCode;
/// assert_eq!(country_from_code("ROU"), Some(CountryCode::RO));
/// assert_eq!(country_from_code("ukr"), Some(CountryCode::UA));
/// assert_eq!(country_from_code("US").map(|c| c.as_str().to_owned()), Some("US".to_owned()));
/// assert_eq!(country_from_code("QQ"), None);
/// assert_eq!(country_from_code("5"), None);
/// ```
pub fn country_from_code(code: &str) -> Option<CountryCode> {
    let code = code.trim();
    if !(2..=3).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let mut buffer = [0u8; 3];
    let upper = &mut buffer[..code.len()];
    upper.copy_from_slice(code.as_bytes());
    upper.make_ascii_uppercase();
    let upper = std::str::from_utf8(upper).ok()?;
    let alpha2 = if let Some((_, a2)) = ALIASES.iter().find(|(from, _)| *from == upper) {
        a2
    } else if upper.len() == 3 {
        let i = ISO_3166_1.binary_search_by(|(a3, _)| (*a3).cmp(upper)).ok()?;
        ISO_3166_1[i].1
    } else {
        let alpha2 = alpha2_sorted();
        alpha2[alpha2.binary_search(&upper).ok()?]
    };
    CountryCode::parse(alpha2).ok()
}

/// The alpha-2 codes of [`ISO_3166_1`], sorted: every read of a camera that sends alpha-2
/// codes looks one up.
fn alpha2_sorted() -> &'static [&'static str] {
    static SORTED: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    SORTED.get_or_init(|| {
        let mut codes: Vec<&str> = ISO_3166_1.iter().map(|(_, a2)| *a2).collect();
        codes.sort_unstable();
        codes
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_complete() {
        assert!(ISO_3166_1.windows(2).all(|w| w[0].0 < w[1].0));
        for (a3, a2) in ISO_3166_1 {
            assert_eq!(country_from_code(a3).unwrap().as_str(), a2);
            assert_eq!(country_from_code(a2).unwrap().as_str(), a2);
        }
    }

    #[test]
    fn codes_map_to_limes_countries() {
        for (code, expected) in [
            ("DEU", Some("DE")),
            ("ROU", Some("RO")),
            ("ROM", Some("RO")),
            ("UKR", Some("UA")),
            ("MDA", Some("MD")),
            ("SRB", Some("RS")),
            ("PRT", Some("PT")),
            (" de ", Some("DE")),
            ("uk", Some("GB")),
            ("XKX", Some("XK")),
            ("", None),
            ("D", None),
            ("DEUT", None),
            ("ZZZ", None),
            ("Q1", None),
            ("5", None),
            ("Ö", None),
        ] {
            assert_eq!(country_from_code(code).map(|c| c.as_str().to_owned()).as_deref(), expected, "{code:?}");
        }
    }
}
