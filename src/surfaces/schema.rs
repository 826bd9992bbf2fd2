//! The domain's field rules (`domain::validate`) as the OpenAPI document states them.

use orgd_transcode::{FieldSchema, Required};
use serde_json::{Value, json};

use crate::domain::validate::{self, FieldRule, Format};

/// Not only whitespace (and, when the codec refuses one, no NUL).
const NOT_BLANK_PATTERN: &str = r"\S";
const NOT_BLANK_NO_NUL_PATTERN: &str = r"^[^\x00]*[^\s\x00][^\x00]*$";

impl FieldSchema for FieldRule {
    fn required(&self) -> Required {
        match self.required {
            validate::Required::No => Required::No,
            validate::Required::Yes => Required::Yes,
            validate::Required::OnCreate => Required::OnCreate,
        }
    }

    fn max_items(&self) -> Option<usize> {
        self.max_items
    }

    fn apply(&self, schema: Value, nul_refused: bool) -> Value {
        apply_rule(schema, self, nul_refused)
    }
}

/// A field's rule on the schema of one of its values.
fn apply_rule(mut schema: Value, rule: &FieldRule, nul_refused: bool) -> Value {
    let integer = schema["type"] == "integer";
    let number = |x: f64| {
        if integer && x.fract() == 0.0 {
            json!(x as i64)
        } else {
            json!(x)
        }
    };
    if let Some(min) = rule.min {
        schema["minimum"] = number(min);
    }
    if let Some(max) = rule.max {
        schema["maximum"] = number(max);
    }
    if rule.not_blank {
        schema["pattern"] = json!(if nul_refused {
            NOT_BLANK_NO_NUL_PATTERN
        } else {
            NOT_BLANK_PATTERN
        });
    }
    if let Some(min) = rule.min_chars {
        schema["minLength"] = json!(min);
    }
    if let Some(max) = rule.max_chars {
        schema["maxLength"] = json!(max);
    }
    match rule.format {
        None => {}
        Some(Format::Email) => {
            schema["pattern"] = json!(validate::EMAIL_PATTERN);
            // The field's own bound where it is tighter (MyCreditApp's 100).
            let max = rule.max_chars.map_or(validate::EMAIL_MAX_CHARS, |m| {
                m.min(validate::EMAIL_MAX_CHARS)
            });
            schema["maxLength"] = json!(max);
        }
        Some(Format::Bcp47OrEmpty) => {
            schema["pattern"] = json!(format!("^$|{}", validate::BCP47_PATTERN));
            schema["maxLength"] = json!(validate::BCP47_MAX_CHARS);
        }
        Some(Format::Uuid) => {
            schema["pattern"] = json!(validate::UUID_PATTERN);
            schema["format"] = json!("uuid");
        }
        Some(Format::ImageOrEmpty) => {
            schema["pattern"] = json!(validate::IMAGE_BASE64_PATTERN);
        }
        Some(Format::IanaTimezoneOrEmpty) => {
            // A pattern, not an enum: names such as GMT0, GMT+0 and GMT-0 make the same
            // identifier in client generators, which then refuse the whole document.
            let names: Vec<String> = validate::iana_timezone_names()
                .map(|n| n.replace('+', "\\+").replace('.', "\\."))
                .collect();
            schema["pattern"] = json!(format!("^(?:|{})$", names.join("|")));
            schema["examples"] = json!(["Europe/Berlin", "UTC"]);
        }
        Some(Format::CountryCode) => {
            let codes: Vec<&str> = validate::country_codes().collect();
            schema = json!({"type": "string", "enum": codes});
        }
        Some(Format::OneOf(values)) => schema = json!({"type": "string", "enum": values}),
    }
    schema
}
