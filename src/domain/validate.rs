//! Field rules shared by every operation, each in one place.

use super::error::Violation;

pub const NAME_MAX_CHARS: usize = 255;
pub const DESCRIPTION_MAX_CHARS: usize = 10_000;
pub const TAG_MAX_CHARS: usize = 255;
pub const TAGS_MAX: usize = 100;
pub const EMAIL_MAX_CHARS: usize = 320;

/// Collects violations so a request reports every bad field at once.
#[derive(Default, Debug)]
pub struct Violations(pub Vec<Violation>);

impl Violations {
    pub fn add(&mut self, field: &str, description: impl Into<String>) {
        self.0.push(Violation::new(field, description));
    }

    pub fn into_result(self) -> Result<(), super::error::DomainError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(super::error::DomainError::Invalid(self.0))
        }
    }

    pub fn required_text(&mut self, field: &str, value: &str, max: usize) {
        if value.trim().is_empty() {
            self.add(field, "is required");
        } else {
            self.max_chars(field, value, max);
        }
    }

    pub fn max_chars(&mut self, field: &str, value: &str, max: usize) {
        if value.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
        }
    }
}

/// Bounds of a limit/offset page: `limit` in 1..=max (default when absent), `offset` ≥ 0.
#[derive(Clone, Copy, Debug)]
pub struct PageBounds {
    pub default_limit: i32,
    pub max_limit: i32,
}

impl PageBounds {
    /// (limit, offset), or the violations of both at once.
    pub fn check(
        self,
        limit: Option<i32>,
        offset: Option<i32>,
    ) -> Result<(u64, u64), super::error::DomainError> {
        let mut v = Violations::default();
        let limit = limit.unwrap_or(self.default_limit);
        let offset = offset.unwrap_or(0);
        if !(1..=self.max_limit).contains(&limit) {
            v.add("limit", format!("must be between 1 and {}", self.max_limit));
        }
        if offset < 0 {
            v.add("offset", "must be 0 or more");
        }
        v.into_result()?;
        Ok((limit as u64, offset as u64))
    }

    /// For a list read whole unless the caller asks for a page: `None` (the whole list)
    /// when neither `limit` nor `offset` is sent, else the checked page.
    pub fn check_optional(
        self,
        limit: Option<i32>,
        offset: Option<i32>,
    ) -> Result<Option<(u64, u64)>, super::error::DomainError> {
        if limit.is_none() && offset.is_none() {
            return Ok(None);
        }
        self.check(limit, offset).map(Some)
    }
}

/// The most items a list answers whole, when the caller asked for no page (the published
/// GroupAlarm lists have no paging at all). Beyond it the request is refused with
/// [`too_many_results`], never truncated: a client must not take a cut list for the whole.
/// `Config::max_unpaged_items` overrides it (tests use a small one).
pub const MAX_UNPAGED_ITEMS: usize = 10_000;

/// The reason code of [`too_many_results`].
pub const TOO_MANY_RESULTS: &str = "TOO_MANY_RESULTS";

/// Refuses a whole list of more than `max` items: FAILED_PRECONDITION (409 on every REST
/// surface), because the request is fine and the amount of data the caller can see is what
/// forbids it; the message says how to page instead.
pub fn too_many_results(max: usize, what: &str, instead: &str) -> super::error::DomainError {
    super::error::DomainError::Conflict {
        reason: TOO_MANY_RESULTS,
        message: format!(
            "there are more than {max} {what}, more than one response lists at once; {instead}"
        ),
    }
}

/// An IANA time zone database name such as `Europe/Berlin`.
pub fn is_iana_timezone(s: &str) -> bool {
    s.parse::<chrono_tz::Tz>().is_ok()
}

/// Well-formed per RFC 5646 (language tags): `de`, `en-GB`, `zh-Hant-TW`, `sl-rozaj-biske`,
/// `de-CH-x-phonebk`, `x-private`. Registry membership is not checked.
pub fn is_bcp47(tag: &str) -> bool {
    let parts: Vec<&str> = tag.split('-').collect();
    if tag.is_empty() || tag.len() > 35 || parts.iter().any(|p| p.is_empty() || p.len() > 8) {
        return false;
    }
    if !parts
        .iter()
        .all(|p| p.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        return false;
    }
    let alpha = |p: &str| p.bytes().all(|b| b.is_ascii_alphabetic());
    let digit = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    let mut i = 0;
    if parts[0].eq_ignore_ascii_case("x") {
        return parts.len() > 1;
    }
    // language: 2-3 letters (+ up to three 3-letter extlangs) or 4-8 letters
    let lang = parts[0];
    if !alpha(lang) || !(2..=8).contains(&lang.len()) {
        return false;
    }
    i += 1;
    if lang.len() <= 3 {
        let mut extlangs = 0;
        while i < parts.len() && extlangs < 3 && parts[i].len() == 3 && alpha(parts[i]) {
            i += 1;
            extlangs += 1;
        }
    }
    // script
    if i < parts.len() && parts[i].len() == 4 && alpha(parts[i]) {
        i += 1;
    }
    // region
    if i < parts.len()
        && ((parts[i].len() == 2 && alpha(parts[i])) || (parts[i].len() == 3 && digit(parts[i])))
    {
        i += 1;
    }
    // variants
    while i < parts.len() {
        let p = parts[i];
        let variant =
            (5..=8).contains(&p.len()) || (p.len() == 4 && p.as_bytes()[0].is_ascii_digit());
        if !variant {
            break;
        }
        i += 1;
    }
    // extensions (singleton + one or more 2-8 subtags) and private use
    while i < parts.len() {
        let singleton = parts[i];
        if singleton.len() != 1 {
            return false;
        }
        i += 1;
        let start = i;
        if singleton.eq_ignore_ascii_case("x") {
            // private use takes every remaining subtag
            i = parts.len();
        } else {
            while i < parts.len() && parts[i].len() >= 2 {
                i += 1;
            }
        }
        if i == start {
            return false;
        }
    }
    true
}

/// The officially assigned ISO 3166-1 alpha-2 codes.
const ISO_3166_ALPHA2: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

pub fn is_country_code(s: &str) -> bool {
    s.len() == 2 && ISO_3166_ALPHA2.split(' ').any(|c| c == s)
}

/// A plausible mailbox: one `@`, something on each side, no whitespace, a dot in the domain.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && s.chars().count() <= EMAIL_MAX_CHARS
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcp47_tags() {
        for ok in [
            "de",
            "en-GB",
            "zh-Hant-TW",
            "sl-rozaj-biske",
            "de-CH-x-phonebk",
            "x-whatever",
            "es-419",
            "en-US-u-ca-gregory",
        ] {
            assert!(is_bcp47(ok), "{ok}");
        }
        for bad in [
            "",
            "e",
            "englishlanguage",
            "en_GB",
            "de--CH",
            "123",
            "en-GB-",
            "en-a",
            "de-Ä",
        ] {
            assert!(!is_bcp47(bad), "{bad}");
        }
    }

    #[test]
    fn timezones_and_emails() {
        assert!(is_iana_timezone("Europe/Berlin"));
        assert!(is_iana_timezone("UTC"));
        assert!(!is_iana_timezone("Mars/Olympus"));
        assert!(is_email("a@example.com"));
        assert!(!is_email("a@b"));
        assert!(!is_email("a b@example.com"));
        assert!(!is_email("@example.com"));
        assert!(is_country_code("DE") && is_country_code("ZW"));
        assert!(!is_country_code("de") && !is_country_code("XX") && !is_country_code("DEU"));
    }
}
