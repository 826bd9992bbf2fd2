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

    /// A string against its [`FieldRule`]: not blank, and its length in characters.
    pub fn text(&mut self, field: &str, rule: &FieldRule, value: &str) {
        let n = value.chars().count();
        if rule.not_blank && value.trim().is_empty() {
            self.add(field, "is required");
        } else if let Some(min) = rule.min_chars.filter(|min| n < *min) {
            self.add(field, format!("must be at least {min} characters"));
        } else if let Some(max) = rule.max_chars {
            self.max_chars(field, value, max);
        }
    }

    /// A number against its [`FieldRule`]'s inclusive bounds.
    pub fn number(&mut self, field: &str, rule: &FieldRule, value: f64) {
        match (rule.min, rule.max) {
            (Some(min), Some(max)) if !(min..=max).contains(&value) => {
                self.add(field, format!("must be between {min} and {max}"))
            }
            (Some(min), None) if value < min => {
                self.add(field, format!("must be greater than or equal to {min}"))
            }
            (None, Some(max)) if value > max => {
                self.add(field, format!("must be less than or equal to {max}"))
            }
            _ => {}
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

/// Whether a request must carry a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Required {
    /// It may be left out.
    No,
    /// Always: left out (or null) it is refused.
    Yes,
    /// When the request creates what the message describes (the REST binding is a POST);
    /// an update sends only what changes.
    OnCreate,
}

/// A string's shape beyond its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// [`is_email`]
    Email,
    /// [`is_bcp47`], or empty (the default).
    Bcp47OrEmpty,
    /// [`is_iana_timezone`], or empty (the default).
    IanaTimezoneOrEmpty,
    /// [`is_country_code`] (an empty string is not one).
    CountryCode,
    /// A UUID, as `Uuid::parse_str` reads it.
    Uuid,
    /// Base64 of an image [`super::avatar::sniff`] recognises, or empty (removes it).
    ImageOrEmpty,
    /// One of these values exactly.
    OneOf(&'static [&'static str]),
}

/// What one request field may hold. The domain checks read the constants these are made
/// of, and the OpenAPI generator reads [`field_rule`], so the document states exactly the
/// bounds the server enforces (a schema looser than the server invites requests it then
/// refuses; a tighter one hides values it accepts).
#[derive(Clone, Copy, Debug)]
pub struct FieldRule {
    pub required: Required,
    /// A string needs a character other than whitespace.
    pub not_blank: bool,
    pub min_chars: Option<usize>,
    pub max_chars: Option<usize>,
    /// Inclusive bounds of a number.
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Entries of a list.
    pub max_items: Option<usize>,
    pub format: Option<Format>,
}

impl FieldRule {
    const ANY: FieldRule = FieldRule {
        required: Required::No,
        not_blank: false,
        min_chars: None,
        max_chars: None,
        min: None,
        max: None,
        max_items: None,
        format: None,
    };

    /// A string of at most `max` characters.
    pub const fn text(max: usize) -> FieldRule {
        FieldRule {
            max_chars: Some(max),
            ..FieldRule::ANY
        }
    }

    /// A string of 1..=`max` characters, not only whitespace (as [`Violations::required_text`]).
    pub const fn name(max: usize) -> FieldRule {
        FieldRule {
            not_blank: true,
            max_chars: Some(max),
            ..FieldRule::ANY
        }
    }

    pub const fn format(format: Format) -> FieldRule {
        FieldRule {
            format: Some(format),
            ..FieldRule::ANY
        }
    }

    pub const fn range(min: f64, max: f64) -> FieldRule {
        FieldRule {
            min: Some(min),
            max: Some(max),
            ..FieldRule::ANY
        }
    }

    pub const fn at_least(min: f64) -> FieldRule {
        FieldRule {
            min: Some(min),
            ..FieldRule::ANY
        }
    }

    pub const fn required(self) -> FieldRule {
        FieldRule {
            required: Required::Yes,
            ..self
        }
    }

    pub const fn required_on_create(self) -> FieldRule {
        FieldRule {
            required: Required::OnCreate,
            ..self
        }
    }

    pub const fn max_items(self, max: usize) -> FieldRule {
        FieldRule {
            max_items: Some(max),
            ..self
        }
    }

    pub const fn min_chars(self, min: usize) -> FieldRule {
        FieldRule {
            min_chars: Some(min),
            ..self
        }
    }

    pub const fn max_chars(self, max: usize) -> FieldRule {
        FieldRule {
            max_chars: Some(max),
            ..self
        }
    }

    /// A string of `min..=max` characters.
    pub const fn length(min: usize, max: usize) -> FieldRule {
        FieldRule::text(max).min_chars(min)
    }

    /// Whether a request that creates must carry the field.
    pub fn needed_on_create(&self) -> bool {
        matches!(self.required, Required::Yes | Required::OnCreate)
    }
}

impl PageBounds {
    /// The rule of the `limit` field of such a page.
    pub const fn limit_rule(self) -> FieldRule {
        FieldRule::range(1.0, self.max_limit as f64)
    }
}

/// A page's `offset` (and anything else counted from 0).
pub const OFFSET: FieldRule = FieldRule::at_least(0.0);

/// The rule of each request field, by the proto field's full name; `*.name` applies to the
/// field of that name in every message. Fields not listed have only the codec's backstop.
pub fn field_rule(full_name: &str) -> Option<&'static FieldRule> {
    let exact = FIELD_RULES.iter().find(|(name, _)| *name == full_name);
    exact
        .or_else(|| {
            let (_, field) = full_name.rsplit_once('.')?;
            FIELD_RULES
                .iter()
                .find(|(name, _)| name.strip_prefix("*.") == Some(field))
        })
        .map(|(_, rule)| rule)
}

/// The rule of a field the domain checks by it; a name missing from [`FIELD_RULES`] is a
/// bug the first request finds (every rule is exercised by the tests).
pub fn rule(full_name: &str) -> &'static FieldRule {
    field_rule(full_name).unwrap_or_else(|| panic!("no FIELD_RULES entry for {full_name}"))
}

/// [`is_email`] as an ECMA-262 / Python regular expression: one `@`, no whitespace or
/// control character, a domain with a dot inside it.
pub const EMAIL_PATTERN: &str = r"^[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s.\x00-\x1f\x7f-\x9f][^@\s\x00-\x1f\x7f-\x9f]*\.[^@\s\x00-\x1f\x7f-\x9f]*[^@\s.\x00-\x1f\x7f-\x9f]$";

/// [`is_bcp47`] as a regular expression (its length bound, 35, is a maxLength).
pub const BCP47_PATTERN: &str = concat!(
    r"^(?:[xX](?:-[A-Za-z0-9]{1,8})+|",
    r"(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})",
    r"(?:-[A-Za-z]{4})?",
    r"(?:-(?:[A-Za-z]{2}|[0-9]{3}))?",
    r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*",
    r"(?:-[A-WYZa-wyz0-9](?:-[A-Za-z0-9]{2,8})+)*",
    r"(?:-[xX](?:-[A-Za-z0-9]{1,8})+)?)$"
);
pub const BCP47_MAX_CHARS: usize = 35;

/// A hyphenated UUID (`Uuid::parse_str` reads other forms too; this one is what orgd writes).
pub const UUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// Base64 (padded) of a PNG, JPEG or GIF by the magic bytes [`super::avatar::sniff`] reads,
/// or empty. WebP is accepted too but has no prefix a regular expression can state simply.
pub const IMAGE_BASE64_PATTERN: &str = concat!(
    r"^(?:(?:iVBORw0KGg[o-r][A-Za-z0-9+/]|/9j/|R0lGOD[dl]h)",
    // The last symbol before padding carries no stray bits (the decoder refuses those).
    r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?)?$"
);

/// Every name [`is_iana_timezone`] accepts.
pub fn iana_timezone_names() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())
}

/// Every code [`is_country_code`] accepts.
pub fn country_codes() -> impl Iterator<Item = &'static str> {
    ISO_3166_ALPHA2.split(' ')
}

use super::{availability, guest, organization, owner, partner_directory, presence, quick_action};

pub static FIELD_RULES: &[(&str, FieldRule)] = &[
    // The change log's type filters (events::log::check_types), on ListEvents and WatchEvents
    // of both surfaces: only the types orgd writes.
    (
        "*.types",
        FieldRule::format(Format::OneOf(super::events::types::ALL)),
    ),
    // MyCreditApp's scope headers, on every request that has them.
    (
        "*.requester_organization_id",
        FieldRule::format(Format::Uuid).required(),
    ),
    (
        "*.target_organization_id",
        FieldRule::format(Format::Uuid).required(),
    ),
    // GroupAlarm organizations (organization::OrganizationInput::validate).
    (
        "orgd.v1.Organization.name",
        FieldRule::name(NAME_MAX_CHARS).required(),
    ),
    (
        "orgd.v1.Organization.description",
        FieldRule::text(DESCRIPTION_MAX_CHARS),
    ),
    (
        "orgd.v1.Organization.language",
        FieldRule::format(Format::Bcp47OrEmpty),
    ),
    (
        "orgd.v1.Organization.timezone",
        FieldRule::format(Format::IanaTimezoneOrEmpty),
    ),
    (
        "orgd.v1.Organization.data_retention_period",
        FieldRule::at_least(0.0),
    ),
    (
        "orgd.v1.Organization.tags",
        FieldRule::text(TAG_MAX_CHARS).max_items(TAGS_MAX),
    ),
    (
        "orgd.v1.CreateOrganizationRequest.organization",
        FieldRule::ANY.required(),
    ),
    (
        "orgd.v1.UpdateOrganizationRequest.organization",
        FieldRule::ANY.required(),
    ),
    (
        "orgd.v1.SetAvatarRequest.avatar",
        FieldRule::format(Format::ImageOrEmpty),
    ),
    (
        "orgd.v1.UpsertOrganizationLocationRequest.location",
        FieldRule::ANY.required(),
    ),
    (
        "orgd.v1.OrganizationLocation.address",
        FieldRule::text(NAME_MAX_CHARS),
    ),
    (
        "orgd.v1.OrganizationLocation.latitude",
        FieldRule::range(-90.0, 90.0),
    ),
    (
        "orgd.v1.OrganizationLocation.longitude",
        FieldRule::range(-180.0, 180.0),
    ),
    (
        "orgd.v1.InviteOwnerRequest.email",
        FieldRule::format(Format::Email).required(),
    ),
    (
        "orgd.v1.SetOrganizationQuickActionsRequest.quick_actions",
        FieldRule::ANY.max_items(quick_action::MAX_ACTIONS),
    ),
    (
        "orgd.v1.QuickAction.name",
        FieldRule::name(NAME_MAX_CHARS).required(),
    ),
    (
        "orgd.v1.QuickAction.color",
        FieldRule::text(quick_action::COLOR_MAX_CHARS),
    ),
    (
        "orgd.v1.QuickAction.icon",
        FieldRule::text(quick_action::TEXT_MAX_CHARS),
    ),
    (
        "orgd.v1.QuickAction.resource",
        FieldRule::text(quick_action::TEXT_MAX_CHARS),
    ),
    // Pages.
    (
        "orgd.v1.GetChildOrganizationsRequest.limit",
        organization::CHILDREN_PAGE.limit_rule(),
    ),
    ("orgd.v1.GetChildOrganizationsRequest.offset", OFFSET),
    (
        "orgd.v1.GetPaginatedOrganizationsRequest.limit",
        organization::TOP_LEVEL_PAGE.limit_rule(),
    ),
    ("orgd.v1.GetPaginatedOrganizationsRequest.offset", OFFSET),
    (
        "orgd.v1.GetAvailabilityHistoryRequest.limit",
        availability::HISTORY_PAGE.limit_rule(),
    ),
    ("orgd.v1.GetAvailabilityHistoryRequest.offset", OFFSET),
    (
        "orgd.v1.ListOwnerInvitationsRequest.limit",
        owner::INVITATIONS_PAGE.limit_rule(),
    ),
    ("orgd.v1.ListOwnerInvitationsRequest.offset", OFFSET),
    // giosg v3's page-numbered lists (page_number), before the cursor lists' defaults.
    (
        "orgd.v1.ListNetworkOutgoingInvitationsRequest.page_size",
        FieldRule::range(1.0, super::page_number::INVITATIONS.max as f64),
    ),
    (
        "orgd.v1.ListNetworkIncomingInvitationsRequest.page_size",
        FieldRule::range(1.0, super::page_number::INVITATIONS.max as f64),
    ),
    (
        "orgd.v1.ListNetworkPartnershipsRequest.page_size",
        FieldRule::range(1.0, super::page_number::PARTNERSHIPS.max as f64),
    ),
    (
        "orgd.v1.ListNetworkOutgoingInvitationsRequest.ordering",
        FieldRule::format(Format::OneOf(super::invitation::ORDERINGS)),
    ),
    (
        "orgd.v1.ListNetworkIncomingInvitationsRequest.ordering",
        FieldRule::format(Format::OneOf(super::invitation::ORDERINGS)),
    ),
    (
        "orgd.v1.ListNetworkPartnershipsRequest.ordering",
        FieldRule::format(Format::OneOf(super::partnership::ORDERINGS)),
    ),
    (
        "orgd.v1.ListNetworkOutgoingInvitationsRequest.status",
        FieldRule::range(
            super::invitation::PENDING as f64,
            super::invitation::REJECTED as f64,
        ),
    ),
    (
        "orgd.v1.ListNetworkIncomingInvitationsRequest.status",
        FieldRule::range(
            super::invitation::PENDING as f64,
            super::invitation::REJECTED as f64,
        ),
    ),
    (
        "orgd.v1.NetworkInvitationInput.email",
        FieldRule::format(Format::Email).required(),
    ),
    (
        "orgd.v1.NetworkInvitationInput.message",
        FieldRule::text(DESCRIPTION_MAX_CHARS),
    ),
    (
        "orgd.v1.NetworkInvitationInput.partner_display_name",
        FieldRule::name(NAME_MAX_CHARS),
    ),
    (
        "orgd.v1.NetworkInvitationInput.partner_visible_to_everyone",
        FieldRule::ANY.required(),
    ),
    (
        "orgd.v1.NetworkInvitationInput.room_shares",
        FieldRule::ANY.max_items(super::invitation::MAX_SHARES),
    ),
    (
        "orgd.v1.NetworkInvitationInput.team_shares",
        FieldRule::ANY.max_items(super::invitation::MAX_SHARES),
    ),
    (
        "orgd.v1.NetworkAcceptance.display_name",
        FieldRule::name(NAME_MAX_CHARS),
    ),
    (
        "orgd.v1.NetworkAcceptance.visible_to_everyone",
        FieldRule::ANY.required(),
    ),
    (
        "orgd.v1.UpdateNetworkPartnershipRequest.display_name",
        FieldRule::name(NAME_MAX_CHARS),
    ),
    (
        "orgd.v1.UpdateNetworkPartnershipRequest.visible_to_everyone",
        FieldRule::ANY.required(),
    ),
    (
        "orgd.v1.PatchNetworkPartnershipRequest.display_name",
        FieldRule::name(NAME_MAX_CHARS),
    ),
    (
        "*.page_size",
        FieldRule::range(1.0, super::pagination::MAX_PAGE_SIZE as f64),
    ),
    (
        "*.ordering",
        FieldRule::format(Format::OneOf(super::pagination::ORDERINGS)),
    ),
    // Needed only when the caller belongs to several organizations, which a schema cannot
    // say: documented as required, which every caller may do (invitation::acting_organization).
    (
        "orgd.v1.CreateOutgoingInvitationRequest.organization_id",
        FieldRule::ANY.required(),
    ),
    (
        "orgd.v1.CreateNetworkInvitationRequest.organization_id",
        FieldRule::ANY.required(),
    ),
    // MyCreditApp partners, the published limits (partner_directory::PartnerInput::validate
    // reads them here; ListQuery::check).
    (
        "orgd.v1.PartnerInput.company_name",
        FieldRule::name(100).min_chars(1).required_on_create(),
    ),
    (
        "orgd.v1.PartnerInput.email",
        FieldRule::format(Format::Email)
            .min_chars(1)
            .max_chars(100)
            .required_on_create(),
    ),
    (
        "orgd.v1.PartnerInput.partner_type",
        FieldRule::ANY.required_on_create(),
    ),
    (
        "orgd.v1.PartnerInput.sales_amount",
        FieldRule::range(0.0, partner_directory::MAX_SALES_AMOUNT as f64),
    ),
    (
        "orgd.v1.PartnerInput.country_code",
        FieldRule::format(Format::CountryCode),
    ),
    ("orgd.v1.PartnerInput.frequency", FieldRule::length(1, 30)),
    (
        "orgd.v1.PartnerInput.payment_terms",
        FieldRule::length(1, 50),
    ),
    ("orgd.v1.PartnerInput.address", FieldRule::length(1, 500)),
    ("orgd.v1.PartnerInput.city", FieldRule::length(1, 100)),
    ("orgd.v1.PartnerInput.state", FieldRule::length(1, 100)),
    ("orgd.v1.PartnerInput.postal_code", FieldRule::length(1, 30)),
    (
        "orgd.v1.PartnerInput.company_registration_number",
        FieldRule::length(1, 255),
    ),
    (
        "orgd.v1.CreateOrganizationPartnerRequest.partner",
        FieldRule::ANY.required(),
    ),
    (
        "orgd.v1.ListOrganizationPartnersRequest.partner_types",
        FieldRule::ANY.required(),
    ),
    (
        "orgd.v1.ListOrganizationPartnersRequest.partner_ids",
        FieldRule::format(Format::Uuid),
    ),
    (
        "orgd.v1.ListOrganizationPartnersRequest.search_text",
        FieldRule::text(partner_directory::SEARCH_TEXT_MAX_CHARS).min_chars(1),
    ),
    (
        "orgd.v1.ListOrganizationPartnersRequest.limit",
        FieldRule::range(1.0, partner_directory::MAX_LIMIT as f64).required(),
    ),
    (
        "orgd.v1.ListOrganizationPartnersRequest.offset",
        OFFSET.required(),
    ),
    // MyCreditApp guest invitations and connections (guest::InvitationInput::check,
    // guest::update_guest, guest::PAGE).
    (
        "orgd.v1.CreateGuestInvitationRequest.invitation",
        FieldRule::ANY.required(),
    ),
    (
        "orgd.v1.GuestInvitationInput.email",
        FieldRule::format(Format::Email)
            .min_chars(1)
            .max_chars(EMAIL_MAX_CHARS)
            .required(),
    ),
    (
        "orgd.v1.GuestInvitationInput.expired_at",
        FieldRule::ANY.required(),
    ),
    (
        "orgd.v1.GuestInvitationInput.parent_organization_id",
        FieldRule::format(Format::Uuid),
    ),
    (
        "orgd.v1.UpdateGuestConnectionRequest.guest_org_id",
        FieldRule::format(Format::Uuid),
    ),
    (
        "orgd.v1.UpdateGuestConnectionRequest.connection",
        FieldRule::ANY.required(),
    ),
    (
        "orgd.v1.GuestConnectionInput.archived",
        FieldRule::ANY.required(),
    ),
    (
        "orgd.v1.ListGuestInvitationsRequest.limit",
        guest::PAGE.limit_rule(),
    ),
    ("orgd.v1.ListGuestInvitationsRequest.offset", OFFSET),
    (
        "orgd.v1.ListGuestConnectionsRequest.limit",
        guest::PAGE.limit_rule(),
    ),
    ("orgd.v1.ListGuestConnectionsRequest.offset", OFFSET),
    (
        "orgd.v1.ListHostConnectionsRequest.limit",
        guest::PAGE.limit_rule(),
    ),
    ("orgd.v1.ListHostConnectionsRequest.offset", OFFSET),
    // MyCreditApp OAuth2 (oauth::token), the published limits: client_credentials is the
    // only grant; empty means it.
    (
        "orgd.v1.CreateTokenRequest.client_id",
        FieldRule::length(1, 128).required(),
    ),
    (
        "orgd.v1.CreateTokenRequest.client_secret",
        FieldRule::length(1, 64).required(),
    ),
    (
        "orgd.v1.CreateTokenRequest.grant_type",
        FieldRule::format(Format::OneOf(&["", "client_credentials"])),
    ),
    // giosg (partnership::validate_display_name, invitation::create, presence::register).
    (
        "orgd.v1.UpdatePartnershipRequest.display_name",
        FieldRule::name(NAME_MAX_CHARS),
    ),
    (
        "orgd.v1.PatchPartnershipRequest.display_name",
        FieldRule::name(NAME_MAX_CHARS),
    ),
    (
        "orgd.v1.InvitationAcceptance.display_name",
        FieldRule::name(NAME_MAX_CHARS),
    ),
    (
        "orgd.v1.OutgoingInvitationInput.email",
        FieldRule::format(Format::Email).required(),
    ),
    (
        "orgd.v1.OutgoingInvitationInput.message",
        FieldRule::text(DESCRIPTION_MAX_CHARS),
    ),
    (
        "orgd.v1.OutgoingInvitationInput.partner_display_name",
        FieldRule::name(NAME_MAX_CHARS),
    ),
    (
        "orgd.v1.RegisterUserClientRequest.client_id",
        FieldRule::name(presence::CLIENT_ID_MAX_CHARS),
    ),
    (
        "orgd.v1.RegisterUserClientRequest.expires_in",
        FieldRule::range(1.0, presence::MAX_EXPIRES_IN as f64).required(),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use proptest::prelude::*;
    use proptest::string::string_regex;

    fn regex(pattern: &str) -> regex::Regex {
        regex::Regex::new(pattern).unwrap()
    }

    /// proptest generates from a pattern without its anchors (each is `^...$` whole).
    fn strings(pattern: &str) -> proptest::string::RegexGeneratorStrategy<String> {
        let inner = pattern.strip_prefix('^').and_then(|p| p.strip_suffix('$'));
        string_regex(inner.unwrap()).unwrap()
    }

    proptest! {
        /// What a pattern describes the check accepts: a client following the document is
        /// never refused (schemathesis' positive_data_acceptance, here for every string).
        #[test]
        fn what_each_pattern_describes_its_check_accepts(
            email in strings(EMAIL_PATTERN),
            tag in strings(BCP47_PATTERN),
            uuid in strings(UUID_PATTERN),
            image in strings(IMAGE_BASE64_PATTERN),
        ) {
            if email.chars().count() <= EMAIL_MAX_CHARS {
                // Checked as stored: trimmed and lowercased.
                prop_assert!(is_email(email.trim()), "{email:?}");
                prop_assert!(is_email(&email.trim().to_lowercase()), "{email:?}");
            }
            if tag.len() <= BCP47_MAX_CHARS {
                prop_assert!(is_bcp47(&tag), "{tag:?}");
            }
            prop_assert!(uuid::Uuid::parse_str(&uuid).is_ok(), "{uuid:?}");
            let bytes = base64::engine::general_purpose::STANDARD.decode(&image).unwrap();
            prop_assert!(image.is_empty() || super::super::avatar::sniff(&bytes).is_some());
        }

        /// And what a check accepts its pattern describes (else the document would hide
        /// values the server takes, and schemathesis' negative_data_rejection fails).
        #[test]
        fn bcp47_pattern_is_is_bcp47(
            parts in proptest::collection::vec("[a-zA-Z0-9]{1,9}|[xX]|[0-9]{3}|[a-zA-Z]{2,4}", 1..7)
        ) {
            let tag = parts.join("-");
            let by_pattern = regex(BCP47_PATTERN).is_match(&tag) && tag.len() <= BCP47_MAX_CHARS;
            prop_assert_eq!(by_pattern, is_bcp47(&tag), "{:?}", tag);
        }

        #[test]
        fn email_pattern_is_is_email(s in "[ab.@ \t\x07é]{0,10}") {
            prop_assert_eq!(regex(EMAIL_PATTERN).is_match(&s), is_email(&s), "{:?}", s);
        }
    }

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
