// A fake window.__TAURI__ implementing the commands of docs/ipc.md with in-memory state, so the
// UI can be previewed and screenshotted without the Rust side. Not shipped: ui/ never loads it.
//
// Query parameters (preview.html?...):
//   state=setup|signed-out|pending|signed-in|expiring|expired|offline   (default signed-in)
//   demo=1            demo mode (demo profile + demo users)
//   lang=en|zh-CN     resolved locale (default zh-CN); pref=system|en|zh-CN
//   theme=system|light|dark
//   storage=unavailable|file
//   error=server|network|invalid     a last failure already in the snapshot
//   fail=cmd:code[,cmd:code]         make these commands reject (code: server|network|token_invalid|invalid_input)
//   noavatar=1 | badavatar=1 | noaccess=1 | nogroups=1 | latency=ms (default 350)
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
    },
    en: {
      server: 'The server rejected the request.', token_invalid: 'The session expired or was revoked. Sign in again.', network: 'Could not reach the server. Check your connection.',
      invalid_input: 'Invalid input.', appCode: 'appCode must be 8 letters or digits.', payload: 'The payload is at most 32 characters.',
      offline: 'Could not reach v.ncuos.com (connection timed out).', keyring: 'No Secret Service provider (org.freedesktop.secrets) found.',
    },
  };

  const demoUsers = [
    { id: 1, name: '张伟' }, { id: 2, name: '李娜' }, { id: 3, name: '王芳' }, { id: 4, name: 'Alex Chen' },
  ];
  const PROFILES = {
    prod: { id: 'p1', name: 'NCUOS', server: 'https://v.ncuos.com', appCode: 'Ab3dE6g8', callback: 'http://127.0.0.1:47150/callback', preset: 'production', hasSecret: true },
    pre: { id: 'p2', name: 'NCUOS 预发布', server: 'https://v.ncuhome.club', appCode: 'Pr3R3l5e', callback: 'http://127.0.0.1:47150/callback', preset: 'prerelease', hasSecret: true },
    demo: { id: 'demo', name: 'Demo', server: 'http://127.0.0.1:4780', appCode: 'DEMO0001', callback: 'http://127.0.0.1:47150/callback', preset: 'emulator', hasSecret: true },
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
  };
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
      url: `${p.server}/oauth/authorize?appCode=${p.appCode}&redirect=${encodeURIComponent(p.callback)}&state=Zm9vYmFyYmF6cXV4`,
      expiresAt: Date.now() + 5 * 60e3,
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
      return fakeJwt();
    },
    revoke_session: () => busy('revoke', async () => { state.session = null; }),
    forget_session: () => busy('forget', async () => { state.session = null; }),
    dismiss_error: async () => { state.error = null; emit(); return snapshot(); },
  };

  async function invoke(cmd, args = {}) {
    const fn = commands[cmd];
    if (!fn) throw `command ${cmd} not found`;
    CURRENT.cmd = cmd;
    const result = await fn(args ?? {});
    return result;
  }

  window.__TAURI__ = {
    core: { invoke },
    event: {
      listen: async (name, cb) => {
        if (name !== 'state') return () => {};
        listeners.add(cb);
        return () => listeners.delete(cb);
      },
    },
  };
  window.__mock = { state, emit, fail: (cmd, code) => failures.set(cmd, code), unfail: (cmd) => failures.delete(cmd) };
})();
