//! The escaping families a server may echo a value in (percent and form
//! encoding, JSON string escapes, HTML character references), each undone
//! in a view of the text that remembers where every decoded byte came
//! from, so a value found in the view is masked where it stood.

/// An escaping family undone in a view of the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Escaping {
    /// `%XX` (either case) and `+` for a space (form encoding).
    PercentForm,
    /// `%XX` only (a `+` stays a `+`).
    Percent,
    /// JSON string escapes: `\"`, `\n`, ..., `\uXXXX` (surrogate pairs
    /// joined).
    Json,
    /// HTML character references: `&#NN;`, `&#xHH;`, `&name;`.
    Html,
}

impl Escaping {
    pub(super) const ALL: [Escaping; 4] = [
        Escaping::PercentForm,
        Escaping::Percent,
        Escaping::Json,
        Escaping::Html,
    ];

    /// Whether the text can hold this escaping at all (else its view is
    /// the text itself, already searched).
    pub(super) fn may_occur_in(self, text: &[u8]) -> bool {
        match self {
            Escaping::PercentForm => text.contains(&b'%') || text.contains(&b'+'),
            Escaping::Percent => text.contains(&b'%') && text.contains(&b'+'),
            Escaping::Json => text.contains(&b'\\'),
            Escaping::Html => text.contains(&b'&'),
        }
    }
}

/// A view of a text with one escaping undone: each decoded byte and the
/// range of the text it came from.
pub(super) struct Decoded {
    /// The decoded bytes.
    pub(super) bytes: Vec<u8>,
    /// Where each came from in the text: start and end offsets.
    pub(super) origin: Vec<(u32, u32)>,
}

impl Decoded {
    /// The view of `text` with `escaping` undone.
    pub(super) fn of(text: &[u8], escaping: Escaping) -> Decoded {
        let mut decoded = Decoded {
            bytes: Vec::with_capacity(text.len()),
            origin: Vec::with_capacity(text.len()),
        };
        let mut at = 0;
        while at < text.len() {
            let token = match escaping {
                Escaping::PercentForm | Escaping::Percent => {
                    percent_token(text, at, escaping == Escaping::PercentForm)
                }
                Escaping::Json => json_token(text, at),
                Escaping::Html => html_token(text, at),
            };
            match token {
                Some((length, Token::Byte(byte))) => decoded.push(&[byte], at, at + length),
                Some((length, Token::Char(c))) => {
                    let mut buffer = [0u8; 4];
                    decoded.push(c.encode_utf8(&mut buffer).as_bytes(), at, at + length);
                }
                None => decoded.push(&text[at..=at], at, at + 1),
            }
            at = decoded
                .origin
                .last()
                .map_or(at + 1, |(_, end)| *end as usize);
        }
        decoded
    }

    fn push(&mut self, bytes: &[u8], start: usize, end: usize) {
        // Bodies are at most a few hundred KiB: offsets fit in u32.
        let range = (
            u32::try_from(start).unwrap_or(u32::MAX),
            u32::try_from(end).unwrap_or(u32::MAX),
        );
        for byte in bytes {
            self.bytes.push(*byte);
            self.origin.push(range);
        }
    }
}

/// What an escape sequence stands for.
enum Token {
    Byte(u8),
    Char(char),
}

fn hex_value(byte: u8) -> Option<u32> {
    (byte as char).to_digit(16)
}

fn percent_token(text: &[u8], at: usize, plus_is_space: bool) -> Option<(usize, Token)> {
    match text[at] {
        b'%' => {
            let high = hex_value(*text.get(at + 1)?)?;
            let low = hex_value(*text.get(at + 2)?)?;
            let byte = u8::try_from(high * 16 + low).ok()?;
            Some((3, Token::Byte(byte)))
        }
        b'+' if plus_is_space => Some((1, Token::Byte(b' '))),
        _ => None,
    }
}

fn hex4(text: &[u8], at: usize) -> Option<u32> {
    let digits = text.get(at..at + 4)?;
    digits
        .iter()
        .try_fold(0u32, |sum, byte| Some(sum * 16 + hex_value(*byte)?))
}

fn json_token(text: &[u8], at: usize) -> Option<(usize, Token)> {
    if text[at] != b'\\' {
        return None;
    }
    let short = match *text.get(at + 1)? {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => {
            let unit = hex4(text, at + 2)?;
            if (0xd800..0xdc00).contains(&unit) {
                // A high surrogate: joined with the low one that follows.
                if text.get(at + 6) != Some(&b'\\') || text.get(at + 7) != Some(&b'u') {
                    return None;
                }
                let low = hex4(text, at + 8)?;
                if !(0xdc00..0xe000).contains(&low) {
                    return None;
                }
                let scalar = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
                return Some((12, Token::Char(char::from_u32(scalar)?)));
            }
            return Some((6, Token::Char(char::from_u32(unit)?)));
        }
        _ => return None,
    };
    Some((2, Token::Char(short)))
}

/// The named references an encoder uses for ASCII punctuation and the
/// usual few others (HTML5 names).
pub(super) const HTML_NAMES: &[(&str, char)] = &[
    ("amp", '&'),
    ("AMP", '&'),
    ("lt", '<'),
    ("LT", '<'),
    ("gt", '>'),
    ("GT", '>'),
    ("quot", '"'),
    ("QUOT", '"'),
    ("apos", '\''),
    ("nbsp", '\u{a0}'),
    ("excl", '!'),
    ("num", '#'),
    ("dollar", '$'),
    ("percnt", '%'),
    ("lpar", '('),
    ("rpar", ')'),
    ("ast", '*'),
    ("plus", '+'),
    ("comma", ','),
    ("period", '.'),
    ("sol", '/'),
    ("colon", ':'),
    ("semi", ';'),
    ("equals", '='),
    ("quest", '?'),
    ("commat", '@'),
    ("lsqb", '['),
    ("lbrack", '['),
    ("bsol", '\\'),
    ("rsqb", ']'),
    ("rbrack", ']'),
    ("Hat", '^'),
    ("lowbar", '_'),
    ("grave", '`'),
    ("lcub", '{'),
    ("lbrace", '{'),
    ("verbar", '|'),
    ("vert", '|'),
    ("rcub", '}'),
    ("rbrace", '}'),
    ("Tab", '\t'),
    ("NewLine", '\n'),
];

/// The longest character reference read (`&#x0010FFFF;` and a little).
const MAX_HTML_REFERENCE: usize = 16;

fn html_token(text: &[u8], at: usize) -> Option<(usize, Token)> {
    if text[at] != b'&' {
        return None;
    }
    let window = &text[at + 1..text.len().min(at + MAX_HTML_REFERENCE)];
    let semicolon = window.iter().position(|byte| *byte == b';')?;
    let body = std::str::from_utf8(&window[..semicolon]).ok()?;
    let length = semicolon + 2;
    let c = if let Some(number) = body.strip_prefix('#') {
        let scalar = match number.strip_prefix(['x', 'X']) {
            Some(hex) if !hex.is_empty() => u32::from_str_radix(hex, 16).ok()?,
            Some(_) => return None,
            None if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) => {
                number.parse().ok()?
            }
            None => return None,
        };
        char::from_u32(scalar)?
    } else {
        HTML_NAMES
            .iter()
            .find(|(name, _)| *name == body)
            .map(|(_, c)| *c)?
    };
    Some((length, Token::Char(c)))
}
