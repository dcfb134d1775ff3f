//! The support refusals in the UI's language (the wording the app shows; the CLI prints the
//! English `Display` form).

use crate::SupportError;

/// What the window shows for `err` when the UI speaks `locale` ("zh-CN" or anything else).
pub fn explain(err: &SupportError, locale: &str) -> String {
    let zh = locale == "zh-CN";
    match (err, zh) {
        (SupportError::Busy, true) => "正在注销令牌：请等待完成或先取消。".to_owned(),
        (SupportError::Busy, false) => {
            "Tokens are being revoked: wait for the run to finish or cancel it first.".to_owned()
        }
        (SupportError::NothingSelected, true) => "没有选中可以注销的令牌。".to_owned(),
        (SupportError::NothingSelected, false) => "No revocable token is selected.".to_owned(),
        (SupportError::NothingToRetry, true) => "没有失败的注销需要重试。".to_owned(),
        (SupportError::NothingToRetry, false) => "No revocation failed.".to_owned(),
        (SupportError::TooManyTokens { max }, true) => {
            format!("一次最多处理 {max} 个令牌，请拆分列表。")
        }
        (SupportError::TooManyTokens { max }, false) => {
            format!("At most {max} tokens at once: split the list.")
        }
        (SupportError::NoTokens, true) => "文本中没有找到令牌。".to_owned(),
        (SupportError::NoTokens, false) => "No token was found in the text.".to_owned(),
        (SupportError::FileTooLarge { name, max }, true) => {
            format!("{name} 超过 {} MiB，请拆分文件。", max / 1024 / 1024)
        }
        (SupportError::FileTooLarge { name, max }, false) => {
            format!(
                "{name} is larger than {} MiB: split the file.",
                max / 1024 / 1024
            )
        }
        (SupportError::AuditLog(detail), true) => {
            format!("无法写入审计日志，未注销任何令牌。{detail}")
        }
        (SupportError::AuditLog(detail), false) => {
            format!("The audit log cannot be written, so nothing was revoked. {detail}")
        }
        (SupportError::Io(detail), _) => detail.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_reads_in_both_languages() {
        let all = [
            SupportError::Busy,
            SupportError::NothingSelected,
            SupportError::NothingToRetry,
            SupportError::TooManyTokens { max: 5000 },
            SupportError::NoTokens,
            SupportError::AuditLog("disk full".into()),
            SupportError::FileTooLarge {
                name: "a.txt".into(),
                max: 32 << 20,
            },
        ];
        for err in &all {
            let zh = explain(err, "zh-CN");
            let en = explain(err, "en");
            assert_ne!(zh, en, "{err:?}");
            assert!(
                zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{zh}"
            );
            assert!(en.is_ascii(), "{en}");
        }
        assert!(explain(&SupportError::TooManyTokens { max: 5000 }, "en").contains("5000"));
        assert!(explain(
            &SupportError::FileTooLarge {
                name: "a.txt".into(),
                max: 32 << 20
            },
            "zh-CN"
        )
        .contains("32 MiB"));
    }
}
