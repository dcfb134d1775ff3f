// Every UI string, in Simplified Chinese and English. The language follows `locale` from the
// snapshot (Rust resolves "system"). Messages inside errors come from Rust, already translated.

const en = {
  'app.name': 'Genius Account',

  'common.cancel': 'Cancel',
  'common.close': 'Close',
  'common.copy': 'Copy',
  'common.dismiss': 'Dismiss',
  'common.optional': 'optional',
  'common.or': 'or',
  'common.save': 'Save',

  'nav.label': 'Main',
  'nav.account': 'Account',
  'nav.support': 'Support',
  'nav.audit': 'Audit log',
  'nav.soon': 'Coming soon',
  'nav.soonShort': 'Soon',

  'state.signed-in': 'Signed in',
  'state.signed-out': 'Signed out',
  'state.expired': 'Session expired',
  'state.offline': 'Offline',

  'prefs.language': 'Language',
  'prefs.langSystem': 'System',
  'prefs.theme': 'Theme',
  'prefs.theme.system': 'Follow system theme',
  'prefs.theme.light': 'Light theme',
  'prefs.theme.dark': 'Dark theme',

  'demo.badge': 'DEMO',
  'demo.badgeTitle': 'Demo mode: a built-in GeniusAuth emulator answers every request. Nothing leaves this computer.',
  'demo.signInAs': 'Sign in as a demo user',
  'demo.signInAsUser': 'Sign in as demo user {name} (ID {id})',
  'demo.signInHint': 'Test accounts on the built-in emulator. No password needed.',

  'profiles.heading': 'Profiles',
  'profiles.menuLabel': 'Profiles',
  'profiles.switcherLabel': 'Profile: {name}. Switch or manage profiles',
  'profiles.none': 'No profile',
  'profiles.add': 'Add profile…',
  'profiles.addTitle': 'Add a profile',
  'profiles.editTitle': 'Edit profile',
  'profiles.editNamed': 'Edit {name}',
  'profiles.deleteNamed': 'Delete {name}',
  'profiles.deleteTitle': 'Delete the profile “{name}”?',
  'profiles.deleteBody': 'Its settings, stored app secret and any saved session are removed from this device. A session is not revoked on the server by this.',
  'profiles.deleteConfirm': 'Delete profile',

  'preset.production': 'NCUOS',
  'preset.prerelease': 'Pre-release',
  'preset.emulator': 'Local emulator',
  'preset.custom': 'Custom',
  'preset.customHint': 'Any server URL',
  'preset.production.name': 'NCUOS',
  'preset.prerelease.name': 'NCUOS pre-release',
  'preset.emulator.name': 'Local emulator',

  'form.server': 'Server',
  'form.serverUrl': 'Server URL',
  'form.serverHint': 'https:// is required, except for 127.0.0.1 and localhost.',
  'form.name': 'Display name',
  'form.appCode': 'appCode',
  'form.appCodeHint': '8 letters or digits, from the GeniusAuth console.',
  'form.appSecret': 'appSecret',
  'form.secretHint': 'Stored in the system keyring; never shown again.',
  'form.secretKeepHint': 'Leave empty to keep the stored secret.',
  'form.secretPlaceholder': 'Paste the app secret',
  'form.secretKeep': '•••••••• (stored)',
  'form.callback': 'Callback URL',
  'form.callbackHint': 'The loopback address registered for the app; the browser sign-in returns here.',
  'form.save': 'Save changes',
  'form.add': 'Add profile',
  'form.err.nameEmpty': 'Enter a name for this profile.',
  'form.err.nameLong': 'Use at most 64 characters.',
  'form.err.serverEmpty': 'Enter the server address.',
  'form.err.serverUrl': 'Enter a full URL, such as https://v.ncuos.com.',
  'form.err.serverHttps': 'Use https:// — plain http is only allowed for 127.0.0.1 and localhost.',
  'form.err.appCodeEmpty': 'Enter the appCode.',
  'form.err.appCode': 'The appCode is exactly 8 letters or digits.',
  'form.err.callback': 'Use a loopback URL with a port, such as http://127.0.0.1:47150/callback.',
  'form.err.secretBlank': 'The secret cannot be only spaces.',

  'setup.welcome': 'Welcome to Genius Account',
  'setup.intro': 'Sign in to GeniusAuth, NCUHOME’s single sign-on, and see exactly what your session holds: tokens, expiry, signatures. Refresh, check or end it from one place.',
  'setup.demoTitle': 'Just looking?',
  'setup.demoBody': 'Try everything against a built-in GeniusAuth emulator with demo users. Nothing leaves this computer.',
  'setup.demoBtn': 'Try the demo',
  'setup.formTitle': 'Connect to a GeniusAuth server',
  'setup.formSub': 'Use the appCode and secret of an app registered in the GeniusAuth console.',
  'setup.save': 'Save and continue',
  'setup.existing': 'Saved profiles',

  'storage.title': 'Secure storage is unavailable',
  'storage.body': 'The system keyring is missing or locked, so your session and app secrets cannot be stored securely. Unlock or install a keyring (e.g. GNOME Keyring or KWallet) and restart the app, or store them in a local file instead.',
  'storage.optIn': 'Use a local file (NOT encrypted)',
  'storage.optInNote': 'Anyone who can read your files could use the saved tokens.',
  'storage.notEncrypted': 'Not encrypted',
  'storage.fileTooltip': 'Tokens and secrets are saved in a local file that is not encrypted.',
  'storage.backendKeyring': 'Saved in the system keyring',
  'storage.backendFile': 'Saved in a file (not encrypted)',

  'error.generic': 'Something went wrong.',
  'error.serverCode': 'Server code {code}',

  'offline.title': 'Offline — can’t reach the server',
  'offline.nextRetry': 'Next retry at {time}',
  'offline.since': 'Offline since {time}',
  'offline.retrying': 'retrying…',

  'signin.title': 'Sign in to {name}',
  'signin.browser': 'Sign in with browser',
  'signin.browserHint': 'Your browser opens the GeniusAuth sign-in page; the app receives the result on this computer.',
  'signin.pendingTitle': 'Waiting for the browser…',
  'signin.pendingHint': 'Finish signing in in your browser. If it did not open, copy this address into it:',
  'signin.pendingUrl': 'Sign-in address',
  'signin.timedOut': 'timed out',
  'signin.cancel': 'Cancel sign-in',
  'signin.pasteLabel': 'Paste a login token',
  'signin.pasteHint': 'A token copied from the GeniusAuth sign-in page.',
  'signin.pastePlaceholder': 'eyJhbGciOi…',
  'signin.pasteSubmit': 'Sign in',
  'signin.options': 'Sign-in options',
  'signin.payload': 'Payload',
  'signin.payloadHint': 'Stored with the session; up to 32 characters.',
  'signin.payloadPlaceholder': 'e.g. desk',
  'signin.lifetime': 'Stay signed in for',
  'signin.lifetimeHint': 'Lifetime of the refresh token for the next sign-in.',
  'signin.days': '{n} days',

  'expired.title': 'Session expired or revoked',
  'expired.body': 'The server no longer accepts the saved session. Sign in again to continue.',
  'expired.bodyNamed': 'The server no longer accepts the saved session of {name}. Sign in again to continue.',
  'expired.signIn': 'Sign in again',

  'user.id': 'User ID',
  'user.idShort': 'ID {id}',
  'user.groups': 'Groups',
  'user.noGroups': 'No groups',
  'user.profile': 'Profile',
  'user.server': 'Server',

  'token.refresh': 'Refresh token',
  'token.access': 'Access token',
  'token.expiresIn': 'Expires in',
  'token.lifeLeft': 'Lifetime left',
  'token.expiresAt': 'Expires',
  'token.issuedAt': 'Issued',
  'token.record': 'Login record',
  'token.payload': 'Payload',
  'token.noPayload': 'none',
  'token.signature': 'Signature',
  'token.lastCheck': 'Server check',
  'token.maskedTitle': 'Masked: the full token never leaves the app core',
  'token.noAccess': 'No access token yet.',
  'token.noAccessHint': 'Get one with the refresh token.',
  'token.expiringSoonTitle': 'Your sign-in ends soon',
  'token.expiringSoonBody': 'The refresh token expires {time}. Sign in again before then to keep this session going.',

  'sig.verified': 'Verified',
  'sig.failed': 'Invalid',
  'sig.unavailable': 'No key',
  'sig.verifiedTitle': 'Signature verified',
  'sig.failedTitle': 'Signature check failed',
  'sig.unavailableTitle': 'Signing key unavailable, not checked',

  'check.never': 'Not checked yet',
  'check.ok': 'Valid',
  'check.failed': 'Rejected',

  'actions.refresh': 'Refresh',
  'actions.refreshFull': 'Refresh access token',
  'actions.verify': 'Verify',
  'actions.verifyFull': 'Verify access token',
  'actions.copy': 'Copy',
  'actions.copyFull': 'Copy access token',
  'actions.reloadUser': 'Reload user info',
  'actions.editPayload': 'Edit payload',

  'payload.editLabel': 'New payload',
  'payload.empty': 'The payload cannot be empty.',
  'payload.tooLong': 'At most {max} characters.',
  'payload.newAccess': 'Also issue a new access token',
  'payload.keys': 'Enter saves · Esc cancels',

  'end.title': 'End this session',
  'end.revoke': 'Revoke session',
  'end.revokeHint': 'Ends the sign-in on the server, then removes it from this device.',
  'end.revokeBtn': 'Revoke session',
  'end.revokeTitle': 'Revoke this session?',
  'end.revokeBody': 'Login record {record} is revoked on {server}: the tokens stop working everywhere they are used, and they are removed from this device. This cannot be undone.',
  'end.forget': 'Forget on this device',
  'end.forgetHint': 'Removes the tokens from this computer only; they stay valid on the server.',
  'end.forgetBtn': 'Forget on this device',
  'end.forgetTitle': 'Forget the session on this device?',
  'end.forgetBody1': 'The tokens are deleted from this computer, but the session is NOT ended on the server.',
  'end.forgetBody2': 'The refresh token stays valid until {time}; anyone holding a copy could still use it.',
  'end.forgetBody3': 'To end it everywhere, revoke the session instead.',

  'toast.copied': 'Access token copied',
  'toast.copiedUrl': 'Address copied',
  'toast.copyFailed': 'Could not copy to the clipboard',
  'toast.payloadSaved': 'Payload saved',

  'time.expired': 'Expired',
  'time.days': '{n}d',
};

const zh = {
  'app.name': 'Genius Account',

  'common.cancel': '取消',
  'common.close': '关闭',
  'common.copy': '复制',
  'common.dismiss': '关闭提示',
  'common.optional': '可选',
  'common.or': '或',
  'common.save': '保存',

  'nav.label': '主导航',
  'nav.account': '账户',
  'nav.support': '支持',
  'nav.audit': '审计日志',
  'nav.soon': '即将推出',
  'nav.soonShort': '即将',

  'state.signed-in': '已登录',
  'state.signed-out': '未登录',
  'state.expired': '会话已失效',
  'state.offline': '离线',

  'prefs.language': '语言',
  'prefs.langSystem': '跟随系统',
  'prefs.theme': '主题',
  'prefs.theme.system': '跟随系统主题',
  'prefs.theme.light': '浅色主题',
  'prefs.theme.dark': '深色主题',

  'demo.badge': 'DEMO',
  'demo.badgeTitle': '演示模式：所有请求都由内置的 GeniusAuth 模拟器处理，数据不会离开这台电脑。',
  'demo.signInAs': '以演示用户登录',
  'demo.signInAsUser': '以演示用户 {name}（ID {id}）登录',
  'demo.signInHint': '内置模拟器中的测试账户，无需密码。',

  'profiles.heading': '配置',
  'profiles.menuLabel': '配置',
  'profiles.switcherLabel': '当前配置：{name}。切换或管理配置',
  'profiles.none': '无配置',
  'profiles.add': '添加配置…',
  'profiles.addTitle': '添加配置',
  'profiles.editTitle': '编辑配置',
  'profiles.editNamed': '编辑 {name}',
  'profiles.deleteNamed': '删除 {name}',
  'profiles.deleteTitle': '删除配置“{name}”？',
  'profiles.deleteBody': '该配置的设置、保存的 appSecret 以及已保存的会话都会从本机删除。这不会在服务器上注销会话。',
  'profiles.deleteConfirm': '删除配置',

  'preset.production': 'NCUOS 正式',
  'preset.prerelease': '预发布',
  'preset.emulator': '本地模拟器',
  'preset.custom': '自定义',
  'preset.customHint': '任意服务器地址',
  'preset.production.name': 'NCUOS',
  'preset.prerelease.name': 'NCUOS 预发布',
  'preset.emulator.name': '本地模拟器',

  'form.server': '服务器',
  'form.serverUrl': '服务器地址',
  'form.serverHint': '必须使用 https://，127.0.0.1 和 localhost 除外。',
  'form.name': '显示名称',
  'form.appCode': 'appCode',
  'form.appCodeHint': '8 位字母或数字，在 GeniusAuth 控制台获取。',
  'form.appSecret': 'appSecret',
  'form.secretHint': '保存在系统密钥环中，之后不会再显示。',
  'form.secretKeepHint': '留空则保留已保存的密钥。',
  'form.secretPlaceholder': '粘贴应用密钥',
  'form.secretKeep': '••••••••（已保存）',
  'form.callback': '回调地址',
  'form.callbackHint': '为应用登记的本机回环地址，浏览器登录完成后会回到这里。',
  'form.save': '保存修改',
  'form.add': '添加配置',
  'form.err.nameEmpty': '请为此配置输入名称。',
  'form.err.nameLong': '最多 64 个字符。',
  'form.err.serverEmpty': '请输入服务器地址。',
  'form.err.serverUrl': '请输入完整的网址，例如 https://v.ncuos.com。',
  'form.err.serverHttps': '请使用 https://，只有 127.0.0.1 和 localhost 可以使用 http。',
  'form.err.appCodeEmpty': '请输入 appCode。',
  'form.err.appCode': 'appCode 必须是 8 位字母或数字。',
  'form.err.callback': '请使用带端口的本机回环地址，例如 http://127.0.0.1:47150/callback。',
  'form.err.secretBlank': '密钥不能只包含空格。',

  'setup.welcome': '欢迎使用 Genius Account',
  'setup.intro': '登录家园工作室的统一身份认证 GeniusAuth，清楚地查看会话里的一切：令牌、有效期、签名。刷新、校验或结束会话，都在这里完成。',
  'setup.demoTitle': '先随便看看？',
  'setup.demoBody': '使用内置的 GeniusAuth 模拟器和演示用户体验全部功能，数据不会离开这台电脑。',
  'setup.demoBtn': '体验演示',
  'setup.formTitle': '连接 GeniusAuth 服务器',
  'setup.formSub': '填写在 GeniusAuth 控制台登记的应用的 appCode 和密钥。',
  'setup.save': '保存并继续',
  'setup.existing': '已保存的配置',

  'storage.title': '安全存储不可用',
  'storage.body': '系统密钥环不存在或已锁定，无法安全地保存会话和应用密钥。请解锁或安装密钥环（如 GNOME Keyring 或 KWallet）后重启应用，或者改为保存到本地文件。',
  'storage.optIn': '使用本地文件（不加密）',
  'storage.optInNote': '任何能读取你文件的人都可以使用其中保存的令牌。',
  'storage.notEncrypted': '未加密',
  'storage.fileTooltip': '令牌和密钥保存在未加密的本地文件中。',
  'storage.backendKeyring': '保存在系统密钥环',
  'storage.backendFile': '保存在文件中（未加密）',

  'error.generic': '出现了问题。',
  'error.serverCode': '服务器代码 {code}',

  'offline.title': '离线：无法连接服务器',
  'offline.nextRetry': '将于 {time} 重试',
  'offline.since': '自 {time} 起离线',
  'offline.retrying': '正在重试…',

  'signin.title': '登录 {name}',
  'signin.browser': '使用浏览器登录',
  'signin.browserHint': '浏览器会打开 GeniusAuth 登录页，登录结果直接返回到本机的应用。',
  'signin.pendingTitle': '正在等待浏览器…',
  'signin.pendingHint': '请在浏览器中完成登录。如果浏览器没有打开，请把下面的地址复制到浏览器：',
  'signin.pendingUrl': '登录地址',
  'signin.timedOut': '已超时',
  'signin.cancel': '取消登录',
  'signin.pasteLabel': '粘贴登录令牌',
  'signin.pasteHint': '从 GeniusAuth 登录页复制的令牌。',
  'signin.pastePlaceholder': 'eyJhbGciOi…',
  'signin.pasteSubmit': '登录',
  'signin.options': '登录选项',
  'signin.payload': '载荷（payload）',
  'signin.payloadHint': '随会话保存，最多 32 个字符。',
  'signin.payloadPlaceholder': '例如 desk',
  'signin.lifetime': '保持登录',
  'signin.lifetimeHint': '下次登录时刷新令牌的有效期。',
  'signin.days': '{n} 天',

  'expired.title': '会话已过期或已被注销',
  'expired.body': '服务器已不再接受保存的会话，请重新登录。',
  'expired.bodyNamed': '服务器已不再接受{name}保存的会话，请重新登录。',
  'expired.signIn': '重新登录',

  'user.id': '用户 ID',
  'user.idShort': 'ID {id}',
  'user.groups': '用户组',
  'user.noGroups': '不属于任何用户组',
  'user.profile': '配置',
  'user.server': '服务器',

  'token.refresh': '刷新令牌',
  'token.access': '访问令牌',
  'token.expiresIn': '剩余有效期',
  'token.lifeLeft': '剩余有效期',
  'token.expiresAt': '过期时间',
  'token.issuedAt': '签发时间',
  'token.record': '登录记录',
  'token.payload': '载荷',
  'token.noPayload': '无',
  'token.signature': '签名',
  'token.lastCheck': '服务器校验',
  'token.maskedTitle': '已脱敏：完整令牌不会离开应用核心',
  'token.noAccess': '还没有访问令牌。',
  'token.noAccessHint': '可以用刷新令牌获取一个。',
  'token.expiringSoonTitle': '登录即将到期',
  'token.expiringSoonBody': '刷新令牌将于 {time} 过期。请在此之前重新登录以保持会话。',

  'sig.verified': '已验证',
  'sig.failed': '无效',
  'sig.unavailable': '无公钥',
  'sig.verifiedTitle': '签名验证通过',
  'sig.failedTitle': '签名验证失败',
  'sig.unavailableTitle': '没有可用的签名公钥，未校验',

  'check.never': '尚未校验',
  'check.ok': '有效',
  'check.failed': '被拒绝',

  'actions.refresh': '刷新',
  'actions.refreshFull': '刷新访问令牌',
  'actions.verify': '校验',
  'actions.verifyFull': '校验访问令牌',
  'actions.copy': '复制',
  'actions.copyFull': '复制访问令牌',
  'actions.reloadUser': '重新加载用户信息',
  'actions.editPayload': '编辑载荷',

  'payload.editLabel': '新的载荷',
  'payload.empty': '载荷不能为空。',
  'payload.tooLong': '最多 {max} 个字符。',
  'payload.newAccess': '同时签发新的访问令牌',
  'payload.keys': 'Enter 保存 · Esc 取消',

  'end.title': '结束会话',
  'end.revoke': '注销会话',
  'end.revokeHint': '在服务器上结束本次登录，并从本机删除。',
  'end.revokeBtn': '注销会话',
  'end.revokeTitle': '注销这个会话？',
  'end.revokeBody': '将在 {server} 上注销登录记录 {record}：令牌在所有使用它的地方都会失效，并从本机删除。此操作无法撤销。',
  'end.forget': '在本机忘记',
  'end.forgetHint': '只从这台电脑删除令牌，它们在服务器上仍然有效。',
  'end.forgetBtn': '在本机忘记',
  'end.forgetTitle': '在本机忘记这个会话？',
  'end.forgetBody1': '令牌会从这台电脑删除，但会话不会在服务器上结束。',
  'end.forgetBody2': '刷新令牌在 {time} 之前仍然有效，持有副本的人仍可使用它。',
  'end.forgetBody3': '如需在所有地方结束会话，请改为注销会话。',

  'toast.copied': '已复制访问令牌',
  'toast.copiedUrl': '已复制地址',
  'toast.copyFailed': '无法复制到剪贴板',
  'toast.payloadSaved': '载荷已保存',

  'time.expired': '已过期',
  'time.days': '{n} 天',
};

export const dictionaries = { en, 'zh-CN': zh };

let locale = 'en';
let dict = en;

export function setLocale(l) {
  locale = l === 'zh-CN' ? 'zh-CN' : 'en';
  dict = dictionaries[locale];
}

export const getLocale = () => locale;

/** t('key', {var}) — falls back to English, then to the key itself. */
export function t(key, vars) {
  let s = dict[key] ?? en[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] != null ? String(vars[k]) : m));
  return s;
}

const fmtCache = new Map();
function fmt(kind, opts) {
  const k = `${locale}|${kind}`;
  if (!fmtCache.has(k)) fmtCache.set(k, new Intl.DateTimeFormat(locale, opts));
  return fmtCache.get(k);
}

/** "25 Nov 2024, 12:00" / "2024年11月25日 12:00". */
export function fmtDateTime(ms) {
  if (ms == null) return '—';
  return fmt('dt', { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(ms));
}

/** Time of day if today, otherwise date and time. */
export function fmtTime(ms) {
  if (ms == null) return '—';
  const d = new Date(ms);
  const now = new Date();
  if (d.toDateString() === now.toDateString()) {
    return fmt('t', { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(d);
  }
  return fmt('dts', { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(d);
}

const pad = (n) => String(n).padStart(2, '0');

/** Remaining time: "6d 23:59:59", "04:59:59", "04:59". */
export function fmtCountdown(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const d = Math.floor(total / 86400);
  const hh = Math.floor((total % 86400) / 3600);
  const mm = Math.floor((total % 3600) / 60);
  const ss = total % 60;
  if (d > 0) return `${t('time.days', { n: d })} ${pad(hh)}:${pad(mm)}:${pad(ss)}`;
  if (hh > 0) return `${pad(hh)}:${pad(mm)}:${pad(ss)}`;
  return `${pad(mm)}:${pad(ss)}`;
}
