// A fake window.__TAURI__ implementing the commands of docs/ipc.md with in-memory state, so the
// UI can be previewed and screenshotted without the Rust side. Not shipped: ui/ never loads it.
//
// Query parameters (preview.html?...):
//   state=setup|signed-out|pending|signed-in|expiring|expired|offline   (default signed-in)
//   demo=1            demo mode (demo profile + demo users)
//   lang=en|zh-CN     resolved locale (default zh-CN); pref=system|en|zh-CN
//   theme=system|light|dark
//   storage=unavailable|file
//   settings=damaged  settings.json was damaged at start-up and moved aside (damagedSettings)
//   error=server|network|invalid|secrets_file_too_open   a last failure already in the snapshot
//   fail=cmd:code[,cmd:code]         make these commands reject (code: server|network|token_invalid|invalid_input)
//   noavatar=1 | badavatar=1 | noaccess=1 | nogroups=1 | latency=ms (default 350)
//   support=rows|done|running|many|empty   the Support view's token list (many = 10,000 rows)
//   audit=empty   no audit entries;  revokeMs=ms  time per simulated revocation (default 260)
(function () {
  'use strict';
  const q = new URLSearchParams(location.search);
  const NOW = Date.now();
  const H = 3600e3;
  const D = 24 * H;
  const latency = Number(q.get('latency') ?? 350);
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  const AVATAR = 'data:image/svg+xml;base64,' + btoa(
    "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 64 64'><defs><linearGradient id='g' x1='0' y1='0' x2='1' y2='1'>" +
    "<stop offset='0' stop-color='#ffb86b'/><stop offset='1' stop-color='#e2557a'/></linearGradient></defs>" +
    "<rect width='64' height='64' fill='url(#g)'/><circle cx='32' cy='25' r='11' fill='#fff' fill-opacity='.93'/>" +
    "<path d='M9 64c2-14 11-21 23-21s21 7 23 21z' fill='#fff' fill-opacity='.93'/></svg>");

  const MSG = {
    'zh-CN': {
      server: '服务器拒绝了请求。', token_invalid: '会话已过期或已被注销，请重新登录。', network: '无法连接到服务器，请检查网络连接。',
      invalid_input: '输入无效。', appCode: 'appCode 必须是 8 位字母或数字。', payload: '载荷最多 32 个字符。',
      offline: '无法连接到 v.ncuos.com（连接超时）。', keyring: '未找到 Secret Service（org.freedesktop.secrets）。',
      secrets_file_too_open: '/home/lin/.local/share/club.ncuhome.genius-account/secrets.json 可被其他用户读取（权限 0644）。密钥文件只能由其所有者读取（0600），修复权限后才能继续使用。',
    },
    en: {
      server: 'The server rejected the request.', token_invalid: 'The session expired or was revoked. Sign in again.', network: 'Could not reach the server. Check your connection.',
      invalid_input: 'Invalid input.', appCode: 'appCode must be 8 letters or digits.', payload: 'The payload is at most 32 characters.',
      offline: 'Could not reach v.ncuos.com (connection timed out).', keyring: 'No Secret Service provider (org.freedesktop.secrets) found.',
      secrets_file_too_open: "/home/lin/.local/share/club.ncuhome.genius-account/secrets.json may be read by other users (mode 0644); a secrets file must be its owner's only (0600)",
    },
  };

  const demoUsers = [
    { id: 1, name: '张伟' }, { id: 2, name: '李娜' }, { id: 3, name: '王芳' }, { id: 4, name: 'Alex Chen' },
  ];
  const PROFILES = {
    prod: { id: 'p1', name: 'NCUOS', server: 'https://v.ncuos.com', appCode: 'Ab3dE6g8', callback: 'http://localhost:47150/callback', preset: 'production', hasSecret: true },
    pre: { id: 'p2', name: 'NCUOS 预发布', server: 'https://v.ncuhome.club', appCode: 'Pr3R3l5e', callback: 'http://localhost:47150/callback', preset: 'prerelease', hasSecret: true },
    demo: { id: 'demo', name: 'Demo', server: 'http://127.0.0.1:4780', appCode: 'DEMO0001', callback: 'http://localhost:47150/callback', preset: 'emulator', hasSecret: true },
  };

  const scenario = q.get('state') ?? 'signed-in';
  const demo = q.get('demo') === '1';
  const lang = q.get('lang') === 'en' ? 'en' : 'zh-CN';
  const msg = (k) => MSG[state.locale][k];

  let seq = 100;
  const mask = (s) => s.slice(0, 6) + '…' + s.slice(-4);
  const fakeJwt = () => 'eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.' + btoa(String(Math.random())).replace(/=+$/, '') + '.' + Math.random().toString(36).slice(2, 14) + 'Qk9x';

  function token(kind, { issued = NOW - 2 * H, lifetime, payload = 'desk', record = 42 } = {}) {
    const life = lifetime ?? (kind === 'refresh' ? 7 * D : 2 * H);
    return {
      masked: mask(fakeJwt()), recordId: record, issuedAt: issued, expiresAt: issued + life, payload,
      signature: kind === 'refresh' ? 'verified' : 'verified', lastCheck: kind === 'access' ? { ok: true, at: NOW - 6 * 60e3, message: null } : null,
      expiringSoon: kind === 'refresh' && issued + life - Date.now() < D,
    };
  }

  function userFor(uid, name) {
    const u = {
      userId: uid, name, groups: uid === 20231001 ? ['家园工作室', '研发中心', '前端组'] : ['演示用户'],
      avatar: uid === 20231001 ? AVATAR : null, initials: [...name][0],
    };
    if (q.get('nogroups') === '1') u.groups = [];
    if (q.get('noavatar') === '1') u.avatar = null;
    if (q.get('badavatar') === '1') u.avatar = 'data:image/png;base64,bm90IGFuIGltYWdl';
    return u;
  }

  function session(kind = 'signed-in', uid = 20231001, name = '林晓雨', payload = 'desk') {
    const s = {
      state: kind,
      user: userFor(uid, name),
      refresh: token('refresh', { payload }),
      access: q.get('noaccess') === '1' ? null : token('access', { issued: NOW - 38 * 60e3, payload }),
      offline: null,
      // ?previous=1 shows the note for another user than last time on this profile.
      previousUser: q.get('previous') === '1' ? { userId: 20220417, name: '周子豪' } : null,
    };
    if (kind === 'offline') s.offline = { since: NOW - 4 * 60e3, nextRetryAt: NOW + 42e3, message: null };
    return s;
  }

  const state = {
    locale: lang,
    localePreference: q.get('pref') ?? 'system',
    theme: q.get('theme') ?? 'system',
    lifetimeDays: 7,
    demo,
    demoUsers: demo ? demoUsers : [],
    profiles: demo ? [PROFILES.demo, PROFILES.prod] : [PROFILES.prod, PROFILES.pre],
    activeProfileId: demo ? 'demo' : 'p1',
    storage: { backend: 'keyring', available: true, fileOptIn: false, message: null },
    signIn: null,
    session: null,
    busy: [],
    error: null,
    // ?clock=-600 shows a local clock ten minutes ahead of the server's.
    clock: { offsetMs: Number(q.get('clock') ?? 0) * 1000, measured: true },
    damagedSettings: null,
  };
  if (q.get('settings') === 'damaged') {
    const path = '/home/lin/.local/share/club.ncuhome.genius-account/settings.json';
    state.damagedSettings = { path, movedTo: `${path}.bad-20250301T080509Z`, reason: 'truncated', at: NOW - 2e3 };
  }
  if (state.localePreference !== 'system') state.locale = state.localePreference;
  if (state.profiles.length && scenario === 'setup') { state.profiles = []; state.activeProfileId = null; }
  if (scenario === 'pending') state.signIn = browserSignIn();
  if (scenario === 'signed-in') state.session = session();
  if (scenario === 'expiring') {
    state.session = session();
    state.session.refresh = token('refresh', { issued: NOW - 7 * D + 5 * H, payload: 'desk' });
  }
  if (scenario === 'expired') state.session = { ...session(), state: 'expired' };
  if (scenario === 'offline') {
    state.session = session('offline');
    state.session.offline.message = MSG[state.locale].offline;
  }
  if (q.get('storage') === 'unavailable') state.storage = { backend: 'keyring', available: false, fileOptIn: false, message: MSG[state.locale].keyring };
  if (q.get('storage') === 'file') state.storage = { backend: 'file', available: true, fileOptIn: true, message: null };
  const presetError = q.get('error');
  if (presetError) state.error = makeError(presetError);

  function browserSignIn() {
    const p = activeProfile() ?? PROFILES.prod;
    return {
      method: 'browser',
      url: `${p.server}/?appCode=${p.appCode}`,
      expiresAt: Date.now() + 5 * 60e3,
      appName: p.id === 'demo' ? 'Genius Account 演示' : 'Genius Account',
    };
  }

  function activeProfile() {
    return state.profiles.find((p) => p.id === state.activeProfileId) ?? null;
  }

  function makeError(code) {
    const at = Date.now();
    if (code === 'server') return { code: 'server', message: msg('server'), serverCode: 4, serverMsg: '应用不存在或已被禁用', httpStatus: 200, at };
    if (code === 'token_invalid') return { code: 'token_invalid', message: msg('token_invalid'), serverCode: 31, serverMsg: '登录状态已失效', at };
    if (code === 'invalid_input') return { code: 'invalid_input', message: msg('invalid_input'), at };
    if (code === 'secrets_file_too_open') return { code, message: msg(code), at };
    return { code: 'network', message: msg('network'), at };
  }

  const failures = new Map((q.get('fail') ?? '').split(',').filter(Boolean).map((s) => s.split(':')));

  const listeners = new Set();
  const snapshot = () => JSON.parse(JSON.stringify(state));
  function emit() {
    const payload = snapshot();
    for (const cb of listeners) cb({ event: 'state', id: 0, payload });
  }

  function reject(err) {
    state.error = err;
    emit();
    throw err;
  }

  async function busy(key, fn) {
    state.busy.push(key);
    emit();
    await sleep(latency);
    state.busy = state.busy.filter((b) => b !== key);
    try {
      if (failures.has(CURRENT.cmd)) reject(makeError(failures.get(CURRENT.cmd)));
      await fn();
    } finally {
      emit();
    }
    return snapshot();
  }
  const CURRENT = { cmd: '' };

  function signInAs(uid, name, payload) {
    const s = session('signed-in', uid, name, payload ?? 'desk');
    s.refresh = token('refresh', { issued: Date.now(), lifetime: state.lifetimeDays * D, payload: payload ?? '', record: ++seq });
    s.access = token('access', { issued: Date.now(), payload: payload ?? '', record: seq });
    s.refresh.lastCheck = null;
    s.access.lastCheck = null;
    state.session = s;
    state.signIn = null;
  }

  const commands = {
    get_state: async () => snapshot(),
    set_preferences: async ({ prefs }) => {
      if (prefs.locale) {
        state.localePreference = prefs.locale;
        state.locale = prefs.locale === 'system' ? (navigator.language.startsWith('zh') ? 'zh-CN' : 'en') : prefs.locale;
      }
      if (prefs.theme) state.theme = prefs.theme;
      if (prefs.lifetimeDays) state.lifetimeDays = prefs.lifetimeDays;
      emit();
      return snapshot();
    },
    save_profile: ({ profile }) => busy('profile', async () => {
      if (!/^[A-Za-z0-9]{8}$/.test(profile.appCode)) reject({ code: 'invalid_input', message: msg('appCode'), field: 'appCode', at: Date.now() });
      const preset = ({ 'https://v.ncuos.com': 'production', 'https://v.ncuhome.club': 'prerelease', 'http://127.0.0.1:4780': 'emulator' })[profile.server] ?? 'custom';
      if (profile.id) {
        const p = state.profiles.find((x) => x.id === profile.id);
        Object.assign(p, { name: profile.name, server: profile.server, appCode: profile.appCode, callback: profile.callback, preset, hasSecret: p.hasSecret || Boolean(profile.appSecret) });
      } else {
        const id = 'p' + ++seq;
        state.profiles.push({ id, name: profile.name, server: profile.server, appCode: profile.appCode, callback: profile.callback, preset, hasSecret: Boolean(profile.appSecret) });
        if (!state.activeProfileId) state.activeProfileId = id;
      }
    }),
    delete_profile: ({ id }) => busy('profile', async () => {
      state.profiles = state.profiles.filter((p) => p.id !== id);
      if (state.activeProfileId === id) {
        state.activeProfileId = state.profiles[0]?.id ?? null;
        state.session = null;
        if (id === 'demo') { state.demo = false; state.demoUsers = []; }
      }
    }),
    switch_profile: ({ id }) => busy('profile', async () => {
      state.activeProfileId = id;
      state.session = null;
      state.signIn = null;
      state.demo = id === 'demo';
      state.demoUsers = state.demo ? demoUsers : [];
    }),
    start_demo: () => busy('demo', async () => {
      if (!state.profiles.some((p) => p.id === 'demo')) state.profiles.unshift(PROFILES.demo);
      state.activeProfileId = 'demo';
      state.demo = true;
      state.demoUsers = demoUsers;
      state.session = null;
    }),
    fix_secrets_file_permissions: () => busy('storage', async () => {
      if (state.error?.code === 'secrets_file_too_open') state.error = null;
    }),
    use_file_store: async ({ enabled }) => {
      state.storage = enabled ? { backend: 'file', available: true, fileOptIn: true, message: null } : { backend: 'keyring', available: true, fileOptIn: false, message: null };
      emit();
      return snapshot();
    },
    sign_in_browser: async () => {
      state.signIn = browserSignIn();
      state.busy.push('signin');
      emit();
      if (q.get('complete') === '1') {
        setTimeout(() => {
          state.busy = state.busy.filter((b) => b !== 'signin');
          signInAs(20231001, '林晓雨', 'desk');
          emit();
        }, 3000);
      }
      return snapshot();
    },
    cancel_sign_in: async () => {
      state.signIn = null;
      state.busy = state.busy.filter((b) => b !== 'signin');
      emit();
      return snapshot();
    },
    sign_in_paste: ({ token: tok, payload }) => busy('signin', async () => {
      if (!tok.trim()) reject(makeError('invalid_input'));
      if (tok.trim() === 'bad') reject(makeError('token_invalid'));
      signInAs(20231001, '林晓雨', payload);
    }),
    demo_sign_in: ({ uid, payload }) => busy('signin', async () => {
      const u = demoUsers.find((x) => x.id === uid);
      signInAs(uid, u.name, payload);
    }),
    refresh_access: () => busy('refresh', async () => {
      const r = state.session.refresh;
      state.session.access = { ...token('access', { issued: Date.now(), payload: r.payload, record: r.recordId }), lastCheck: null };
      if (state.session.state === 'offline') { state.session.state = 'signed-in'; state.session.offline = null; }
    }),
    verify_access: () => busy('verify', async () => {
      state.session.access.lastCheck = { ok: true, at: Date.now(), message: null };
    }),
    reload_user: () => busy('reload', async () => {}),
    edit_payload: ({ payload, newAccess }) => busy('payload', async () => {
      if ([...payload].length > 32 || !payload) reject({ code: 'invalid_input', message: msg('payload'), field: 'payload', at: Date.now() });
      state.session.refresh.payload = payload;
      if (newAccess) state.session.access = { ...token('access', { issued: Date.now(), payload, record: state.session.refresh.recordId }), lastCheck: null };
    }),
    copy_access_token: async () => {
      await sleep(latency / 2);
      if (failures.has('copy_access_token')) reject(makeError(failures.get('copy_access_token')));
      // The app writes the token to the clipboard in Rust; the reply carries no token.
      window.__mock.rustClipboard = fakeJwt();
      return { clearsInSeconds: 60 };
    },
    revoke_session: () => busy('revoke', async () => { state.session = null; }),
    forget_session: () => busy('forget', async () => { state.session = null; }),
    dismiss_error: async () => { state.error = null; emit(); return snapshot(); },
    app_info: async () => ({
      name: 'Genius Account', version: '0.1.0', commit: 'c426492', license: 'MIT',
      server: 'https://v.ncuos.com', repository: 'https://github.com/ncuhome/genius-account',
    }),
    open_log_folder: async () => null,
    diagnostics: async () => ({
      version: '0.1.0', commit: 'preview', os: 'Debian GNU/Linux 12 (bookworm) (x86_64)', webview: '2.50.6',
      locale: state.locale, systemLocale: 'zh-CN', keyring: state.storage.backend, server: activeProfile()?.server ?? null,
      clockOffsetMs: state.clock.offsetMs, clockMeasured: true, logFolder: '/home/lin/.local/share/club.ncuhome.genius-account/logs',
    }),
    open_about_link: async ({ link }) => {
      if (!['server', 'repository', 'dashboard', 'dashboard-profile', 'dashboard-dev'].includes(link)) reject(makeError('invalid_input'));
      return null;
    },
  };

  async function invoke(cmd, args = {}) {
    const fn = commands[cmd];
    if (!fn) throw `command ${cmd} not found`;
    CURRENT.cmd = cmd;
    const result = await fn(args ?? {});
    return result;
  }


  // ---- Support and Audit log views (docs/ipc.md, "Support") ---------------------------------
  //   support=rows|done|running|many|empty   pre-fill the token list (many = 10,000 rows)
  const supportListeners = new Set();
  const SUPPORT_APP = 'Ab3dE6g8';
  const OTHER_APP = 'Xk92LmQ4';
  const supportUsers = [
    { id: 20231001, name: '林晓雨', groups: ['家园工作室', '研发中心'], avatar: AVATAR },
    { id: 20230417, name: '张伟', groups: ['研发'] }, { id: 20220932, name: '李娜', groups: ['设计'] },
    { id: 20210388, name: '王芳', groups: ['运营', '产品'] }, { id: 20240105, name: 'Alex Chen', groups: ['研发'] },
    { id: 20231877, name: '陈静', groups: ['产品', '行政'] }, { id: 20190021, name: 'Emily Zhao', groups: ['设计', '游戏'] },
  ];
  const b64url = (str) => btoa(unescape(encodeURIComponent(str))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const fromB64url = (str) => decodeURIComponent(escape(atob(str.replace(/-/g, '+').replace(/_/g, '/'))));
  let rnd = 7;
  const rand = () => { rnd = (rnd * 1103515245 + 12345) % 2147483648; return rnd / 2147483648; };
  const sigChars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  function makeToken(claims) {
    let sig = '';
    for (let i = 0; i < 86; i++) sig += sigChars[Math.floor(rand() * 64)];
    return `eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.${b64url(JSON.stringify(claims))}.${sig}`;
  }
  let recordSeq = 4100;
  function sampleTokens(n) {
    const out = [];
    const now = Math.floor(Date.now() / 1000);
    for (let i = 0; i < n; i++) {
      const u = supportUsers[i % supportUsers.length];
      const iat = now - Math.floor(rand() * 6 * 86400);
      const id = ++recordSeq;
      const app = i % 9 === 4 ? OTHER_APP : SUPPORT_APP;
      out.push(makeToken({ type: 'Refresh', uid: u.id, oid: 1, id, appCode: app, payload: i % 3 ? 'desk' : '', iat, exp: iat + 7 * 86400 }));
      if (i % 10 === 3) out.push(makeToken({ type: 'Access', uid: u.id, oid: 1, id, appCode: app, payload: 'desk', iat: now - 60, exp: now + 240 }));
    }
    out.push(makeToken({ type: 'Access', uid: supportUsers[2].id, oid: 1, id: 999, appCode: SUPPORT_APP, iat: now - 600, exp: now - 300 }));
    out.push(makeToken({ type: 'Login', uid: supportUsers[3].id, oid: 1, id: 77, appCode: '', iat: now - 30, exp: now + 270 }));
    out.push('eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.' + b64url('{"sub":"1234567890","name":"John Doe","iat":1516239022}') + '.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c');
    return out;
  }

  const sup = {
    version: 1, epoch: 0, rows: [], byId: new Map(), tokens: new Map(), owners: new Map(), ownersPending: false,
    parse: null, progress: { running: false, total: 0, done: 0, inFlight: 0, revoked: 0, alreadyInvalid: 0, failed: 0, cancelled: 0, cancelRequested: false, startedAt: null, finishedAt: null },
    nextId: 0, revokedBefore: new Set(), dirty: new Set(), dirtyOwners: new Set(), full: false, cancel: false,
    audit: [],
  };
  const supMask = (tok) => `${tok.slice(0, 6)}…${tok.slice(-4)}`;
  function supStatus(full) {
    return {
      version: sup.version, rowsEpoch: sup.epoch, full, rows: [], owners: {}, ownersPending: sup.ownersPending, ownerError: null,
      key: 'ok', keyError: null, parse: sup.parse, progress: { ...sup.progress },
      failedRows: sup.rows.filter((r) => r.state === 'error').length, rowCount: sup.rows.length,
      auditError: null, auditPath: '/home/lin/.local/share/club.ncuhome.genius-account/support-audit.jsonl',
      profile: activeProfile() ? { name: activeProfile().name, server: activeProfile().server, appCode: activeProfile().appCode } : null,
    };
  }
  function supFull() {
    const s = supStatus(true);
    s.rows = sup.rows.map((r) => ({ ...r }));
    s.owners = Object.fromEntries([...sup.owners].map(([k, o]) => [String(k), o]));
    return s;
  }
  // Like the Rust side, events never carry the whole list: a new list is a new rowsEpoch, and
  // the UI fetches it with support_state.
  function supEmit(full = false) {
    sup.version++;
    let payload;
    if (full || sup.full) {
      sup.epoch++;
      payload = supStatus(false);
    } else {
      payload = supStatus(false);
      payload.rows = [...sup.dirty].map((id) => ({ ...sup.byId.get(id) }));
      payload.owners = Object.fromEntries([...sup.dirtyOwners].map((k) => [String(k), sup.owners.get(k)]));
    }
    sup.dirty.clear(); sup.dirtyOwners.clear(); sup.full = false;
    const json = JSON.parse(JSON.stringify(payload));
    for (const cb of supportListeners) cb({ event: 'support', id: 0, payload: json });
  }
  function inspectToken(tok) {
    const row = { kind: 'other', userId: null, recordId: null, appCode: null, payload: null, issuedAt: null, expiresAt: null, expired: false, signature: 'unavailable', problem: null };
    try {
      const claims = JSON.parse(fromB64url(tok.split('.')[1]));
      const kind = { Refresh: 'refresh', Access: 'access', Login: 'login' }[claims.type];
      if (!kind) { row.problem = 'the token has no GeniusAuth type claim'; return row; }
      Object.assign(row, {
        kind, userId: claims.uid || null, recordId: claims.id || null, appCode: claims.appCode || null, payload: claims.payload || null,
        issuedAt: claims.iat * 1000, expiresAt: claims.exp * 1000, expired: claims.exp * 1000 < Date.now(), signature: 'verified',
      });
    } catch { row.problem = 'not a well-formed token'; }
    return row;
  }
  function supParse(text) {
    const seen = new Set();
    const tokens = [];
    let duplicates = 0; let junk = 0; let lines = 0;
    for (const line of text.replace(/^\ufeff/, '').split('\n')) {
      if (!line.trim()) continue;
      lines++;
      const words = (line.match(/[A-Za-z0-9_.-]+/g) ?? []).map((w) => w.replace(/^\.+|\.+$/g, ''));
      const found = words.filter((w) => w.length >= 24 && /^eyJ[^.]*\.ey[^.]*\.[^.]+$/.test(w));
      if (!found.length) junk++;
      for (const w of found) { if (seen.has(w)) duplicates++; else { seen.add(w); tokens.push(w); } }
    }
    return { tokens, duplicates, junk, lines };
  }
  function supLoad(text, source, append) {
    const p = supParse(text);
    if (!p.tokens.length) throw { code: 'no_tokens', message: state.locale === 'zh-CN' ? '文本中没有找到令牌。' : 'No token was found in the text.' };
    if (!append) { sup.rows = []; sup.byId.clear(); sup.tokens.clear(); sup.progress = { ...sup.progress, running: false, total: 0, done: 0, finishedAt: null, startedAt: null }; }
    let added = 0; let dup = p.duplicates;
    for (const tok of p.tokens) {
      if ([...sup.tokens.values()].includes(tok)) { dup++; continue; }
      const row = { id: ++sup.nextId, masked: supMask(tok), ...inspectToken(tok), fingerprint: Math.floor(rand() * 0xffffffff).toString(16).padStart(8, '0'), state: 'ready', result: null };
      sup.rows.push(row); sup.byId.set(row.id, row); sup.tokens.set(row.id, tok); added++;
      if (sup.revokedBefore.size < 3 && row.kind === 'refresh' && row.id % 7 === 5) sup.revokedBefore.add(row.id);
    }
    sup.parse = { added, duplicates: dup, junkLines: p.junk, lines: p.lines, source };
    const missing = [...new Set(sup.rows.map((r) => r.userId).filter((u) => u != null && !sup.owners.has(u)))];
    sup.ownersPending = missing.length > 0;
    sup.full = true;
    supEmit(true);
    if (missing.length) {
      setTimeout(() => {
        for (const uid of missing) {
          const u = supportUsers.find((x) => x.id === uid);
          sup.owners.set(uid, u ? { id: uid, name: u.name, groups: u.groups, avatar: u.avatar ?? null, found: true } : { id: uid, name: '', groups: [], avatar: null, found: false });
          sup.dirtyOwners.add(uid);
        }
        sup.ownersPending = false;
        supEmit();
      }, q.get('support') ? 0 : 700);
    }
  }
  function supRun(ids) {
    const jobs = [];
    const refreshByRecord = new Map(sup.rows.filter((r) => r.kind === 'refresh').map((r) => [r.recordId, r.id]));
    for (const id of ids) {
      const row = sup.byId.get(id);
      if (!row) continue;
      if (row.kind === 'refresh') { row.state = 'queued'; row.result = null; jobs.push(row); } else {
        row.state = 'not_revocable';
        row.result = { reason: row.kind, refreshRowId: row.kind === 'access' ? refreshByRecord.get(row.recordId) : undefined, at: Date.now() };
      }
      sup.dirty.add(id);
    }
    if (!jobs.length) { supEmit(); return; }
    sup.cancel = false;
    sup.progress = { running: true, total: jobs.length, done: 0, inFlight: 0, revoked: 0, alreadyInvalid: 0, failed: 0, cancelled: 0, cancelRequested: false, startedAt: Date.now(), finishedAt: null };
    supEmit();
    let next = 0;
    const perRequest = Number(q.get('revokeMs') ?? 260);
    const worker = async () => {
      while (!sup.cancel && next < jobs.length) {
        const row = jobs[next++];
        row.state = 'running'; sup.progress.inFlight++; sup.dirty.add(row.id);
        await sleep(perRequest * (0.6 + rand() * 0.8));
        sup.progress.inFlight--; sup.progress.done++;
        const owner = sup.owners.get(row.userId);
        let result = 'revoked';
        if (sup.revokedBefore.has(row.id)) {
          row.state = 'already_invalid'; row.result = { code: 31, msg: '身份令牌无效或已过期', at: Date.now() }; sup.progress.alreadyInvalid++; result = 'already_invalid';
        } else if (row.id % 11 === 0 && !row.retried) {
          row.retried = true;
          row.state = 'error'; row.result = { error: 'unexpected_reply', msg: 'unexpected reply from the server (HTTP 502): <html>', httpStatus: 502, transient: true, at: Date.now() }; sup.progress.failed++; result = 'error';
        } else { row.state = 'revoked'; row.result = { at: Date.now() }; sup.progress.revoked++; sup.revokedBefore.add(row.id); }
        sup.audit.push({
          time: new Date().toISOString(), tool: 'app', actor: 'lin', profile: activeProfile()?.name ?? '', server: activeProfile()?.server ?? '',
          appCode: row.appCode ?? '', userId: row.userId, userName: owner?.name, recordId: row.recordId, kind: 'refresh', fingerprint: row.fingerprint,
          result, code: row.result.code ?? undefined, error: row.result.error, msg: row.result.msg,
        });
        sup.dirty.add(row.id);
        supEmit();
      }
    };
    Promise.all([worker(), worker(), worker(), worker()]).then(() => {
      for (const row of jobs) if (row.state === 'queued') { row.state = 'cancelled'; row.result = { at: Date.now() }; sup.progress.cancelled++; sup.dirty.add(row.id); }
      sup.progress.running = false; sup.progress.inFlight = 0; sup.progress.finishedAt = Date.now();
      supEmit();
    });
  }
  const auditSeed = () => {
    const now = Date.now();
    const out = [];
    for (let i = 0; i < 14; i++) {
      const u = supportUsers[i % supportUsers.length];
      // i = 5: an attempt whose result never came (the app was stopped mid-request).
      const res = i % 6 === 2 ? 'already_invalid' : i === 9 ? 'error' : i === 5 ? 'unknown' : 'revoked';
      out.push({
        time: new Date(now - (i + 1) * 3.7 * 3600e3).toISOString(), tool: i % 4 === 3 ? 'geniusctl' : 'app', actor: 'lin', profile: i % 4 === 3 ? 'geniusctl' : 'NCUOS',
        server: 'https://v.ncuos.com', appCode: i % 5 === 1 ? OTHER_APP : SUPPORT_APP, userId: u.id, userName: u.name, recordId: 3900 + i, kind: 'refresh',
        fingerprint: (0x1a2b3c4d + i * 7919).toString(16), result: res, attemptId: `5f0e33c1-${14 - i}`,
        code: res === 'already_invalid' ? 31 : undefined, error: res === 'error' ? 'timeout' : undefined,
        msg: res === 'already_invalid' ? '身份令牌无效或已过期' : res === 'error' ? 'the server did not answer in time' : undefined,
      });
    }
    return out.reverse();
  };
  sup.audit = q.get('audit') === 'empty' ? [] : auditSeed();
  const supportCommands = {
    support_state: async () => supFull(),
    parse_tokens: async ({ text, append }) => { await sleep(latency / 2); supLoad(text, 'text', append); return supStatus(false); },
    open_token_file: async ({ append }) => {
      await sleep(latency);
      const rows = sampleTokens(12).map((tok, i) => `"${tok}",user ${i}`);
      supLoad(`token,owner\r\n${rows.join('\r\n')}\r\n`, 'tokens-2025-03.csv', append);
      return supStatus(false);
    },
    revoke_tokens: async ({ ids, all }) => {
      if (sup.progress.running) throw { code: 'support_busy', message: 'busy' };
      const chosen = all ? sup.rows.filter((r) => r.kind === 'refresh' && !r.expired && ['ready', 'error', 'cancelled'].includes(r.state)).map((r) => r.id) : (ids ?? []);
      if (!chosen.length) throw { code: 'nothing_selected', message: state.locale === 'zh-CN' ? '没有选中可以注销的令牌。' : 'No revocable token is selected.' };
      supRun(chosen);
      return supStatus(false);
    },
    cancel_revoke: async () => { if (sup.progress.running) { sup.cancel = true; sup.progress.cancelRequested = true; supEmit(); } return supStatus(false); },
    retry_failed: async () => {
      const ids = sup.rows.filter((r) => r.state === 'error').map((r) => r.id);
      if (!ids.length) throw { code: 'nothing_to_retry', message: 'No revocation failed.' };
      supRun(ids);
      return supStatus(false);
    },
    clear_tokens: async () => { sup.rows = []; sup.byId.clear(); sup.tokens.clear(); sup.parse = null; supEmit(true); return supStatus(false); },
    audit_log: async ({ query }) => {
      await sleep(latency / 3);
      const words = (query ?? '').toLowerCase().split(/\s+/).filter(Boolean);
      const all = sup.audit.slice().reverse();
      const hay = (e) => [e.time, e.tool, e.actor, e.profile, e.server, e.appCode, e.userId, e.userName, e.recordId, e.recordId != null ? `#${e.recordId}` : '', e.fingerprint, e.result, e.code, e.error, e.msg].filter((x) => x != null).join(' ').toLowerCase();
      const matched = all.filter((e) => words.every((w) => hay(e).includes(w)));
      return { entries: matched.slice(0, 2000).map((e) => ({ ...e, at: Date.parse(e.time) })), total: all.length, matched: matched.length, unreadableLines: 0, path: supStatus(false).auditPath };
    },
    export_audit_csv: async ({ query }) => {
      await sleep(latency);
      const view = await supportCommands.audit_log({ query });
      return { path: '/home/lin/genius-account-audit.csv', count: view.matched };
    },
  };
  Object.assign(commands, supportCommands);
  (function prefill() {
    const mode = q.get('support');
    if (!mode || mode === 'empty') return;
    const n = mode === 'many' ? 10000 : 40;
    const text = sampleTokens(n).join('\n') + '\nsome note that is not a token\n' + (mode === 'many' ? '' : 'eyJhbGciOi\n');
    supLoad(text, 'text', false);
    for (const [uid] of sup.owners) sup.owners.get(uid);
    const missing = [...new Set(sup.rows.map((r) => r.userId).filter((u) => u != null))];
    for (const uid of missing) {
      const u = supportUsers.find((x) => x.id === uid);
      sup.owners.set(uid, { id: uid, name: u?.name ?? '', groups: u?.groups ?? [], avatar: u?.avatar ?? null, found: Boolean(u) });
    }
    sup.ownersPending = false;
    if (mode === 'done' || mode === 'running') {
      const ids = sup.rows.map((r) => r.id);
      const refreshRows = sup.rows.filter((r) => r.kind === 'refresh' && !r.expired);
      if (mode === 'done') {
        let i = 0;
        for (const row of refreshRows) {
          i++;
          if (sup.revokedBefore.has(row.id)) { row.state = 'already_invalid'; row.result = { code: 31, msg: '身份令牌无效或已过期', at: Date.now() }; } else if (i % 11 === 0) { row.state = 'error'; row.result = { error: 'unexpected_reply', msg: 'unexpected reply from the server (HTTP 502)', httpStatus: 502, transient: true, at: Date.now() }; } else { row.state = 'revoked'; row.result = { at: Date.now() }; }
        }
        const access = sup.rows.find((r) => r.kind === 'access' && !r.expired);
        if (access) { access.state = 'not_revocable'; access.result = { reason: 'access', refreshRowId: sup.rows.find((r) => r.kind === 'refresh' && r.recordId === access.recordId)?.id, at: Date.now() }; }
        const lonely = sup.rows.find((r) => r.kind === 'access' && r.expired);
        if (lonely) { lonely.state = 'not_revocable'; lonely.result = { reason: 'access', at: Date.now() }; }
        const count = (s) => refreshRows.filter((r) => r.state === s).length;
        sup.progress = { running: false, total: refreshRows.length, done: refreshRows.length, inFlight: 0, revoked: count('revoked'), alreadyInvalid: count('already_invalid'), failed: count('error'), cancelled: 0, cancelRequested: false, startedAt: Date.now() - 9000, finishedAt: Date.now() };
      } else {
        setTimeout(() => supRun(refreshRows.map((r) => r.id)), 50);
        void ids;
      }
    }
  })();
  window.__TAURI__ = {
    core: { invoke },
    event: {
      listen: async (name, cb) => {
        const set = name === 'state' ? listeners : name === 'support' ? supportListeners : null;
        if (!set) return () => {};
        set.add(cb);
        return () => set.delete(cb);
      },
    },
  };
  window.__mock = { state, emit, sup, fail: (cmd, code) => failures.set(cmd, code), unfail: (cmd) => failures.delete(cmd) };
})();
