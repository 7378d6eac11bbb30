//! Masking: every value a run resolved (a secret's plaintext, an allowed
//! environment variable) is replaced by `***` in whatever the run stores or
//! returns, also when it sits inside a larger string or a response body,
//! raw or JSON-escaped (a server that echoes a header back as JSON escapes
//! its quotes and backslashes).

use serde_json::Value;
use zeroize::Zeroizing;

/// What a masked value is replaced with.
pub const MASK: &str = "***";

/// The values to hide, longest first, so that a value containing another
/// is masked whole rather than leaving its remainder in clear. Held in
/// zeroizing buffers: they are plaintext secrets.
#[derive(Default)]
pub struct Masker {
    /// Each value and its JSON-escaped form (when it differs).
    needles: Vec<Zeroizing<String>>,
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "Masker({} values, ..redacted..)",
            self.needles.len()
        )
    }
}

impl Masker {
    /// A masker for nothing yet.
    pub fn new() -> Masker {
        Masker::default()
    }

    /// Adds a value to hide (an empty value hides nothing and is skipped).
    pub fn add(&mut self, value: &str) {
        if value.is_empty() {
            return;
        }
        let escaped = Zeroizing::new(json_escaped(value));
        for needle in [Zeroizing::new(value.to_string()), escaped] {
            if !self.needles.iter().any(|have| **have == *needle) {
                self.needles.push(needle);
            }
        }
        self.needles
            .sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    }

    /// The length of the longest value hidden (its escaped form included).
    pub fn longest(&self) -> usize {
        self.needles.first().map_or(0, |needle| needle.len())
    }

    /// `text` with every value replaced by `***`.
    pub fn mask(&self, text: &str) -> String {
        let mut masked = text.to_string();
        for needle in &self.needles {
            if masked.contains(needle.as_str()) {
                masked = masked.replace(needle.as_str(), MASK);
            }
        }
        masked
    }

    /// `value` with every string (object keys too) masked; a number or
    /// boolean whose text holds a value becomes the masked string.
    pub fn mask_json(&self, value: Value) -> Value {
        match value {
            Value::String(text) => Value::String(self.mask(&text)),
            Value::Array(items) => {
                Value::Array(items.into_iter().map(|item| self.mask_json(item)).collect())
            }
            Value::Object(members) => Value::Object(
                members
                    .into_iter()
                    .map(|(key, item)| (self.mask(&key), self.mask_json(item)))
                    .collect(),
            ),
            Value::Number(number) => {
                let text = number.to_string();
                let masked = self.mask(&text);
                if masked == text {
                    Value::Number(number)
                } else {
                    Value::String(masked)
                }
            }
            Value::Bool(flag) => {
                let text = flag.to_string();
                let masked = self.mask(&text);
                if masked == text {
                    Value::Bool(flag)
                } else {
                    Value::String(masked)
                }
            }
            Value::Null => Value::Null,
        }
    }
}

/// The value as it appears inside a JSON string (without the quotes).
fn json_escaped(value: &str) -> String {
    let quoted = serde_json::to_string(value).unwrap_or_default();
    quoted
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or_default()
        .to_string()
}

/// The longest prefix of `text` of at most `max` bytes that ends on a
/// character boundary.
pub fn truncate_utf8(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn masker(values: &[&str]) -> Masker {
        let mut masker = Masker::new();
        for value in values {
            masker.add(value);
        }
        masker
    }

    #[test]
    fn a_value_is_masked_inside_larger_strings() {
        let masker = masker(&["s3cr3t"]);
        assert_eq!(masker.mask("Bearer s3cr3t!"), "Bearer ***!");
        assert_eq!(masker.mask("s3cr3ts3cr3t"), "******");
        assert_eq!(masker.mask("nothing here"), "nothing here");
    }

    #[test]
    fn longer_values_are_masked_first() {
        // Masking "abc" first would leave "***def" with "abcdef" half shown,
        // whatever order the values came in.
        for values in [["abc", "abcdef"], ["abcdef", "abc"]] {
            assert_eq!(masker(&values).mask("x abcdef y abc"), "x *** y ***");
        }
    }

    #[test]
    fn the_json_escaped_form_is_masked_too() {
        let value = r#"pa"ss\word"#;
        let masker = masker(&[value]);
        let echoed = serde_json::to_string(&json!({"header": value})).expect("json");
        assert!(echoed.contains(r#"pa\"ss\\word"#));
        assert_eq!(masker.mask(&echoed), r#"{"header":"***"}"#);
        assert_eq!(masker.mask(value), MASK);
    }

    #[test]
    fn json_values_are_masked_everywhere() {
        let masker = masker(&["k3y", "4242"]);
        let body = json!({
            "headers": {"x-token": "Bearer k3y"},
            "k3y": ["k3y", 4242, 1],
            "n": 424242,
        });
        let masked = masker.mask_json(body);
        assert_eq!(
            masked,
            json!({
                "headers": {"x-token": "Bearer ***"},
                "***": ["***", "***", 1],
                "n": "***42",
            })
        );
    }

    #[test]
    fn empty_values_hide_nothing() {
        let masker = masker(&[""]);
        assert_eq!(masker.mask("text"), "text");
        assert_eq!(masker.longest(), 0);
    }

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncate_utf8("héllo", 2), "h");
        assert_eq!(truncate_utf8("héllo", 3), "hé");
        assert_eq!(truncate_utf8("hi", 10), "hi");
    }
}
