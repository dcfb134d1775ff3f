//! Property tests: the token parser and the token-file reader on hostile input.
//!
//! 256 cases per property by default (a few seconds); `PROPTEST_CASES=100000 cargo test -p
//! support --test prop_parse` is the longer run documented in the README.

use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use support::parse::{decode_text, is_jwt_shaped, read_token_file};
use support::parse_tokens;

/// 256 cases unless `PROPTEST_CASES` says otherwise; no regression files in the source tree.
fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 256;
    }
    config.failure_persistence = None;
    config.max_global_rejects = config.cases.max(1024);
    config
}

/// A JWT-shaped word: `eyJ…`.`ey…`.`…`, base64url parts, at least 24 characters.
fn token() -> impl Strategy<Value = String> {
    (
        "[A-Za-z0-9_-]{10,40}",
        "[A-Za-z0-9_-]{5,40}",
        "[A-Za-z0-9_-]{5,80}",
    )
        .prop_map(|(h, c, s)| format!("eyJ{h}.ey{c}.{s}"))
}

/// Words that are not tokens: plain words, host names, cut-off tokens, too-short JWTs,
/// wrong headers, four parts.
fn junk_word() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_-]{1,16}",
        "[a-z]{1,8}\\.[a-z]{1,8}\\.[a-z]{1,8}",
        token().prop_map(|t| t[..t.rfind('.').expect("three parts")].to_owned()),
        token().prop_map(|t| format!("{t}.more")),
        token().prop_map(|t| t.replacen("eyJ", "eyK", 1)),
        Just("eyJ.ey.x".to_owned()),
        Just("eyJhbGciOiJFZERTQSJ9.eyJ0.".to_owned()),
    ]
}

/// Runs of characters that separate words, as pasted text has them.
fn separator() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        " ",
        "  ",
        ", ",
        ",",
        ";",
        "\t",
        "\"",
        "\",\"",
        "'",
        " = ",
        "[",
        "](",
        " Bearer ",
        " Authorization: Bearer ",
        "|",
        "，",
        "、",
        " — ",
        "\u{3000}",
        "\u{fffd}",
        "\u{a0}",
        ": ",
        "{\"token\":\"",
        "\"}",
        "<",
        "/>",
    ])
    .prop_map(str::to_owned)
}

#[derive(Debug, Clone)]
enum Item {
    /// A token from the pool (so that tokens repeat), maybe ending a sentence (`token.`).
    Token(prop::sample::Index, bool),
    Junk(String),
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        (any::<prop::sample::Index>(), any::<bool>()).prop_map(|(i, dot)| Item::Token(i, dot)),
        junk_word().prop_map(Item::Junk),
    ]
}

type Line = (String, Vec<(Item, String)>);

fn line() -> impl Strategy<Value = Line> {
    (
        prop_oneof![Just(String::new()), separator()],
        prop::collection::vec((item(), separator()), 0..6),
    )
}

fn non_blank_lines(text: &str) -> usize {
    text.split('\n').filter(|l| !l.trim().is_empty()).count()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn never_panics_and_finds_only_tokens_in_the_text(
        text in prop_oneof![
            any::<String>(),
            "[A-Za-z0-9._\\- \n\r,;\"'=]{0,400}",
            prop::collection::vec(
                prop::sample::select(vec!["eyJ", "ey", ".", "..", "a", "Z9", "-_", " ", "\n",
                    "\r\n", "\u{feff}", "é", "\u{0}", "abcdefghijkl", ","]),
                0..80,
            ).prop_map(|parts| parts.concat()),
        ],
    ) {
        let parsed = parse_tokens(&text);
        let body = text.strip_prefix('\u{feff}').unwrap_or(&text);
        prop_assert_eq!(parsed.lines, non_blank_lines(body));
        prop_assert!(parsed.junk_lines <= parsed.lines);
        let mut seen = std::collections::HashSet::new();
        for token in &parsed.tokens {
            prop_assert!(is_jwt_shaped(token), "{token:?}");
            prop_assert!(text.contains(token.as_str()));
            prop_assert!(!token.starts_with('.') && !token.ends_with('.'));
            prop_assert!(seen.insert(token), "duplicate {token:?}");
        }
        // What was found reads back as itself, one token a line.
        let again = parse_tokens(&parsed.tokens.join("\n"));
        prop_assert_eq!(&again.tokens, &parsed.tokens);
        prop_assert_eq!((again.duplicates, again.junk_lines), (0, 0));
        prop_assert_eq!(again.lines, parsed.tokens.len());
    }

    #[test]
    fn finds_exactly_the_planted_tokens(
        pool in prop::collection::vec(token(), 1..8),
        lines in prop::collection::vec(line(), 0..12),
        crlf in any::<bool>(),
        bom in any::<bool>(),
    ) {
        let mut text = String::from(if bom { "\u{feff}" } else { "" });
        let mut expected: Vec<String> = Vec::new();
        let mut planted = 0;
        let mut junk_lines = 0;
        for (lead, items) in &lines {
            let mut line = lead.clone();
            let mut has_token = false;
            for (item, sep) in items {
                match item {
                    Item::Token(index, dot) => {
                        let token = index.get(&pool);
                        line.push_str(token);
                        if *dot {
                            line.push('.');
                        }
                        planted += 1;
                        has_token = true;
                        if !expected.contains(token) {
                            expected.push(token.clone());
                        }
                    }
                    Item::Junk(word) => line.push_str(word),
                }
                line.push_str(sep);
            }
            if !line.trim().is_empty() && !has_token {
                junk_lines += 1;
            }
            text.push_str(&line);
            text.push_str(if crlf { "\r\n" } else { "\n" });
        }
        let parsed = parse_tokens(&text);
        prop_assert_eq!(&parsed.tokens, &expected, "text: {:?}", text);
        prop_assert_eq!(parsed.duplicates, planted - expected.len());
        prop_assert_eq!(parsed.junk_lines, junk_lines);
        // A leading BOM is no line of its own.
        let body = text.strip_prefix('\u{feff}').unwrap_or(&text);
        prop_assert_eq!(parsed.lines, non_blank_lines(body));
        // Read from a file in any of the encodings a spreadsheet exports, the same tokens.
        for bytes in [utf8_bom(body), utf16(body, true), utf16(body, false)] {
            prop_assert_eq!(&parse_tokens(&decode_text(&bytes)).tokens, &expected);
        }
    }

    #[test]
    fn decode_text_round_trips_every_encoding(text in any::<String>()) {
        // A BOM is taken off once; a second one belongs to the text.
        let stripped = text.strip_prefix('\u{feff}').unwrap_or(&text);
        prop_assert_eq!(decode_text(text.as_bytes()), stripped);
        prop_assert_eq!(decode_text(&utf8_bom(&text)), text.as_str());
        prop_assert_eq!(decode_text(&utf16(&text, true)), text.as_str());
        prop_assert_eq!(decode_text(&utf16(&text, false)), text.as_str());
    }

    #[test]
    fn decode_text_never_panics_and_replaces_what_is_invalid(
        bytes in prop::collection::vec(any::<u8>(), 0..400),
        bom in prop::sample::select(vec![&[][..], &[0xFF, 0xFE][..], &[0xFE, 0xFF][..], &[0xEF, 0xBB, 0xBF][..]]),
    ) {
        let mut input = bom.to_vec();
        input.extend_from_slice(&bytes);
        let text = decode_text(&input);
        match bom {
            [0xFF, 0xFE] | [0xFE, 0xFF] => {
                // Every unit becomes one character (a pair of surrogates one for two), and an
                // odd last byte one U+FFFD: nothing vanishes.
                let units = bytes.len() / 2;
                let chars = text.chars().count();
                prop_assert!(chars <= units + bytes.len() % 2 && chars * 2 >= units,
                    "{} units gave {} chars", units, chars);
                if bytes.len() % 2 == 1 {
                    prop_assert!(text.ends_with(char::REPLACEMENT_CHARACTER));
                }
            }
            [0xEF, 0xBB, 0xBF] => prop_assert_eq!(text, String::from_utf8_lossy(&bytes)),
            _ => {
                prop_assume!(!input.starts_with(&[0xFF, 0xFE]) && !input.starts_with(&[0xFE, 0xFF])
                    && !input.starts_with(&[0xEF, 0xBB, 0xBF]));
                prop_assert_eq!(text, String::from_utf8_lossy(&input));
            }
        }
    }

    #[test]
    fn token_file_reads_as_decoded_text(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tokens.csv");
        std::fs::write(&path, &bytes).expect("write");
        prop_assert_eq!(read_token_file(&path).expect("reads"), decode_text(&bytes));
    }
}

fn utf8_bom(text: &str) -> Vec<u8> {
    let mut bytes = vec![0xEF, 0xBB, 0xBF];
    bytes.extend_from_slice(text.as_bytes());
    bytes
}

fn utf16(text: &str, little_endian: bool) -> Vec<u8> {
    let mut bytes = if little_endian {
        vec![0xFF, 0xFE]
    } else {
        vec![0xFE, 0xFF]
    };
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&if little_endian {
            unit.to_le_bytes()
        } else {
            unit.to_be_bytes()
        });
    }
    bytes
}
