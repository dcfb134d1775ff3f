//! Finding tokens in what support staff paste: mixed separators, quotes, `Bearer `, CSV with a
//! header, a BOM and CRLF, junk lines, duplicates, and 10,000 tokens at once.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use support::parse::{decode_text, is_jwt_shaped};
use support::parse_tokens;

/// A JWT-shaped token (not signed by anyone): `n` makes it unique.
fn token(n: usize) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"EdDSA","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(
        format!(
            r#"{{"type":"Refresh","uid":{},"id":{n},"appCode":"Ab3dE6g8"}}"#,
            n % 97 + 1
        )
        .as_bytes(),
    );
    let signature = URL_SAFE_NO_PAD.encode(format!("signature-{n:08}-{}", "x".repeat(40)));
    format!("{header}.{claims}.{signature}")
}

fn tokens(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(token).collect()
}

#[test]
fn mixed_separators_quotes_and_bearer() {
    let t = tokens(0..9);
    let text = format!(
        "{}\n{} {}, {};{}\t{}\r\n\"{}\"  'Bearer {}'\nAuthorization: Bearer {}\n",
        t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8]
    );
    let parsed = parse_tokens(&text);
    assert_eq!(parsed.tokens, t);
    assert_eq!(parsed.duplicates, 0);
    assert_eq!(parsed.junk_lines, 0);
    assert_eq!(parsed.lines, 4);
}

#[test]
fn duplicates_are_merged_keeping_the_first_order() {
    let t = tokens(0..4);
    let text = format!(
        "{b}\n{a}\n\"{b}\"\nBearer {c}\n{a},{d},{c}\n",
        a = t[0],
        b = t[1],
        c = t[2],
        d = t[3]
    );
    let parsed = parse_tokens(&text);
    assert_eq!(
        parsed.tokens,
        vec![t[1].clone(), t[0].clone(), t[2].clone(), t[3].clone()]
    );
    assert_eq!(parsed.duplicates, 3);
}

#[test]
fn csv_with_header_bom_crlf_quotes_and_tokens_in_any_column() {
    let t = tokens(0..5);
    let csv = format!(
        "\u{feff}user,note,token,reported at\r\n\
         张伟,\"leaked in app log, rotated\",{},2025-03-01\r\n\
         李娜,ok,\"{}\",2025-03-02\r\n\
         \"{}\",token first,,2025-03-03\r\n\
         王芳,\"said \"\"Bearer {}\"\"\",,\r\n\
         ,,,\r\n\
         Alex,\"two: {}; again {}\",,\r\n",
        t[0], t[1], t[2], t[3], t[4], t[0]
    );
    let parsed = parse_tokens(&csv);
    assert_eq!(parsed.tokens, t);
    assert_eq!(parsed.duplicates, 1);
    // The header and the row of empty cells hold no token.
    assert_eq!(parsed.junk_lines, 2);
    assert_eq!(parsed.lines, 7);

    // The same file as bytes, as UTF-8 with a BOM and as UTF-16 (spreadsheet "Unicode text").
    assert_eq!(parse_tokens(&decode_text(csv.as_bytes())).tokens, t);
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in csv.trim_start_matches('\u{feff}').encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    assert_eq!(parse_tokens(&decode_text(&utf16)).tokens, t);
}

#[test]
fn junk_lines_are_counted_and_nothing_else_is_a_token() {
    let t = tokens(0..2);
    let truncated = &t[1][..t[1].rfind('.').unwrap()];
    let text = format!(
        "# tokens from the incident, 3 March\n\
         \n\
         hello world\n\
         {truncated}\n\
         https://v.ncuos.com/api/v1/app/token/refresh/?token=abc.def.ghi\n\
         eyJhbGciOi\n\
         {{\"refreshToken\":\"{}\",\"accessToken\":\"\"}}\n\
         www.example.com.cn\n\
         {}.\n\
         ;;;,,,\t\n",
        t[0], t[1]
    );
    let parsed = parse_tokens(&text);
    assert_eq!(parsed.tokens, t);
    assert_eq!(parsed.junk_lines, 7, "{parsed:?}");
    assert_eq!(parsed.lines, 9);
    assert!(!is_jwt_shaped(truncated));
    assert!(parse_tokens("").tokens.is_empty());
    assert!(parse_tokens("\u{feff}\r\n\r\n").tokens.is_empty());
}

/// Every token of a 10,000-line mess is found once, in order. (How fast is the benchmark's
/// business: `cargo bench -p support`.)
#[test]
fn ten_thousand_tokens_are_all_found_in_order() {
    let t = tokens(0..10_000);
    // A realistic mess: a header, quoting, CRLF, a repeat every 20th line, junk every 100th.
    let mut text = String::from("\u{feff}\"token\",\"owner\"\r\n");
    for (i, tok) in t.iter().enumerate() {
        text.push_str(&format!("\"{tok}\",user {i}\r\n"));
        if i % 20 == 19 {
            text.push_str(&format!("Bearer {}\r\n", t[i - 5]));
        }
        if i % 100 == 99 {
            text.push_str("-- page break --\r\n");
        }
    }
    assert!(text.len() > 2_000_000, "{} bytes", text.len());
    let parsed = parse_tokens(&text);
    assert_eq!(parsed.tokens.len(), 10_000);
    assert_eq!(parsed.tokens, t);
    assert_eq!(parsed.duplicates, 500);
    assert_eq!(parsed.junk_lines, 101);
    // Header + 10,000 token lines + 500 repeats + 100 page breaks.
    assert_eq!(parsed.lines, 10_601);
}
