//! Production error codes, their HTTP statuses and their exact Chinese messages
//! (`internal/api/callback/code.go` in the server).

/// One entry of the server's error table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiCode {
    pub code: u8,
    pub status: u16,
    pub msg: &'static str,
}

const fn c(code: u8, status: u16, msg: &'static str) -> ApiCode {
    ApiCode { code, status, msg }
}

pub const FORM: ApiCode = c(1, 400, "参数错误，请把输入截图发给前端同学");
pub const SITE_NOT_ALLOW: ApiCode = c(2, 403, "回调站点不在白名单内，请联系管理员添加");
pub const APP_CODE_NOT_FOUND: ApiCode = c(3, 404, "没有找到授权码");
pub const DB_OPERATION: ApiCode = c(4, 500, "数据库操作失败，请反馈后端同学修复");
pub const REMOTE_OPERATION_FAILED: ApiCode = c(5, 500, "远程调用异常，请稍候重试");
pub const UNAUTHORIZED: ApiCode = c(6, 401, "身份校验失败，令牌失效或过期");
pub const FIND_UNIT: ApiCode = c(7, 403, "找不到身份组，请联系管理员处理");
pub const UNEXPECTED: ApiCode = c(8, 500, "发生预期外错误，请反馈后端同学");
pub const SIGNATURE_EXPIRED: ApiCode = c(9, 403, "请求已过期，请重试");
pub const OPERATION_ILLEGAL: ApiCode = c(10, 403, "操作不合法");
pub const INSUFFICIENT_PERMISSIONS: ApiCode = c(11, 403, "缺少对应身份组权限");
pub const APP_NAME_EXIST: ApiCode = c(12, 409, "应用名称已被占用");
pub const GROUP_NOT_FOUND: ApiCode = c(13, 404, "找不到匹配身份组");
pub const APP_NOT_FOUND: ApiCode = c(14, 404, "应用不存在");
pub const MFA_CODE: ApiCode = c(15, 403, "双因素校验码错误");
pub const MFA_ALREADY_EXIST: ApiCode = c(16, 409, "双因素校验已开启");
pub const MFA_ADD_EXPIRED: ApiCode = c(17, 404, "双因素认证绑定已过期，请刷新重试");
pub const MFA_NOT_EXIST: ApiCode = c(18, 400, "双因素认证未开启");
pub const REQUEST_FREQUENCY: ApiCode = c(19, 403, "操作频繁，请稍后重试");
pub const NET_CONTEXT_CHANGED: ApiCode = c(20, 403, "网络环境异常变更，请重新登录");
pub const MFA_REQUIRED: ApiCode = c(21, 403, "双因素校验码缺失");
pub const SMS_COOL_DOWN: ApiCode = c(22, 403, "短信冷却中，请稍后重试");
pub const SEND_SMS_FAILED: ApiCode = c(23, 500, "短信发送失败，请重试");
pub const IDENTITY_CODE_NOT_CORRECT: ApiCode = c(24, 403, "身份校验码错误");
pub const SSH_NOT_FOUND: ApiCode = c(25, 404, "SSH 账号未分配，请联系管理员");
pub const USER_IDENTITY: ApiCode = c(26, 403, "没有找到角色，请尝试使用其他登录方式或联系管理员");
pub const LOGIN_SESSION_EXPIRED: ApiCode = c(27, 403, "登录请求过期，请重新登录");
pub const PASSKEY_NOT_EXIST: ApiCode = c(28, 404, "该通行密钥不存在");
pub const U2F_TOKEN_EXPIRED: ApiCode = c(29, 403, "二步校验令牌失效，请重试");
pub const PASSKEY_VERIFY_FAILED: ApiCode = c(30, 403, "通行密钥校验失败，请重试");
pub const TOKEN_INVALID: ApiCode = c(31, 403, "身份令牌无效或已过期");
pub const TARGET_DEVICE_OFFLINE: ApiCode = c(32, 404, "目标设备不在线");

/// The whole table, in code order.
pub const ALL: [ApiCode; 32] = [
    FORM,
    SITE_NOT_ALLOW,
    APP_CODE_NOT_FOUND,
    DB_OPERATION,
    REMOTE_OPERATION_FAILED,
    UNAUTHORIZED,
    FIND_UNIT,
    UNEXPECTED,
    SIGNATURE_EXPIRED,
    OPERATION_ILLEGAL,
    INSUFFICIENT_PERMISSIONS,
    APP_NAME_EXIST,
    GROUP_NOT_FOUND,
    APP_NOT_FOUND,
    MFA_CODE,
    MFA_ALREADY_EXIST,
    MFA_ADD_EXPIRED,
    MFA_NOT_EXIST,
    REQUEST_FREQUENCY,
    NET_CONTEXT_CHANGED,
    MFA_REQUIRED,
    SMS_COOL_DOWN,
    SEND_SMS_FAILED,
    IDENTITY_CODE_NOT_CORRECT,
    SSH_NOT_FOUND,
    USER_IDENTITY,
    LOGIN_SESSION_EXPIRED,
    PASSKEY_NOT_EXIST,
    U2F_TOKEN_EXPIRED,
    PASSKEY_VERIFY_FAILED,
    TOKEN_INVALID,
    TARGET_DEVICE_OFFLINE,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_in_code_order() {
        for (i, code) in ALL.iter().enumerate() {
            assert_eq!(usize::from(code.code), i + 1);
        }
    }
}
