//! Persistent state in SQLite: signing keys, apps, users and groups, pending login tokens
//! (single use) and login records with their revocable token "points" (the server keeps those
//! in Redis; here they live next to everything else so that a restart keeps them).

use std::path::Path;

use ed25519_dalek::SigningKey;
use rand::rngs::OsRng;
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::Error;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS groups (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    avatar_url TEXT,
    oid INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS user_groups (
    id INTEGER PRIMARY KEY,
    uid INTEGER NOT NULL,
    gid INTEGER NOT NULL,
    UNIQUE (uid, gid)
);
CREATE TABLE IF NOT EXISTS apps (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    app_code TEXT NOT NULL UNIQUE,
    app_secret TEXT NOT NULL,
    callback TEXT NOT NULL,
    permit_all_group INTEGER NOT NULL,
    all_groups INTEGER NOT NULL,
    is_demo INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS app_groups (aid INTEGER NOT NULL, gid INTEGER NOT NULL, PRIMARY KEY (aid, gid));
CREATE TABLE IF NOT EXISTS pending_logins (
    id INTEGER PRIMARY KEY,
    uid INTEGER NOT NULL,
    app_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    avatar_url TEXT NOT NULL,
    groups TEXT NOT NULL,
    expires_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS login_records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uid INTEGER NOT NULL,
    app_id INTEGER NOT NULL,
    valid_seconds INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    point_expires_at_ms INTEGER
);
CREATE TABLE IF NOT EXISTS canceled_tokens (
    id INTEGER PRIMARY KEY,
    app_code TEXT NOT NULL,
    valid_before INTEGER NOT NULL
);
";

/// A registered application. `Debug` prints the secret as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct App {
    pub id: i64,
    pub name: String,
    pub app_code: String,
    pub app_secret: String,
    pub callback: String,
    /// Users outside the app's groups may still sign in (with no groups).
    pub permit_all_group: bool,
    /// Emulator convenience: every group, present and future, is visible to the app.
    pub all_groups: bool,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("app_code", &self.app_code)
            .field("app_secret", &crate::HIDDEN)
            .field("callback", &self.callback)
            .field("permit_all_group", &self.permit_all_group)
            .field("all_groups", &self.all_groups)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: u64,
    pub name: String,
    /// `None`: the emulator's own generated avatar.
    pub avatar_url: Option<String>,
    pub oid: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: u64,
    pub name: String,
}

/// What the server keeps in Redis behind a login token until it is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLogin {
    pub id: u64,
    pub uid: u64,
    pub app_id: i64,
    pub name: String,
    pub avatar_url: String,
    pub groups: Vec<String>,
    pub expires_at_ms: i64,
}

/// Where the database lives.
pub enum Location<'a> {
    Memory,
    File(&'a Path),
}

pub struct Store {
    conn: Connection,
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn to_i64(v: u64) -> Option<i64> {
    i64::try_from(v).ok()
}

/// Creates a missing database file readable by its owner only (mode 0600): it holds the
/// signing keys and every app secret. SQLite gives its -wal and -shm files the same mode.
fn create_private(path: &Path) -> Result<(), Error> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e.into()),
    }
}

impl Store {
    pub fn open(location: Location<'_>) -> Result<Store, Error> {
        let conn = match location {
            Location::Memory => Connection::open_in_memory()?,
            Location::File(path) => {
                create_private(path)?;
                let conn = Connection::open(path)?;
                conn.busy_timeout(std::time::Duration::from_secs(5))?;
                conn.pragma_update(None, "journal_mode", "WAL")?;
                conn
            }
        };
        conn.execute_batch(SCHEMA)?;
        Ok(Store { conn })
    }

    pub fn has_apps(&self) -> Result<bool, Error> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM apps", [], |r| r.get(0))?;
        Ok(n > 0)
    }

    fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    fn meta_set(&self, key: &str, value: &[u8]) -> Result<(), Error> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// A persisted Ed25519 key, created on first use.
    pub fn signing_key(&self, name: &str) -> Result<SigningKey, Error> {
        if let Some(bytes) = self.meta_get(name)? {
            let seed: [u8; 32] = bytes
                .try_into()
                .map_err(|_| Error::Corrupt(format!("{name} is not 32 bytes")))?;
            return Ok(SigningKey::from_bytes(&seed));
        }
        let key = SigningKey::generate(&mut OsRng);
        self.meta_set(name, key.as_bytes())?;
        Ok(key)
    }

    /// A persisted blob, created by `make` on first use.
    pub fn blob_or_insert(
        &self,
        name: &str,
        make: impl FnOnce() -> Vec<u8>,
    ) -> Result<Vec<u8>, Error> {
        if let Some(bytes) = self.meta_get(name)? {
            return Ok(bytes);
        }
        let bytes = make();
        self.meta_set(name, &bytes)?;
        Ok(bytes)
    }

    /// The next login-token id, shaped like the server's token-store ids
    /// (`counter << 18 | node << 10 | day of year`).
    pub fn next_login_token_id(&self, day_of_year: u64) -> Result<u64, Error> {
        let counter = match self.meta_get("login_token_counter")? {
            Some(bytes) => bytes
                .try_into()
                .map(u64::from_be_bytes)
                .map_err(|_| Error::Corrupt("login_token_counter".into()))?,
            None => 0,
        } + 1;
        self.meta_set("login_token_counter", &counter.to_be_bytes())?;
        Ok((counter << 18) + (1 << 10) + day_of_year)
    }

    pub fn ensure_group(&self, name: &str) -> Result<u64, Error> {
        self.conn
            .execute("INSERT OR IGNORE INTO groups (name) VALUES (?1)", [name])?;
        let id: i64 =
            self.conn
                .query_row("SELECT id FROM groups WHERE name = ?1", [name], |r| {
                    r.get(0)
                })?;
        Ok(to_u64(id))
    }

    pub fn create_user(
        &self,
        id: Option<u64>,
        name: &str,
        groups: &[String],
        avatar_url: Option<&str>,
    ) -> Result<u64, Error> {
        let uid = match id {
            Some(id) => {
                let id = to_i64(id)
                    .filter(|v| *v > 0)
                    .ok_or_else(|| Error::Invalid(format!("user id {id} is out of range")))?;
                self.conn.execute(
                    "INSERT INTO users (id, name, avatar_url) VALUES (?1, ?2, ?3)",
                    params![id, name, avatar_url],
                )?;
                id
            }
            None => {
                self.conn.execute(
                    "INSERT INTO users (name, avatar_url) VALUES (?1, ?2)",
                    params![name, avatar_url],
                )?;
                self.conn.last_insert_rowid()
            }
        };
        for group in groups {
            let gid = self.ensure_group(group)?;
            self.conn.execute(
                "INSERT OR IGNORE INTO user_groups (uid, gid) VALUES (?1, ?2)",
                params![uid, to_i64(gid)],
            )?;
        }
        Ok(to_u64(uid))
    }

    #[allow(clippy::too_many_arguments)]
    pub fn create_app(
        &self,
        name: &str,
        callback: &str,
        app_code: &str,
        app_secret: &str,
        groups: Option<&[String]>,
        permit_all_group: bool,
        is_demo: bool,
    ) -> Result<App, Error> {
        self.conn.execute(
            "INSERT INTO apps (name, app_code, app_secret, callback, permit_all_group, all_groups, is_demo)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![name, app_code, app_secret, callback, permit_all_group, groups.is_none(), is_demo],
        )?;
        let aid = self.conn.last_insert_rowid();
        for group in groups.unwrap_or_default() {
            let gid = self.ensure_group(group)?;
            self.conn.execute(
                "INSERT OR IGNORE INTO app_groups (aid, gid) VALUES (?1, ?2)",
                params![aid, to_i64(gid)],
            )?;
        }
        self.app_where("id = ?1", aid)?
            .ok_or_else(|| Error::Corrupt("app vanished after insert".into()))
    }

    fn app_where(
        &self,
        condition: &str,
        value: impl rusqlite::ToSql,
    ) -> Result<Option<App>, Error> {
        let sql = format!(
            "SELECT id, name, app_code, app_secret, callback, permit_all_group, all_groups
             FROM apps WHERE {condition} ORDER BY id LIMIT 1"
        );
        Ok(self
            .conn
            .query_row(&sql, [value], |r| {
                Ok(App {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    app_code: r.get(2)?,
                    app_secret: r.get(3)?,
                    callback: r.get(4)?,
                    permit_all_group: r.get(5)?,
                    all_groups: r.get(6)?,
                })
            })
            .optional()?)
    }

    pub fn app_by_code(&self, app_code: &str) -> Result<Option<App>, Error> {
        self.app_where("app_code = ?1", app_code)
    }

    pub fn demo_app(&self) -> Result<Option<App>, Error> {
        self.app_where("is_demo = ?1", 1)
    }

    pub fn user(&self, uid: u64) -> Result<Option<User>, Error> {
        let Some(id) = to_i64(uid) else {
            return Ok(None);
        };
        Ok(self
            .conn
            .query_row(
                "SELECT id, name, avatar_url, oid FROM users WHERE id = ?1 AND oid > 0",
                [id],
                |r| {
                    Ok(User {
                        id: to_u64(r.get(0)?),
                        name: r.get(1)?,
                        avatar_url: r.get(2)?,
                        oid: to_u64(r.get(3)?),
                    })
                },
            )
            .optional()?)
    }

    pub fn users(&self) -> Result<Vec<User>, Error> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, name, avatar_url, oid FROM users WHERE oid > 0 ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok(User {
                id: to_u64(r.get(0)?),
                name: r.get(1)?,
                avatar_url: r.get(2)?,
                oid: to_u64(r.get(3)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The user's groups in the order they were assigned.
    pub fn user_groups(&self, uid: u64) -> Result<Vec<Group>, Error> {
        let Some(id) = to_i64(uid) else {
            return Ok(Vec::new());
        };
        let mut stmt = self.conn.prepare(
            "SELECT groups.id, groups.name FROM user_groups
             JOIN groups ON groups.id = user_groups.gid
             WHERE user_groups.uid = ?1 ORDER BY user_groups.id",
        )?;
        let rows = stmt.query_map([id], |r| {
            Ok(Group {
                id: to_u64(r.get(0)?),
                name: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The user's groups that the app may see.
    pub fn user_groups_visible_to(&self, app: &App, uid: u64) -> Result<Vec<String>, Error> {
        let all = self.user_groups(uid)?;
        if app.all_groups {
            return Ok(all.into_iter().map(|g| g.name).collect());
        }
        let mut stmt = self
            .conn
            .prepare("SELECT gid FROM app_groups WHERE aid = ?1")?;
        let visible: Vec<i64> = stmt
            .query_map([app.id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(all
            .into_iter()
            .filter(|g| to_i64(g.id).is_some_and(|id| visible.contains(&id)))
            .map(|g| g.name)
            .collect())
    }

    /// Bumps the user's operation id, which invalidates every token carrying the old one
    /// (`ChangeOperateID` in internal/db/redis/UserJwt.go). `None` for an unknown or frozen
    /// user.
    pub fn bump_oid(&self, uid: u64) -> Result<Option<u64>, Error> {
        let Some(id) = to_i64(uid) else {
            return Ok(None);
        };
        self.conn.execute(
            "UPDATE users SET oid = oid + 1 WHERE id = ?1 AND oid > 0",
            [id],
        )?;
        Ok(self.user(uid)?.map(|u| u.oid))
    }

    /// Replaces the user's groups (unknown names are created) in the given order, then bumps
    /// the operation id, as the Feishu department sync does (internal/api/controllers/feishu/
    /// webhook.go `userUpdated`: `Departments(...).Sync`, then `ChangeOperateID`). `None` for
    /// an unknown or frozen user.
    pub fn replace_user_groups(&self, uid: u64, groups: &[String]) -> Result<Option<u64>, Error> {
        let Some(id) = to_i64(uid).filter(|_| self.user(uid).ok().flatten().is_some()) else {
            return Ok(None);
        };
        self.conn
            .execute("DELETE FROM user_groups WHERE uid = ?1", [id])?;
        for group in groups {
            let gid = self.ensure_group(group)?;
            self.conn.execute(
                "INSERT OR IGNORE INTO user_groups (uid, gid) VALUES (?1, ?2)",
                params![id, to_i64(gid)],
            )?;
        }
        self.bump_oid(uid)
    }

    /// Freezes the user: soft-deleted (every lookup leaves them out) and their operation id
    /// deleted, which the server publishes as oid 0 (internal/pkg/feishu/UserSync.go and
    /// webhook.go: `FrozeByIDSlice` / `FrozeByPhone`, then `UserJwtOperator.Del`). Here oid 0
    /// is both. `false` for an unknown or already frozen user.
    pub fn freeze_user(&self, uid: u64) -> Result<bool, Error> {
        let Some(id) = to_i64(uid) else {
            return Ok(false);
        };
        let changed = self
            .conn
            .execute("UPDATE users SET oid = 0 WHERE id = ?1 AND oid > 0", [id])?;
        Ok(changed > 0)
    }

    pub fn insert_pending_login(&self, login: &PendingLogin) -> Result<(), Error> {
        let groups =
            serde_json::to_string(&login.groups).map_err(|e| Error::Corrupt(e.to_string()))?;
        self.conn.execute(
            "INSERT INTO pending_logins (id, uid, app_id, name, avatar_url, groups, expires_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                to_i64(login.id),
                to_i64(login.uid),
                login.app_id,
                login.name,
                login.avatar_url,
                groups,
                login.expires_at_ms
            ],
        )?;
        Ok(())
    }

    /// Redis `GETDEL`: the pending login, once, unless it has expired.
    pub fn take_pending_login(&self, id: u64, now_ms: i64) -> Result<Option<PendingLogin>, Error> {
        let Some(key) = to_i64(id) else {
            return Ok(None);
        };
        let row = self
            .conn
            .query_row(
                "DELETE FROM pending_logins WHERE id = ?1
                 RETURNING uid, app_id, name, avatar_url, groups, expires_at_ms",
                [key],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, i64>(5)?,
                    ))
                },
            )
            .optional()?;
        let Some((uid, app_id, name, avatar_url, groups, expires_at_ms)) = row else {
            return Ok(None);
        };
        if now_ms >= expires_at_ms {
            return Ok(None);
        }
        let groups = serde_json::from_str(&groups).map_err(|e| Error::Corrupt(e.to_string()))?;
        Ok(Some(PendingLogin {
            id,
            uid: to_u64(uid),
            app_id,
            name,
            avatar_url,
            groups,
            expires_at_ms,
        }))
    }

    pub fn add_login_record(
        &self,
        uid: u64,
        app_id: i64,
        valid_seconds: i64,
        now_ms: i64,
    ) -> Result<u64, Error> {
        self.conn.execute(
            "INSERT INTO login_records (uid, app_id, valid_seconds, created_at_ms) VALUES (?1, ?2, ?3, ?4)",
            params![to_i64(uid), app_id, valid_seconds, now_ms],
        )?;
        Ok(to_u64(self.conn.last_insert_rowid()))
    }

    /// (Re)creates the record's token point, like the server's `SET id 1 EX valid`.
    pub fn set_record_point(&self, id: u64, expires_at_ms: i64) -> Result<(), Error> {
        self.conn.execute(
            "UPDATE login_records SET point_expires_at_ms = ?2 WHERE id = ?1",
            params![to_i64(id), expires_at_ms],
        )?;
        Ok(())
    }

    pub fn record_point_alive(&self, id: u64, now_ms: i64) -> Result<bool, Error> {
        let Some(key) = to_i64(id) else {
            return Ok(false);
        };
        let expires: Option<Option<i64>> = self
            .conn
            .query_row(
                "SELECT point_expires_at_ms FROM login_records WHERE id = ?1",
                [key],
                |r| r.get(0),
            )
            .optional()?;
        Ok(matches!(expires, Some(Some(at)) if now_ms < at))
    }

    pub fn destroy_record_point(&self, id: u64) -> Result<(), Error> {
        self.conn.execute(
            "UPDATE login_records SET point_expires_at_ms = NULL WHERE id = ?1",
            params![to_i64(id)],
        )?;
        Ok(())
    }

    /// `CanceledTokenTable.Add` (internal/db/redis/RefreshToken.go): what a later
    /// `WatchTokenOperation` snapshot lists.
    pub fn add_canceled_token(
        &self,
        id: u64,
        app_code: &str,
        valid_before: i64,
    ) -> Result<(), Error> {
        self.conn.execute(
            "INSERT INTO canceled_tokens (id, app_code, valid_before) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET app_code = excluded.app_code, valid_before = excluded.valid_before",
            params![to_i64(id), app_code, valid_before],
        )?;
        Ok(())
    }

    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    /// `CanceledTokenTable.Get`: the app's cancelled tokens still within their validity
    /// (the server drops the expired ones as it reads them), as (id, valid before).
    pub fn canceled_tokens(&self, app_code: &str, now_secs: i64) -> Result<Vec<(u64, i64)>, Error> {
        self.conn.execute(
            "DELETE FROM canceled_tokens WHERE valid_before <= ?1",
            [now_secs],
        )?;
        let mut stmt = self.conn.prepare(
            "SELECT id, valid_before FROM canceled_tokens WHERE app_code = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([app_code], |r| Ok((to_u64(r.get(0)?), r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
