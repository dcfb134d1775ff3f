//! Plain explanations of errors in the UI's language. The server's own (Chinese) message is
//! shown beside them, never replaced.

use crate::error::AccountError;

pub fn explain(err: &AccountError, locale: &str) -> String {
    if locale == "zh-CN" {
        if let Some(text) = chinese(err) {
            return text;
        }
    }
    match err {
        AccountError::GeniusAuth(e) => e.explanation(),
        other => other.to_string(),
    }
}

fn chinese(err: &AccountError) -> Option<String> {
    use geniusauth::Error as G;
    Some(match err {
        AccountError::GeniusAuth(G::Server { code, .. }) => match code {
            1 => "服务器拒绝了请求参数。".into(),
            3 => "服务器不认识这个 appCode，请检查配置。".into(),
            5 | 6 => {
                "未授权：appSecret 错误（签名不对）、登录令牌无效或已使用，或令牌属于其他应用。"
                    .into()
            }
            9 => "请求时间戳被拒绝：本机时钟不准，请校正系统时间。".into(),
            19 => "请求过于频繁，请稍等一分钟再试。".into(),
            31 => "会话已失效：已过期、已被吊销，或账号信息有变（例如所在组变更）。请重新登录。".into(),
            4 | 8 => "服务器内部错误，请稍后再试。".into(),
            _ => return None,
        },
        AccountError::GeniusAuth(G::Timeout) => {
            "服务器未在规定时间内响应，请检查网络后重试。".into()
        }
        AccountError::GeniusAuth(G::Connect(_)) => {
            "无法连接服务器，请检查网络和服务器地址。".into()
        }
        AccountError::GeniusAuth(G::Tls(detail)) => {
            let host = detail.split(": ").next().unwrap_or_default();
            format!(
                "与 {host} 的安全连接失败：其证书未被接受。请检查服务器地址；如果所在网络会检查 \
                 TLS（校园或公司代理），需要把它的 CA 证书安装到本机的系统证书库。"
            )
        }
        AccountError::GeniusAuth(G::Network(_)) => "与服务器通信时连接中断。".into(),
        AccountError::GeniusAuth(G::UnexpectedReply { http_status, .. }) => {
            format!("服务器返回了无法识别的内容（HTTP {http_status}），可能是代理或服务故障。")
        }
        AccountError::GeniusAuth(G::BodyTooLarge { .. }) => {
            "服务器返回的内容过大，已拒绝读取。".into()
        }
        AccountError::GeniusAuth(G::InvalidInput(detail)) | AccountError::InvalidInput(detail) => {
            format!("请求未发送：{detail}")
        }
        AccountError::KeyringUnavailable(detail) => format!("系统钥匙串不可用：{detail}"),
        AccountError::SignInPortInUse(port) => format!("回调端口 {port} 已被其他程序占用。"),
        AccountError::SignInTimeout => "5 分钟内没有收到登录回调，请重试。".into(),
        AccountError::SignInWrongApp { expected, found } => {
            format!("该登录令牌属于应用 {found}，而不是当前配置的 {expected}。")
        }
        AccountError::SignInCallbackMismatch { registered, callback } => format!(
            "该应用登记的回调地址是 {registered}，而此配置监听 {callback}：请把配置的回调改成登记的地址。"
        ),
        AccountError::SignInCancelled => "登录已取消。".into(),
        AccountError::SecretsFileTooOpen { path, mode } => format!(
            "{path} 可被其他用户读取（权限 {mode:04o}）。密钥文件只能由其所有者读取（0600），修复权限后才能继续使用。"
        ),
        AccountError::Clipboard(detail) => format!("无法复制到剪贴板：{detail}"),
        AccountError::NoProfile => "尚未选择配置。".into(),
        AccountError::NoSession => "尚未登录。".into(),
        _ => return None,
    })
}
