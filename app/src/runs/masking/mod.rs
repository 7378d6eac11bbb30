//! Masking: every value a run resolved (a secret's plaintext, an allowed
//! environment variable) is replaced by `***` in whatever the run stores or
//! returns, also when it sits inside a larger string or a response body,
//! and also when it comes back encoded: a server may echo a value
//! percent-encoded (upper or lower hex, `+` for a space), JSON-escaped
//! (short escapes or `\uXXXX` for every character), as HTML entities
//! (named, decimal, hex), in hex (either case), or in base64 (standard or
//! URL-safe, padded or not, alone or inside a longer base64 string at any
//! of the three byte alignments, whose stable inner characters are masked).
//!
//! Each escaping family is undone in a view of the text that remembers
//! where each decoded byte came from, the values are searched for in the
//! view, and what they came from is masked; hex and base64 spellings are
//! searched for directly. Every search is linear in the text (KMP), so a
//! 256 KiB body costs a bounded few passes per value.

mod escapes;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::Value;
use zeroize::Zeroizing;

use escapes::{Decoded, Escaping, HTML_NAMES};

/// What a masked value is replaced with.
pub const MASK: &str = "***";

/// Base64 runs shorter than this are not masked inside longer base64
/// strings: a few characters would match unrelated text everywhere.
const MIN_INNER_BASE64: usize = 4;

/// The values to hide and their spellings, held in zeroizing buffers: they
/// are plaintext secrets.
#[derive(Default)]
pub struct Masker {
    /// Each value (once).
    values: Vec<Zeroizing<String>>,
    /// Its base64 spellings (matched exactly).
    base64: Vec<Zeroizing<String>>,
    /// Its hex spelling, in lower case (matched ignoring ASCII case).
    hex: Vec<Zeroizing<String>>,
    /// The longest canonical encoded form of any value, in bytes.
    longest: usize,
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "Masker({} values, ..redacted..)",
            self.values.len()
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
        if value.is_empty() || self.values.iter().any(|have| **have == *value) {
            return;
        }
        self.values.push(Zeroizing::new(value.to_string()));
        self.values
            .sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        // A value put in a URL's host comes back lowercased (the URL
        // parser lowercases hosts, and an egress refusal or a resolver's
        // error names the host as parsed): that spelling is hidden too.
        let lowercase = Zeroizing::new(value.to_lowercase());
        if *lowercase != value {
            self.add(&lowercase);
        }
        for spelling in base64_spellings(value.as_bytes()) {
            if !self.base64.contains(&spelling) {
                self.base64.push(spelling);
            }
        }
        self.hex.push(Zeroizing::new(hex::encode(value.as_bytes())));
        self.longest = self.longest.max(longest_encoding(value));
    }

    /// The length of the longest canonical form of a value hidden (raw,
    /// escaped or encoded): a body cut at a limit loses that many bytes, so
    /// no prefix of any form survives the cut.
    pub fn longest(&self) -> usize {
        self.longest
    }

    /// `text` with every value, in every form, replaced by `***`.
    pub fn mask(&self, text: &str) -> String {
        if self.values.is_empty() {
            return text.to_string();
        }
        let mut ranges = Vec::new();
        let bytes = text.as_bytes();
        for value in &self.values {
            for at in find_all(bytes, value.as_bytes()) {
                ranges.push((at, at + value.len()));
            }
        }
        for view in Escaping::ALL {
            if !view.may_occur_in(bytes) {
                continue;
            }
            let decoded = Decoded::of(bytes, view);
            for value in &self.values {
                for at in find_all(&decoded.bytes, value.as_bytes()) {
                    let (start, _) = decoded.origin[at];
                    let (_, end) = decoded.origin[at + value.len() - 1];
                    ranges.push((start as usize, end as usize));
                }
            }
        }
        for spelling in &self.base64 {
            for at in find_all(bytes, spelling.as_bytes()) {
                ranges.push((at, at + spelling.len()));
            }
        }
        if !self.hex.is_empty() {
            let lowered = text.to_ascii_lowercase();
            for spelling in &self.hex {
                for at in find_all(lowered.as_bytes(), spelling.as_bytes()) {
                    ranges.push((at, at + spelling.len()));
                }
            }
        }
        replace_ranges(text, ranges)
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

/// `text` with each of `ranges` (overlapping ones merged; adjacent ones
/// kept apart) replaced by [`MASK`]. Ranges are widened to character
/// boundaries.
fn replace_ranges(text: &str, mut ranges: Vec<(usize, usize)>) -> String {
    if ranges.is_empty() {
        return text.to_string();
    }
    ranges.sort_unstable();
    let mut masked = String::with_capacity(text.len());
    let mut copied = 0;
    let mut index = 0;
    while index < ranges.len() {
        let (mut start, mut end) = ranges[index];
        index += 1;
        while index < ranges.len() && ranges[index].0 < end {
            end = end.max(ranges[index].1);
            index += 1;
        }
        start = start.max(copied);
        while start > 0 && !text.is_char_boundary(start) {
            start -= 1;
        }
        end = end.min(text.len());
        while end < text.len() && !text.is_char_boundary(end) {
            end += 1;
        }
        if start < copied || end <= start {
            continue;
        }
        masked.push_str(&text[copied..start]);
        masked.push_str(MASK);
        copied = end;
    }
    masked.push_str(&text[copied..]);
    masked
}

/// Every position where `needle` starts in `haystack`, overlapping ones
/// included (Knuth-Morris-Pratt: linear in both).
fn find_all(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    let mut found = Vec::new();
    if needle.is_empty() || needle.len() > haystack.len() {
        return found;
    }
    let mut failure = vec![0usize; needle.len()];
    let mut matched = 0;
    for index in 1..needle.len() {
        while matched > 0 && needle[index] != needle[matched] {
            matched = failure[matched - 1];
        }
        if needle[index] == needle[matched] {
            matched += 1;
        }
        failure[index] = matched;
    }
    matched = 0;
    for (index, byte) in haystack.iter().enumerate() {
        while matched > 0 && *byte != needle[matched] {
            matched = failure[matched - 1];
        }
        if *byte == needle[matched] {
            matched += 1;
        }
        if matched == needle.len() {
            found.push(index + 1 - needle.len());
            matched = failure[matched - 1];
        }
    }
    found
}

/// The base64 spellings of `value`: whole (padded and not) and, for a
/// value inside a longer base64 string, the characters it alone decides at
/// each of the three byte alignments; in both alphabets.
fn base64_spellings(value: &[u8]) -> Vec<Zeroizing<String>> {
    let mut spellings: Vec<Zeroizing<String>> = Vec::new();
    let mut add = |spelling: Zeroizing<String>| {
        if !spelling.is_empty() && !spellings.contains(&spelling) {
            spellings.push(spelling);
        }
    };
    for engine in [&STANDARD, &URL_SAFE] {
        add(Zeroizing::new(engine.encode(value)));
    }
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        add(Zeroizing::new(engine.encode(value)));
        for alignment in 0..3usize {
            let mut shifted = Zeroizing::new(vec![0u8; alignment]);
            shifted.extend_from_slice(value);
            let encoded = Zeroizing::new(engine.encode(&*shifted));
            // Character i carries bits 6i..6i+6 of the bytes: it depends
            // on the value alone when those bits all fall inside it.
            let first = (8 * alignment).div_ceil(6);
            let last = (8 * (alignment + value.len())) / 6;
            if last >= first + MIN_INNER_BASE64
                && let Some(inner) = encoded.get(first..last)
            {
                add(Zeroizing::new(inner.to_string()));
            }
        }
    }
    spellings
}

/// The length of the longest canonical encoded form of `value` (raw, JSON,
/// `\u` for everything, percent, HTML entities, hex, base64).
fn longest_encoding(value: &str) -> usize {
    let per_character: usize = value
        .chars()
        .map(|c| {
            let bytes = c.len_utf8();
            let json_unicode = 6 * c.len_utf16();
            let percent = 3 * bytes;
            let decimal = format!("&#{};", u32::from(c)).len();
            let hex = format!("&#x{:x};", u32::from(c)).len();
            let named = HTML_NAMES
                .iter()
                .filter(|(_, named)| *named == c)
                .map(|(name, _)| name.len() + 2)
                .max()
                .unwrap_or(0);
            [bytes, json_unicode, percent, decimal, hex, named]
                .into_iter()
                .max()
                .unwrap_or(bytes)
        })
        .sum();
    let base64 = 4 * (value.len() + 2).div_ceil(3) + 4;
    per_character.max(2 * value.len()).max(base64)
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
                // 4242 occurs twice in 424242, overlapping: all of it goes.
                "n": "***",
            })
        );
    }

    /// A value with every kind of character an encoding treats apart:
    /// space, `+`, `/`, `&`, `<`, quotes, `%`, `=`, 2-, 3- and 4-byte UTF-8.
    const AWKWARD: &str = "s3cr3t T\u{f6}k\u{20ac}n/+&<\"'=?%\u{1f600}~_.-*";

    fn percent(value: &str, literal: impl Fn(u8) -> bool, upper: bool, plus: bool) -> String {
        value
            .bytes()
            .map(|byte| {
                if plus && byte == b' ' {
                    "+".to_string()
                } else if literal(byte) {
                    (byte as char).to_string()
                } else if upper {
                    format!("%{byte:02X}")
                } else {
                    format!("%{byte:02x}")
                }
            })
            .collect()
    }

    fn json_unicode(value: &str, upper: bool) -> String {
        value
            .encode_utf16()
            .map(|unit| {
                if upper {
                    format!("\\u{unit:04X}")
                } else {
                    format!("\\u{unit:04x}")
                }
            })
            .collect()
    }

    fn html(value: &str, each: impl Fn(char) -> String) -> String {
        value.chars().map(each).collect()
    }

    /// Every encoded form the masker must catch, named.
    fn encodings(value: &str) -> Vec<(String, String)> {
        let unreserved = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
        let form = |b: u8| b.is_ascii_alphanumeric() || b"*-._".contains(&b);
        let named = |c: char| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '"' => "&quot;".into(),
            '\'' => "&apos;".into(),
            '/' => "&sol;".into(),
            '+' => "&plus;".into(),
            other => other.to_string(),
        };
        let json = serde_json::to_string(value).expect("json");
        let mut forms = vec![
            ("raw".to_string(), value.to_string()),
            ("json".into(), json[1..json.len() - 1].to_string()),
            ("json \\u lower".into(), json_unicode(value, false)),
            ("json \\u upper".into(), json_unicode(value, true)),
            (
                "percent every byte, upper".into(),
                percent(value, |_| false, true, false),
            ),
            (
                "percent every byte, lower".into(),
                percent(value, |_| false, false, false),
            ),
            (
                "percent rfc 3986, lower".into(),
                percent(value, unreserved, false, false),
            ),
            (
                "percent rfc 3986, upper".into(),
                percent(value, unreserved, true, false),
            ),
            ("form-urlencoded".into(), percent(value, form, true, true)),
            ("html named".into(), html(value, named)),
            (
                "html decimal".into(),
                html(value, |c| format!("&#{};", u32::from(c))),
            ),
            (
                "html hex lower".into(),
                html(value, |c| format!("&#x{:x};", u32::from(c))),
            ),
            (
                "html hex upper".into(),
                html(value, |c| format!("&#X{:X};", u32::from(c))),
            ),
            ("hex lower".into(), hex::encode(value)),
            ("hex upper".into(), hex::encode_upper(value)),
        ];
        for (name, engine) in [
            ("base64", &STANDARD),
            ("base64 no pad", &STANDARD_NO_PAD),
            ("base64url", &URL_SAFE),
            ("base64url no pad", &URL_SAFE_NO_PAD),
        ] {
            forms.push((name.to_string(), engine.encode(value)));
        }
        forms
    }

    #[test]
    fn given_a_value_when_it_comes_back_in_any_encoding_then_it_is_masked_whole() {
        let masker = masker(&[AWKWARD]);
        for (name, form) in encodings(AWKWARD) {
            let text = format!("before {form} after");
            let masked = masker.mask(&text);
            assert_eq!(masked, "before *** after", "{name}: {form}");
        }
    }

    #[test]
    fn given_a_value_inside_a_longer_base64_string_when_masked_then_only_borders_remain() {
        let masker = masker(&[AWKWARD]);
        for prefix in ["", "x", "xy"] {
            for suffix in ["", "z", "zw"] {
                let embedded = format!("{prefix}{AWKWARD}{suffix}");
                for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
                    let encoded = engine.encode(&embedded);
                    let masked = masker.mask(&format!("<{encoded}>"));
                    // Left of the encoded text: at most the 3 characters
                    // that carry bits of the 2 bytes before the value, and
                    // the 4 that carry bits of the 2 after it (and the
                    // padding).
                    let (before, after) = masked
                        .split_once(MASK)
                        .unwrap_or_else(|| panic!("{prefix}|{suffix}: {masked}"));
                    let after = after.trim_end_matches('>').trim_end_matches('=');
                    assert!(
                        before.len() <= 1 + 3 && after.len() <= 4 && !after.contains(MASK),
                        "{prefix}|{suffix}: {encoded} -> {masked}"
                    );
                }
            }
        }
    }

    #[test]
    fn given_a_body_cut_inside_any_encoded_form_then_no_prefix_of_it_survives() {
        let masker = masker(&[AWKWARD]);
        for (name, form) in encodings(AWKWARD) {
            for cut_at in [1, form.len() / 2, form.len() - 1] {
                let mut body = "x".repeat(4096).into_bytes();
                body.extend_from_slice(&form.as_bytes()[..cut_at]);
                let rendered = super::super::steps::render_body_for_tests(&body, true, &masker);
                let text = rendered.as_str().expect("text");
                assert!(text.len() > 4096 - masker.longest(), "{name}: {text}");
                assert!(
                    text.chars().all(|c| c == 'x'),
                    "{name} cut at {cut_at}: {text}"
                );
            }
        }
    }

    #[test]
    fn masking_a_large_body_stays_linear() {
        // A body of 256 KiB that almost matches a long value everywhere.
        let value = "a".repeat(16 * 1024 - 1) + "b";
        let masker = masker(&[&value]);
        let body = "a%61&#97;\\u0061".repeat(256 * 1024 / 16);
        let started = std::time::Instant::now();
        let masked = masker.mask(&body);
        assert_eq!(masked, body);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn escapes_that_do_not_decode_stay_as_they_are() {
        let masker = masker(&["k3y"]);
        for text in [
            "%zz k3",
            "&bogus; k",
            "\\ud800 k",
            "&#xZZ; &#; &#x;",
            "100%",
        ] {
            assert_eq!(masker.mask(text), text);
        }
        assert_eq!(masker.mask("%6B3y and &#107;3y"), "*** and ***");
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

    #[test]
    fn given_a_mixed_case_value_when_it_comes_back_as_a_lowercased_host_then_it_is_masked() {
        let mut masker = Masker::new();
        masker.add("MiXeD-Canary-42");
        let refusal = "egress refused: mixed-canary-42.example resolves to no address";
        let masked = masker.mask(refusal);
        assert!(
            !masked.to_lowercase().contains("mixed-canary-42"),
            "{masked}"
        );
        assert_eq!(masked, "egress refused: ***.example resolves to no address");
        assert_eq!(masker.mask("MiXeD-Canary-42"), "***");
    }
}
