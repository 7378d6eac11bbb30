//! Syslog messages for the audit stream: RFC 5424 messages whose MSG is the
//! OCSF JSON of an event, framed by octet counting (RFC 6587 section 3.4.1)
//! for TCP and TLS (RFC 5425) receivers.
//!
//! One message:
//!
//! ```text
//! <PRI>1 TIMESTAMP HOSTNAME cairn PROCID MSGID [cairn@32473 seq="42" id="…"] BOM MSG
//! ```
//!
//! - PRI is facility 13 ("log audit") × 8 plus a severity from the
//!   outcome: `success` 6 (informational: most of the stream is ordinary
//!   activity, `http.request` included), `denied` 4 (warning), `failure` 3
//!   (error), anything else 5 (notice). So 110, 108, 107 or 109.
//! - TIMESTAMP is the event's own time, not the time of sending, so a
//!   message resent after an outage still says when the event happened; it
//!   keeps the six fractional digits RFC 5424 allows. A time that does not
//!   parse becomes the NILVALUE `-`.
//! - HOSTNAME is the given host name restricted to PRINTUSASCII (any other
//!   character becomes `_`), at most 255 characters, `-` when empty.
//! - APP-NAME is `cairn`; PROCID the given process id; MSGID the action
//!   (`grant.created`), restricted like the host name to 32 characters.
//! - STRUCTURED-DATA is one element, `cairn@32473` (32473 is the private
//!   enterprise number RFC 5612 reserves for documentation), with the
//!   event's `seq` and `id`: a receiver de-duplicates on them, because a
//!   sink delivers at least once. PARAM-VALUEs escape `"`, `\` and `]`.
//! - MSG is the UTF-8 byte order mark then the given text. RFC 5424 makes
//!   the BOM the way to say "this MSG is UTF-8" (without it the encoding is
//!   unknown), and the OCSF JSON carries names that are not ASCII; the
//!   strict parser the tests use (`syslog-rfc5424-parser`) accepts it, and
//!   rsyslog passes it through. A JSON reader downstream must skip it.
//!
//! Whatever the line and the text hold, a message is one line: CR, LF, TAB
//! and NUL in MSG become spaces (outside JSON strings they are whitespace,
//! inside them serde_json never writes them raw), and every other control
//! character (C0, DEL, C1), the Unicode line and paragraph separators, and
//! the bidirectional controls and other invisible format characters of an
//! older record's names become U+FFFD, in MSG and in PARAM-VALUEs (the BOM
//! that starts MSG is the only one written).

use serde_json::Value;

use crate::time_format::{parse_rfc3339_micros, rfc3339_micros};

/// Facility 13, "log audit" (RFC 5424 table 1).
const FACILITY_LOG_AUDIT: u8 = 13;

/// The APP-NAME of every message.
const APP_NAME: &str = "cairn";

/// The SD-ID of the element that carries the event's seq and id.
const SD_ID: &str = "cairn@32473";

/// The UTF-8 byte order mark that starts a MSG known to be UTF-8.
const BOM: char = '\u{FEFF}';

/// Renders one exported line as one RFC 5424 message (without framing)
/// whose MSG is `msg`, normally the OCSF JSON of the event.
pub fn syslog_message(line: &Value, msg: &str, hostname: &str, procid: u32) -> String {
    let outcome = line.get("outcome").and_then(Value::as_str).unwrap_or("");
    let pri = FACILITY_LOG_AUDIT * 8 + severity(outcome);
    let timestamp = line
        .get("time")
        .and_then(Value::as_str)
        .and_then(parse_rfc3339_micros)
        .map_or_else(|| "-".to_string(), rfc3339_micros);
    let action = line.get("action").and_then(Value::as_str).unwrap_or("");

    let mut message = format!(
        "<{pri}>1 {timestamp} {} {APP_NAME} {procid} {} ",
        header_field(hostname, 255),
        header_field(action, 32),
    );
    push_structured_data(&mut message, line);
    message.push(' ');
    message.push(BOM);
    for character in msg.chars() {
        match character {
            '\r' | '\n' | '\t' | '\0' => message.push(' '),
            hazard if is_line_hazard(hazard) => message.push('\u{FFFD}'),
            other => message.push(other),
        }
    }
    message
}

/// Appends one octet-counted frame (RFC 6587 section 3.4.1): the length of
/// `message` in octets, a space, then the message.
pub fn octet_counted(message: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(message.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(message.as_bytes());
}

/// The syslog severity of an outcome.
fn severity(outcome: &str) -> u8 {
    match outcome {
        "success" => 6,
        "denied" => 4,
        "failure" => 3,
        _ => 5,
    }
}

/// A header field restricted to PRINTUSASCII and `max` characters; the
/// NILVALUE `-` when nothing is left.
fn header_field(text: &str, max: usize) -> String {
    let field: String = text
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .take(max)
        .collect();
    if field.is_empty() { "-".into() } else { field }
}

/// Appends the STRUCTURED-DATA: the `cairn@32473` element with the seq and
/// id the line has, or the NILVALUE when it has neither.
fn push_structured_data(out: &mut String, line: &Value) {
    let seq = line
        .get("seq")
        .and_then(Value::as_u64)
        .map(|seq| seq.to_string());
    let id = line.get("id").and_then(Value::as_str).map(str::to_string);
    let params: Vec<(&str, String)> = [("seq", seq), ("id", id)]
        .into_iter()
        .filter_map(|(name, value)| value.map(|value| (name, value)))
        .collect();
    if params.is_empty() {
        out.push('-');
        return;
    }
    out.push('[');
    out.push_str(SD_ID);
    for (name, value) in params {
        out.push(' ');
        out.push_str(name);
        out.push_str("=\"");
        for character in value.chars() {
            match character {
                '"' | '\\' | ']' => {
                    out.push('\\');
                    out.push(character);
                }
                hazard if is_line_hazard(hazard) => out.push('\u{FFFD}'),
                other => out.push(other),
            }
        }
        out.push('"');
    }
    out.push(']');
}

/// Whether a character must never appear raw in a message: control
/// characters (C0, DEL, C1), the Unicode line and paragraph separators, and
/// the invisible format characters CEF refuses too (bidirectional controls,
/// zero-width characters, a byte order mark inside MSG, ...).
fn is_line_hazard(character: char) -> bool {
    character.is_control()
        || matches!(character, '\u{2028}' | '\u{2029}')
        || crate::cef::is_hidden_format(character)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A message split back into its parts by a strict reading of RFC 5424
    /// (the grammar of section 6, with SD-PARAM escapes decoded).
    #[derive(Debug, PartialEq)]
    struct Parsed {
        pri: u8,
        timestamp: String,
        hostname: String,
        app_name: String,
        procid: String,
        msgid: String,
        structured_data: Vec<(String, Vec<(String, String)>)>,
        msg: String,
    }

    fn token<'a>(rest: &mut &'a str, max: usize) -> Result<&'a str, String> {
        let (field, after) = rest.split_once(' ').ok_or("missing field")?;
        if field.is_empty() || field.len() > max || !field.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!("bad header field {field:?}"));
        }
        *rest = after;
        Ok(field)
    }

    fn sd_name(rest: &mut &str) -> Result<String, String> {
        let len = rest
            .bytes()
            .take_while(|b| b.is_ascii_graphic() && !matches!(b, b'=' | b']' | b'"'))
            .count();
        if len == 0 || len > 32 {
            return Err(format!("bad SD-NAME at {rest:?}"));
        }
        let name = rest[..len].to_string();
        *rest = &rest[len..];
        Ok(name)
    }

    fn parse_strict(message: &str) -> Result<Parsed, String> {
        if message.contains(['\r', '\n', '\0']) {
            return Err("line break or NUL inside".into());
        }
        let rest = message.strip_prefix('<').ok_or("no PRI")?;
        let (pri, mut rest) = rest.split_once('>').ok_or("no PRI end")?;
        let pri: u8 = pri.parse().map_err(|_| "bad PRI")?;
        if pri > 191 {
            return Err("PRI out of range".into());
        }
        rest = rest.strip_prefix("1 ").ok_or("not version 1")?;
        let timestamp = token(&mut rest, 32)?.to_string();
        if timestamp != "-" && parse_rfc3339_micros(&timestamp).is_none() {
            return Err(format!("bad timestamp {timestamp}"));
        }
        let hostname = token(&mut rest, 255)?.to_string();
        let app_name = token(&mut rest, 48)?.to_string();
        let procid = token(&mut rest, 128)?.to_string();
        let msgid = token(&mut rest, 32)?.to_string();
        let mut structured_data = Vec::new();
        if let Some(after) = rest.strip_prefix('-') {
            rest = after;
        } else {
            while let Some(after) = rest.strip_prefix('[') {
                rest = after;
                let id = sd_name(&mut rest)?;
                let mut params = Vec::new();
                while let Some(after) = rest.strip_prefix(' ') {
                    rest = after;
                    let name = sd_name(&mut rest)?;
                    rest = rest.strip_prefix("=\"").ok_or("no PARAM-VALUE")?;
                    let mut value = String::new();
                    let mut chars = rest.char_indices();
                    loop {
                        match chars.next().ok_or("unterminated PARAM-VALUE")? {
                            (_, '\\') => match chars.next().ok_or("dangling escape")? {
                                (_, escaped @ ('"' | '\\' | ']')) => value.push(escaped),
                                (_, other) => {
                                    value.push('\\');
                                    value.push(other);
                                }
                            },
                            (at, '"') => {
                                rest = &rest[at + 1..];
                                break;
                            }
                            (_, ']') => return Err("unescaped ] in PARAM-VALUE".into()),
                            (_, other) => value.push(other),
                        }
                    }
                    params.push((name, value));
                }
                rest = rest.strip_prefix(']').ok_or("no SD-ELEMENT end")?;
                structured_data.push((id, params));
            }
            if structured_data.is_empty() {
                return Err("no STRUCTURED-DATA".into());
            }
        }
        let msg = if rest.is_empty() {
            String::new()
        } else {
            rest.strip_prefix(' ')
                .ok_or("no space before MSG")?
                .to_string()
        };
        Ok(Parsed {
            pri,
            timestamp,
            hostname,
            app_name,
            procid,
            msgid,
            structured_data,
            msg,
        })
    }

    fn line(outcome: &str) -> Value {
        json!({
            "seq": 42,
            "id": "0190a5b0-0000-7000-8000-000000000001",
            "time": "2026-11-22T10:00:00.123456Z",
            "actor": {"type": "user", "id": null, "name": "alice"},
            "action": "grant.created",
            "resource": {"type": "flow", "id": null, "name": "etl"},
            "outcome": outcome,
            "origin": {"request_id": null},
        })
    }

    #[test]
    fn renders_the_documented_layout() {
        let message = syslog_message(&line("success"), "{\"time\":1}", "host-1", 4242);
        assert_eq!(
            message,
            "<110>1 2026-11-22T10:00:00.123456Z host-1 cairn 4242 grant.created \
             [cairn@32473 seq=\"42\" id=\"0190a5b0-0000-7000-8000-000000000001\"] \
             \u{FEFF}{\"time\":1}"
        );
        let parsed = parse_strict(&message).expect("strict parse");
        assert_eq!(parsed.msg, "\u{FEFF}{\"time\":1}");
        assert_eq!(parsed.app_name, "cairn");
    }

    #[test]
    fn pri_follows_the_outcome() {
        for (outcome, pri) in [
            ("success", 110),
            ("denied", 108),
            ("failure", 107),
            ("?", 109),
        ] {
            let message = syslog_message(&line(outcome), "{}", "h", 1);
            assert_eq!(parse_strict(&message).expect("strict parse").pri, pri);
        }
    }

    #[test]
    fn injection_in_every_field_stays_one_message() {
        let hostile = "a\r\nb\u{1b}[31m\"q\" k=v ] [x@1 y=\"z\"] \\ \u{85}\u{2028}\0\t";
        let mut event = line("denied");
        event["id"] = json!(hostile);
        event["action"] = json!(hostile);
        event["actor"]["name"] = json!(hostile);
        let msg = json!({"actor": {"name": hostile}}).to_string() + "\r\n" + hostile;
        let message = syslog_message(&event, &msg, hostile, 7);
        assert_eq!(message.lines().count(), 1, "{message:?}");
        // The BOM that starts MSG is the message's own, written once.
        assert_eq!(message.matches(BOM).count(), 1, "{message:?}");
        assert!(
            !message.replacen(BOM, "", 1).chars().any(is_line_hazard),
            "{message:?}"
        );

        let parsed = parse_strict(&message).expect("strict parse");
        assert_eq!(
            parsed.hostname,
            "a__b_[31m\"q\"_k=v_]_[x@1_y=\"z\"]_\\_____"
        );
        assert_eq!(parsed.msgid, "a__b_[31m\"q\"_k=v_]_[x@1_y=\"z\"]_\\");
        assert_eq!(parsed.procid, "7");
        assert_eq!(
            parsed.structured_data,
            [(
                "cairn@32473".to_string(),
                vec![
                    ("seq".to_string(), "42".to_string()),
                    (
                        "id".to_string(),
                        "a\u{FFFD}\u{FFFD}b\u{FFFD}[31m\"q\" k=v ] [x@1 y=\"z\"] \\ \
                         \u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}"
                            .to_string()
                    ),
                ]
            )]
        );
        let body = parsed.msg.strip_prefix('\u{FEFF}').expect("BOM");
        let (json_part, tail) = body.split_once("  ").expect("CRLF became two spaces");
        let reread: Value = serde_json::from_str(json_part).expect("MSG JSON");
        // serde_json leaves NEL and LINE SEPARATOR raw in strings.
        assert_eq!(
            reread["actor"]["name"],
            hostile.replace(['\u{85}', '\u{2028}'], "\u{FFFD}")
        );
        assert_eq!(
            tail,
            "a  b\u{FFFD}[31m\"q\" k=v ] [x@1 y=\"z\"] \\ \u{FFFD}\u{FFFD}  "
        );
    }

    #[test]
    fn missing_fields_become_nil_values() {
        let message = syslog_message(&json!({}), "", "", 0);
        assert_eq!(message, "<109>1 - - cairn 0 - - \u{FEFF}");
        parse_strict(&message).expect("strict parse");
        let mut event = line("success");
        event["time"] = json!("yesterday");
        let parsed = parse_strict(&syslog_message(&event, "{}", "h", 1)).expect("strict parse");
        assert_eq!(parsed.timestamp, "-");
    }

    #[test]
    fn long_fields_are_cut_to_their_limits() {
        let mut event = line("success");
        event["action"] = json!("a".repeat(40));
        let parsed =
            parse_strict(&syslog_message(&event, "{}", &"h".repeat(300), 1)).expect("strict parse");
        assert_eq!(parsed.msgid.len(), 32);
        assert_eq!(parsed.hostname.len(), 255);
    }

    #[test]
    fn octet_counting_counts_bytes() {
        let mut out = b"previous".to_vec();
        let message = syslog_message(&line("success"), "{\"name\":\"Zoë 名前\"}", "h", 1);
        octet_counted(&message, &mut out);
        let frame = &out[b"previous".len()..];
        let (length, rest) = std::str::from_utf8(frame)
            .expect("utf-8")
            .split_once(' ')
            .expect("length then space");
        assert_eq!(length.parse::<usize>().expect("length"), rest.len());
        assert_eq!(rest.len(), message.len());
        assert!(
            message.len() > message.chars().count(),
            "counted in octets, not chars"
        );
        assert_eq!(rest, message);
    }

    /// Issue 15: bidirectional controls and invisible characters of an
    /// older record's names never reach a syslog message raw, in MSG or in
    /// the structured data; the BOM that starts MSG is the only one.
    #[test]
    fn bidi_controls_and_invisible_characters_are_replaced() {
        let name = "Admins\u{202E}snimdA\u{200B}\u{2066}x\u{FEFF}";
        let mut event = line("success");
        event["id"] = json!(name);
        let msg = json!({"actor": {"name": name}}).to_string();
        let message = syslog_message(&event, &msg, "h", 1);
        for character in ['\u{202E}', '\u{200B}', '\u{2066}'] {
            assert!(!message.contains(character), "{message:?}");
        }
        assert_eq!(message.matches('\u{FEFF}').count(), 1, "{message:?}");
        let parsed = parse_strict(&message).expect("strict parse");
        let shown = "Admins\u{FFFD}snimdA\u{FFFD}\u{FFFD}x\u{FFFD}";
        assert_eq!(parsed.structured_data[0].1[1].1, shown);
        let body = parsed.msg.strip_prefix('\u{FEFF}').expect("BOM");
        let reread: Value = serde_json::from_str(body).expect("MSG JSON");
        assert_eq!(reread["actor"]["name"], shown);
    }
}
