//! CEF (ArcSight Common Event Format, version 0) rendering of an exported
//! line (`crate::export_line`), for ArcSight-style collectors.
//!
//! One record is one line, without a trailing newline:
//!
//! ```text
//! CEF:0|Cairn|Cairn|<version>|<action>|<action> <outcome>|<severity>|rt=… externalId=… …
//! ```
//!
//! The header's class id is the action (`grant.created`), its name the
//! action and the outcome (`grant.created denied`), and its severity comes
//! from the outcome: `success` 3 (low), `failure` 6 (medium), `denied` 7
//! (high: a refusal by policy is what an analyst looks for first), anything
//! else 5.
//!
//! The extension uses keys of the ArcSight dictionary, in this order, each
//! written only when the line has a value for it (an empty value is left
//! out too, because several parsers, `pycef` among them, cannot read
//! `key=` followed by the next key):
//!
//! | key | value |
//! | --- | --- |
//! | `rt` | event time, milliseconds since the Unix epoch |
//! | `externalId` | event id |
//! | `cn1Label=seq` `cn1` | sequence number in the log |
//! | `act` | action |
//! | `outcome` | `success`, `denied` or `failure` |
//! | `suser` / `suid` | actor name / actor id |
//! | `flexString1Label=actor_type` `flexString1` | actor type (`user`, `schedule`, …) |
//! | `cs1Label=resource_type` `cs1` | resource type |
//! | `cs2Label=resource_id` `cs2` | resource id |
//! | `cs6Label=resource_name` `cs6` | resource name |
//! | `src` | client address, only when it parses as an IPv4 or IPv6 address |
//! | `requestClientApplication` | client user agent |
//! | `flexString2Label=request_id` `flexString2` | request id |
//! | `cs3Label=org` `cs3` | organization id |
//! | `cs4Label=hash` `cs4` | the record's hash |
//! | `cs5Label=prev_hash` `cs5` | the previous record's hash |
//! | `msg` | the details, as compact JSON |
//!
//! Keys are constants of this module; only values come from the line.
//!
//! Escaping follows the CEF specification: in the header `\` and `|` are
//! escaped with a backslash; in extension values `\` and `=` are, and CR and
//! LF become `\r` and `\n`. CEF has no escape for any other control
//! character (C0, DEL, C1: a raw ESC would reach an analyst's terminal, a
//! raw NEL or vertical tab splits the line for some readers), and header
//! fields have none even for CR and LF; so every such character, and the
//! Unicode line and paragraph separators, is replaced by U+FFFD. The record
//! is therefore always exactly one line, whatever a user name or a user
//! agent holds. Bidirectional controls and other invisible format
//! characters (`is_hidden_format`) are replaced by U+FFFD too, so a name
//! recorded before names refused them cannot show an analyst reordered or
//! hidden text.

use std::net::IpAddr;

use serde_json::Value;

use crate::time_format::parse_rfc3339_micros;

/// The device version of the header: the version of the crate that
/// rendered the record.
const DEVICE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Renders one exported line as one CEF:0 record: no CR or LF inside, no
/// trailing newline. Fields missing from the line are left out; the record
/// is always well formed.
pub fn cef_record(line: &Value) -> String {
    let action = text_at(line, "/action").unwrap_or("unknown");
    let outcome = text_at(line, "/outcome").unwrap_or("unknown");

    let mut record = String::from("CEF:0|Cairn|Cairn|");
    for field in [
        DEVICE_VERSION,
        action,
        &format!("{action} {outcome}"),
        &severity(outcome).to_string(),
    ] {
        push_header_field(&mut record, field);
        record.push('|');
    }

    let extension = extension_pairs(line);
    for (index, (key, value)) in extension.iter().enumerate() {
        if index > 0 {
            record.push(' ');
        }
        record.push_str(key);
        record.push('=');
        push_extension_value(&mut record, value);
    }
    record
}

/// The CEF severity (0-10) of an outcome.
fn severity(outcome: &str) -> u8 {
    match outcome {
        "success" => 3,
        "failure" => 6,
        "denied" => 7,
        _ => 5,
    }
}

/// The extension's key-value pairs, in the documented order, without the
/// ones the line has no (or an empty) value for.
fn extension_pairs(line: &Value) -> Vec<(&'static str, String)> {
    let mut pairs = Extension::default();

    let time_millis = text_at(line, "/time")
        .and_then(parse_rfc3339_micros)
        .map(|micros| micros.div_euclid(1000));
    pairs.add("rt", time_millis.map(|millis| millis.to_string()));
    pairs.add_text("externalId", line, "/id");
    pairs.add_labelled(
        ("cn1Label", "seq"),
        "cn1",
        line.get("seq")
            .and_then(Value::as_u64)
            .map(|seq| seq.to_string()),
    );
    pairs.add_text("act", line, "/action");
    pairs.add_text("outcome", line, "/outcome");
    pairs.add_text("suser", line, "/actor/name");
    pairs.add_text("suid", line, "/actor/id");
    pairs.add_labelled(
        ("flexString1Label", "actor_type"),
        "flexString1",
        text_at(line, "/actor/type").map(str::to_string),
    );
    pairs.add_labelled(
        ("cs1Label", "resource_type"),
        "cs1",
        text_at(line, "/resource/type").map(str::to_string),
    );
    pairs.add_labelled(
        ("cs2Label", "resource_id"),
        "cs2",
        text_at(line, "/resource/id").map(str::to_string),
    );
    pairs.add_labelled(
        ("cs6Label", "resource_name"),
        "cs6",
        text_at(line, "/resource/name").map(str::to_string),
    );
    // An address that does not parse is not an address: a collector would
    // reject the whole record over a malformed `src`.
    let address = text_at(line, "/origin/ip")
        .and_then(|ip| ip.parse::<IpAddr>().ok())
        .map(|ip| ip.to_string());
    pairs.add("src", address);
    pairs.add_text("requestClientApplication", line, "/origin/user_agent");
    pairs.add_labelled(
        ("flexString2Label", "request_id"),
        "flexString2",
        text_at(line, "/origin/request_id").map(str::to_string),
    );
    pairs.add_labelled(
        ("cs3Label", "org"),
        "cs3",
        text_at(line, "/org").map(str::to_string),
    );
    pairs.add_labelled(
        ("cs4Label", "hash"),
        "cs4",
        text_at(line, "/hash").map(str::to_string),
    );
    pairs.add_labelled(
        ("cs5Label", "prev_hash"),
        "cs5",
        text_at(line, "/prev_hash").map(str::to_string),
    );
    let details = line
        .get("details")
        .filter(|details| !details.is_null())
        .map(Value::to_string);
    pairs.add("msg", details);
    pairs.0
}

/// Extension pairs being collected.
#[derive(Default)]
struct Extension(Vec<(&'static str, String)>);

impl Extension {
    fn add(&mut self, key: &'static str, value: Option<String>) {
        if let Some(value) = value.filter(|value| !value.is_empty()) {
            self.0.push((key, value));
        }
    }

    fn add_text(&mut self, key: &'static str, line: &Value, pointer: &str) {
        self.add(key, text_at(line, pointer).map(str::to_string));
    }

    /// A custom field and its label, the label first as ArcSight writes
    /// them; neither when there is no value.
    fn add_labelled(
        &mut self,
        (label_key, label): (&'static str, &'static str),
        key: &'static str,
        value: Option<String>,
    ) {
        if let Some(value) = value.filter(|value| !value.is_empty()) {
            self.0.push((label_key, label.to_string()));
            self.0.push((key, value));
        }
    }
}

/// The string at a JSON pointer of the line, if it is a string.
fn text_at<'a>(line: &'a Value, pointer: &str) -> Option<&'a str> {
    line.pointer(pointer).and_then(Value::as_str)
}

/// Whether a character must never appear raw in a record: control
/// characters (C0, DEL, C1), the Unicode line and paragraph separators, and
/// the invisible characters of [`is_hidden_format`].
fn is_line_hazard(character: char) -> bool {
    character.is_control()
        || matches!(character, '\u{2028}' | '\u{2029}')
        || is_hidden_format(character)
}

/// Whether a character changes how the text around it reads without being
/// seen itself: bidirectional controls (U+202E shows `nimdA` as `Admin`),
/// zero-width and joining characters, invisible operators, the byte order
/// mark, interlinear annotation marks and tag characters. Names refuse
/// them since issue 15, but older records may still hold them, and an
/// analyst reading a CEF or syslog record must see what is there:
/// renderers replace them with U+FFFD, like control characters.
pub(crate) fn is_hidden_format(character: char) -> bool {
    matches!(
        character,
        '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

/// Appends a header field: `\` and `|` escaped, hazards replaced.
fn push_header_field(out: &mut String, field: &str) {
    for character in field.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            hazard if is_line_hazard(hazard) => out.push('\u{FFFD}'),
            other => out.push(other),
        }
    }
}

/// Appends an extension value: `\` and `=` escaped, CR and LF as `\r` and
/// `\n`, other hazards replaced.
fn push_extension_value(out: &mut String, value: &str) {
    for character in value.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            hazard if is_line_hazard(hazard) => out.push('\u{FFFD}'),
            other => out.push(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    /// A record split back into its parts by the strict reading of the CEF
    /// specification.
    #[derive(Debug)]
    struct Parsed {
        header: Vec<String>,
        extension: BTreeMap<String, String>,
    }

    /// A strict CEF:0 parser: exactly seven unescaped `|` end the header,
    /// whose only escapes are `\\` and `\|`; the extension is `key=value`
    /// pairs separated by one space, keys `[A-Za-z0-9_]+`, no raw `=` in a
    /// value, escapes `\\`, `\=`, `\n`, `\r` only; no control character
    /// anywhere; no duplicate key.
    fn parse_strict(record: &str) -> Result<Parsed, String> {
        if let Some(bad) = record.chars().find(|&c| is_line_hazard(c)) {
            return Err(format!("raw control character {bad:?}"));
        }
        let mut header = Vec::new();
        let mut field = String::new();
        let mut chars = record.char_indices();
        let mut rest_at = None;
        while let Some((_, character)) = chars.next() {
            match character {
                '\\' => match chars.next() {
                    Some((_, escaped @ ('\\' | '|'))) => field.push(escaped),
                    other => return Err(format!("bad header escape {other:?}")),
                },
                '|' => {
                    header.push(std::mem::take(&mut field));
                    if header.len() == 7 {
                        rest_at = chars.next().map(|(at, _)| at).or(Some(record.len()));
                        break;
                    }
                }
                other => field.push(other),
            }
        }
        let rest_at = rest_at.ok_or("fewer than 7 header separators")?;
        if header[0] != "CEF:0" {
            return Err(format!("not CEF:0: {:?}", header[0]));
        }
        let extension = parse_extension(&record[rest_at..])?;
        Ok(Parsed { header, extension })
    }

    /// The length of a `key=` at the start of `text` (key chars then an
    /// `=`), if there is one.
    fn key_at(text: &str) -> Option<usize> {
        let key_len = text
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        (key_len > 0 && text.as_bytes().get(key_len) == Some(&b'=')).then_some(key_len)
    }

    fn parse_extension(text: &str) -> Result<BTreeMap<String, String>, String> {
        let mut pairs = BTreeMap::new();
        let mut at = 0;
        while at < text.len() {
            let key_len = key_at(&text[at..]).ok_or_else(|| format!("no key at {at}"))?;
            let key = text[at..at + key_len].to_string();
            at += key_len + 1;
            let mut value = String::new();
            let mut chars = text[at..].char_indices();
            let mut end = text.len();
            while let Some((offset, character)) = chars.next() {
                match character {
                    '\\' => match chars.next() {
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '=')) => value.push('='),
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, 'r')) => value.push('\r'),
                        other => return Err(format!("bad extension escape {other:?}")),
                    },
                    '=' => return Err(format!("raw '=' in the value of {key}")),
                    ' ' if key_at(&text[at + offset + 1..]).is_some() => {
                        end = at + offset + 1;
                        break;
                    }
                    other => value.push(other),
                }
            }
            if pairs.insert(key.clone(), value).is_some() {
                return Err(format!("duplicate key {key}"));
            }
            at = end;
        }
        Ok(pairs)
    }

    fn line(actor_name: &str, resource_name: &str, user_agent: &str) -> Value {
        json!({
            "seq": 42,
            "id": "0190a5b0-0000-7000-8000-000000000001",
            "time": "2026-11-22T10:00:00.123456Z",
            "org": "0190a5b0-0000-7000-8000-0000000000aa",
            "actor": {"type": "user", "id": "0190a5b0-0000-7000-8000-0000000000bb", "name": actor_name},
            "action": "grant.created",
            "resource": {"type": "flow", "id": "0190a5b0-0000-7000-8000-0000000000cc", "name": resource_name},
            "outcome": "denied",
            "origin": {"ip": "203.0.113.7", "user_agent": user_agent, "request_id": "req-1"},
            "personal": [],
            "details": {"level": "use", "note": "a=b|c\\d\n"},
            "prev_hash": "00ff",
            "hash": "ab12",
            "chain": {"header": "AAAA", "payload": null},
        })
    }

    /// What a value reads as after rendering: hazards other than CR and LF
    /// have become U+FFFD.
    fn as_rendered(value: &str) -> String {
        value
            .chars()
            .map(|c| {
                if is_line_hazard(c) && c != '\r' && c != '\n' {
                    '\u{FFFD}'
                } else {
                    c
                }
            })
            .collect()
    }

    #[test]
    fn renders_the_documented_layout() {
        let record = cef_record(&line("alice", "etl", "curl/8.5"));
        let expected = format!(
            "CEF:0|Cairn|Cairn|{DEVICE_VERSION}|grant.created|grant.created denied|7|\
             rt=1795341600123 externalId=0190a5b0-0000-7000-8000-000000000001 \
             cn1Label=seq cn1=42 act=grant.created outcome=denied \
             suser=alice suid=0190a5b0-0000-7000-8000-0000000000bb \
             flexString1Label=actor_type flexString1=user \
             cs1Label=resource_type cs1=flow \
             cs2Label=resource_id cs2=0190a5b0-0000-7000-8000-0000000000cc \
             cs6Label=resource_name cs6=etl src=203.0.113.7 \
             requestClientApplication=curl/8.5 \
             flexString2Label=request_id flexString2=req-1 \
             cs3Label=org cs3=0190a5b0-0000-7000-8000-0000000000aa \
             cs4Label=hash cs4=ab12 cs5Label=prev_hash cs5=00ff \
             msg={{\"level\":\"use\",\"note\":\"a\\=b|c\\\\\\\\d\\\\n\"}}"
        );
        assert_eq!(record, expected);
    }

    #[test]
    fn injected_names_and_agents_stay_in_their_fields() {
        let hostile = [
            "eve\r\nCEF:0|Evil|Evil|1|x|y|10|suser=root",
            "\u{1b}[31mred\u{1b}[0m",
            "quote\"d 'name'",
            "key=value suid=forged",
            "pipe|pipe\\|",
            "back\\slash\\",
            "trailing space ",
            " leading",
            "tab\tnel\u{85}del\u{7f}nul\u{0}ls\u{2028}",
            "\\=\\\\= =",
        ];
        for actor_name in hostile {
            for user_agent in hostile {
                let record = cef_record(&line(actor_name, actor_name, user_agent));
                assert!(!record.contains(['\r', '\n']), "{record:?}");
                assert_eq!(record.lines().count(), 1, "{record:?}");
                let parsed = parse_strict(&record)
                    .unwrap_or_else(|error| panic!("strict parser rejected {record:?}: {error}"));
                assert_eq!(parsed.extension["suser"], as_rendered(actor_name));
                assert_eq!(parsed.extension["cs6"], as_rendered(actor_name));
                assert_eq!(
                    parsed.extension["requestClientApplication"],
                    as_rendered(user_agent)
                );
                assert_eq!(
                    parsed.extension["suid"],
                    "0190a5b0-0000-7000-8000-0000000000bb"
                );
                assert_eq!(parsed.extension["cn1"], "42");
                assert_eq!(parsed.extension["src"], "203.0.113.7");
                assert_eq!(parsed.extension.len(), 27, "{record:?}");
            }
        }
    }

    #[test]
    fn header_fields_are_escaped_and_never_break_the_line() {
        let mut hostile = line("alice", "etl", "ua");
        hostile["action"] = json!("x|y\\z\r\n\u{1b}");
        hostile["outcome"] = json!("odd");
        let record = cef_record(&hostile);
        let parsed = parse_strict(&record).expect("strict parse");
        assert_eq!(parsed.header[4], "x|y\\z\u{FFFD}\u{FFFD}\u{FFFD}");
        assert_eq!(parsed.header[5], "x|y\\z\u{FFFD}\u{FFFD}\u{FFFD} odd");
        assert_eq!(parsed.header[6], "5");
        assert_eq!(parsed.extension["act"], "x|y\\z\r\n\u{FFFD}");
    }

    #[test]
    fn severity_follows_the_outcome() {
        for (outcome, severity) in [("success", "3"), ("failure", "6"), ("denied", "7")] {
            let mut event = line("alice", "etl", "ua");
            event["outcome"] = json!(outcome);
            let parsed = parse_strict(&cef_record(&event)).expect("strict parse");
            assert_eq!(parsed.header[6], severity);
        }
    }

    #[test]
    fn leaves_out_what_is_missing_or_invalid() {
        let sparse = json!({
            "seq": 7,
            "id": "id-7",
            "time": "not a time",
            "org": null,
            "actor": {"type": "system", "id": null},
            "action": "system.started",
            "resource": {"type": "system", "id": null},
            "outcome": "success",
            "origin": {"ip": "not-an-ip", "user_agent": "", "request_id": null},
            "details": null,
        });
        let record = cef_record(&sparse);
        let parsed = parse_strict(&record).expect("strict parse");
        let keys: Vec<&str> = parsed.extension.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "act",
                "cn1",
                "cn1Label",
                "cs1",
                "cs1Label",
                "externalId",
                "flexString1",
                "flexString1Label",
                "outcome"
            ]
        );
        assert_eq!(
            parse_strict(&cef_record(&json!({}))).expect("empty").header[4],
            "unknown"
        );
    }

    #[test]
    fn ipv6_addresses_are_kept() {
        let mut event = line("alice", "etl", "ua");
        event["origin"]["ip"] = json!("2001:db8::1");
        let parsed = parse_strict(&cef_record(&event)).expect("strict parse");
        assert_eq!(parsed.extension["src"], "2001:db8::1");
    }

    /// Issue 15: a group named `Admins` with a right-to-left override (and
    /// other invisible characters) recorded before names refused them
    /// reached CEF raw, where a viewer shows reordered text.
    #[test]
    fn bidi_controls_and_invisible_characters_of_an_old_record_are_replaced() {
        let hidden = [
            '\u{202E}',
            '\u{2067}',
            '\u{200B}',
            '\u{200D}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{061C}',
            '\u{E0041}',
        ];
        let name: String = hidden.iter().map(|c| format!("Ad{c}mins")).collect();
        let mut event = line(&name, &name, &name);
        event["details"] = json!({ "name": name });
        event["origin"]["request_id"] = json!(name);
        let record = cef_record(&event);
        for character in hidden {
            assert!(
                !record.contains(character),
                "U+{:04X} reached {record:?}",
                u32::from(character)
            );
        }
        let parsed = parse_strict(&record).expect("strict parse");
        let shown = "Ad\u{FFFD}mins".repeat(hidden.len());
        assert_eq!(parsed.extension["suser"], shown);
        assert_eq!(parsed.extension["cs6"], shown);
        assert_eq!(parsed.extension["requestClientApplication"], shown);
        assert_eq!(parsed.extension["flexString2"], shown);
        let details: Value = serde_json::from_str(&parsed.extension["msg"]).expect("msg JSON");
        assert_eq!(details["name"], shown.as_str());
    }
}
