//! Masked forms of secrets: enough to recognise a token, never enough to use it.

/// `eyJhbG…Qk9x`: the first six and last four characters.
pub fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() <= 12 {
        return "•".repeat(chars.len().min(8));
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn keeps_only_the_ends() {
        assert_eq!(mask("eyJhbGciOiJFZERTQSJ9.payload.sig9Qk9x"), "eyJhbG…Qk9x");
        assert_eq!(mask("short"), "•••••");
        assert!(!mask("abcdefghijklmnopqrstuvwxyz").contains("ghij"));
    }
}
