//! `status` and `token`: the Genius Account app's session from the command line, like
//! `gh auth status` / `gh auth token`.
//!
//! Everything is read where the app keeps it, with the account crate's own readers: the
//! settings file in the app data folder ([`account::paths`]), the secrets in the OS keyring
//! under the app's service name, or in the opt-in secrets file. Nothing is ever written: not
//! the settings, not the keyring, not the secrets file (a refresh token the server refuses is
//! left for the app to forget).

use std::path::PathBuf;

use account::secret_store::{
    app_secret_key, refresh_token_key, FileStore, KeyringStore, SecretStore,
};
use account::settings_file::SettingsDamage;
use account::{AccountError, JsonSettingsFile, Profile, Settings};
use geniusauth::tokens::{self, TokenType};
use serde::Serialize;

use crate::failure::Failure;
use crate::output::print_json;

/// `status`: the profile asked about (`--profile`, else the app's active one) is not signed in.
pub const EXIT_NOT_SIGNED_IN: i32 = 1;
/// No settings file, no profiles, or no profile of that id or name.
pub const EXIT_NO_PROFILE: i32 = 4;
/// The profile has no stored session (signed out, never signed in, or forgotten).
pub const EXIT_SIGNED_OUT: i32 = 5;
/// The server refused the stored refresh token (code 31): revoked, or expired by its clock.
pub const EXIT_SESSION_ENDED: i32 = 6;
/// The secrets cannot be read: the keyring is unavailable, locked or did not answer; or the
/// opt-in secrets file is damaged or readable by others.
pub const EXIT_SECRETS_UNAVAILABLE: i32 = 7;

/// The exit codes, for `--help` (and the README says the same).
pub const STATUS_HELP: &str = "The Genius Account app's profiles, read from its settings file, \
    and for each: who is signed in, until when, and where its secrets are kept (the OS keyring or \
    the opt-in secrets file). Nothing is sent to the server and nothing is changed.\n\n\
    Without --profile every profile is listed and the exit status is about the app's active \
    profile (the one `geniusctl token` uses); with --profile NAME (a profile's name or id) only \
    that one.\n\n\
    Exit status:\n  0  signed in\n  1  not signed in (signed out, or the session has expired)\n  \
    2  usage\n  4  no such profile (no settings file, no profiles, or none of that name)\n  \
    7  the secrets cannot be read (the keyring is unavailable or locked, the secrets file is \
    damaged or readable by others)";

pub const TOKEN_HELP: &str = "Prints a fresh access token of the Genius Account app's session \
    on stdout, and nothing else: the profile's refresh token and app secret are read from the \
    same keyring entries (or the opt-in secrets file) the app uses, and the server is asked for \
    a new access token. For scripts: curl -H \"Authorization: $(geniusctl token)\" …\n\n\
    The profile is the app's active one, or --profile NAME (a profile's name or id). Nothing is \
    changed on this computer: the app keeps managing its session.\n\n\
    Exit status (errors are one line on stderr):\n  0  the token is on stdout\n  \
    1  the server refused otherwise (JSON {code,msg,httpStatus} on stderr)\n  2  usage\n  \
    3  network trouble or an unreadable reply\n  \
    4  no such profile (no settings file, no profiles, none of that name, or no app secret \
    stored for it)\n  5  signed out (no session stored for the profile: sign in in the app)\n  \
    6  the session has ended (the server says code 31: the refresh token was revoked or has \
    expired; sign in again in the app)\n  \
    7  the secrets cannot be read (the keyring is unavailable or locked or did not answer; the \
    secrets file is damaged or readable by others)";

/// The app's files, as found now.
struct AppFiles {
    settings_path: PathBuf,
    settings: Settings,
    store: Store,
}

/// Where the app keeps the profiles' secrets, as its settings say.
enum Store {
    Keyring(KeyringStore),
    File(PathBuf, FileStore),
}

impl Store {
    fn get(&self) -> &dyn SecretStore {
        match self {
            Store::Keyring(store) => store,
            Store::File(_, store) => store,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Store::Keyring(_) => "keyring",
            Store::File(..) => "file",
        }
    }

    fn describe(&self) -> String {
        match self {
            Store::Keyring(_) => format!(
                "the OS keyring (service {})",
                account::paths::APP_IDENTIFIER
            ),
            Store::File(path, _) => format!("the secrets file {}", path.display()),
        }
    }
}

fn failure(code: i32, message: impl Into<String>) -> Failure {
    Failure::Exit {
        code,
        message: Some(message.into()),
    }
}

impl AppFiles {
    fn read() -> Result<AppFiles, Failure> {
        let data_dir = account::paths::app_data_dir().ok_or_else(|| {
            failure(
                EXIT_NO_PROFILE,
                "no home folder: cannot tell where the Genius Account app keeps its settings",
            )
        })?;
        let settings_path = data_dir.join(account::paths::SETTINGS_FILE);
        let settings = match JsonSettingsFile(settings_path.clone()).read() {
            Ok(Some(settings)) => settings,
            Ok(None) => {
                return Err(failure(
                    EXIT_NO_PROFILE,
                    format!(
                        "no Genius Account settings at {}: set up a profile in the app first",
                        settings_path.display()
                    ),
                ))
            }
            Err(damage) => {
                return Err(failure(
                    EXIT_NO_PROFILE,
                    format!(
                        "the Genius Account settings at {} cannot be used ({}); start the app \
                         to recover them",
                        settings_path.display(),
                        describe_damage(damage)
                    ),
                ))
            }
        };
        let store = if settings.file_store_opt_in {
            let path = data_dir.join(account::secret_store::SECRETS_FILE);
            Store::File(path.clone(), FileStore::beside_the_app(path))
        } else {
            Store::Keyring(KeyringStore::new(account::paths::APP_IDENTIFIER))
        };
        Ok(AppFiles {
            settings_path,
            settings,
            store,
        })
    }

    /// `--profile`'s profile (an id, else a name), or the active one.
    fn select(&self, wanted: Option<&str>) -> Result<&Profile, Failure> {
        let profiles = &self.settings.profiles;
        if profiles.is_empty() {
            return Err(failure(
                EXIT_NO_PROFILE,
                format!(
                    "the Genius Account app has no profiles ({}): set one up in the app",
                    self.settings_path.display()
                ),
            ));
        }
        let Some(wanted) = wanted else {
            return self.settings.active_profile().ok_or_else(|| {
                failure(
                    EXIT_NO_PROFILE,
                    format!(
                        "no profile is active in the app; pick one with --profile ({})",
                        known_profiles(profiles)
                    ),
                )
            });
        };
        if let Some(profile) = profiles.iter().find(|p| p.id == wanted) {
            return Ok(profile);
        }
        let named: Vec<&Profile> = profiles.iter().filter(|p| p.name == wanted).collect();
        match named.as_slice() {
            [profile] => Ok(profile),
            [] => Err(failure(
                EXIT_NO_PROFILE,
                format!(
                    "no profile named {wanted:?}; the app has {}",
                    known_profiles(profiles)
                ),
            )),
            several => Err(Failure::Usage(format!(
                "{} profiles are named {wanted:?}: give one's id to --profile ({})",
                several.len(),
                several
                    .iter()
                    .map(|p| p.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// A secret of the profile (keyring calls are bounded by the store's timeout).
    fn secret(&self, key: &str) -> Result<Option<String>, Failure> {
        self.store
            .get()
            .get(key)
            .map_err(|err| self.store_failure(err))
    }

    fn store_failure(&self, err: AccountError) -> Failure {
        let hint = match (&err, &self.store) {
            (AccountError::KeyringUnavailable(_), _) => {
                " (unlock the keyring, or check that a Secret Service runs in this session)"
            }
            (AccountError::SecretsFileTooOpen { .. }, _) => {
                " (the app offers to narrow it to its owner, or run chmod 600 on it)"
            }
            _ => "",
        };
        failure(
            EXIT_SECRETS_UNAVAILABLE,
            format!("cannot read {}: {err}{hint}", self.store.describe()),
        )
    }
}

fn known_profiles(profiles: &[Profile]) -> String {
    let names: Vec<String> = profiles
        .iter()
        .map(|p| format!("{:?} (id {})", p.name, p.id))
        .collect();
    format!("profiles {}", names.join(", "))
}

fn describe_damage(damage: SettingsDamage) -> &'static str {
    match damage {
        SettingsDamage::Empty => "the file is empty",
        SettingsDamage::Truncated => "the file is cut off",
        SettingsDamage::NotJson => "the file is not JSON",
        SettingsDamage::WrongShape => "the file holds no settings",
        SettingsDamage::Unreadable => "the file cannot be read",
    }
}

// ---- status -------------------------------------------------------------------------------

/// `status --json`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusReport {
    settings_file: String,
    active_profile_id: Option<String>,
    /// `keyring` or `file`.
    secret_store: &'static str,
    /// The keyring service name, or the secrets file's path.
    secret_location: String,
    profiles: Vec<ProfileStatus>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProfileStatus {
    id: String,
    name: String,
    server: String,
    app_code: String,
    active: bool,
    signed_in: bool,
    /// `signed_in`, `signed_out`, `expired` (by the refresh token's own time) or
    /// `unavailable` (the secrets could not be read: see `error`).
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<UserStatus>,
    /// When the refresh token expires, Unix seconds (the server's time, as it wrote it).
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at_utc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserStatus {
    uid: u64,
    /// The name the app last saw (empty when it never loaded it).
    name: String,
    groups: Vec<String>,
}

pub async fn status(profile: Option<&str>, json: bool) -> Result<(), Failure> {
    let files = AppFiles::read()?;
    let selected = files.select(profile)?.clone();
    let shown: Vec<Profile> = match profile {
        Some(_) => vec![selected.clone()],
        None => files.settings.profiles.clone(),
    };
    let active = files.settings.active_profile_id.clone();
    let mut statuses = Vec::new();
    let mut selected_outcome: Result<bool, Failure> = Ok(false);
    for p in &shown {
        let (status, outcome) = profile_status(&files, p, active.as_deref() == Some(&p.id));
        if p.id == selected.id {
            selected_outcome = outcome;
        }
        statuses.push(status);
    }
    let report = StatusReport {
        settings_file: files.settings_path.display().to_string(),
        active_profile_id: active,
        secret_store: files.store.name(),
        secret_location: match &files.store {
            Store::Keyring(_) => account::paths::APP_IDENTIFIER.to_owned(),
            Store::File(path, _) => path.display().to_string(),
        },
        profiles: statuses,
    };
    if json {
        print_json(&report)?;
    } else {
        print_text(&report, &files.store)?;
    }
    match selected_outcome {
        Ok(true) => Ok(()),
        Ok(false) => Err(Failure::Exit {
            code: EXIT_NOT_SIGNED_IN,
            message: None,
        }),
        Err(failure) => Err(failure),
    }
}

/// One profile's status, and whether it is signed in (or why that cannot be told).
fn profile_status(
    files: &AppFiles,
    profile: &Profile,
    active: bool,
) -> (ProfileStatus, Result<bool, Failure>) {
    let mut status = ProfileStatus {
        id: profile.id.clone(),
        name: profile.name.clone(),
        server: profile.server.clone(),
        app_code: profile.app_code.clone(),
        active,
        signed_in: false,
        state: "signed_out",
        user: None,
        expires_at: None,
        expires_at_utc: None,
        error: None,
    };
    let stored = match files.secret(&refresh_token_key(&profile.id)) {
        Ok(stored) => stored,
        Err(failure) => {
            status.state = "unavailable";
            status.error = Some(failure.message().unwrap_or_default().to_owned());
            return (status, Err(failure));
        }
    };
    // What the app would restore: a refresh token (anything else it ignores).
    let claims = stored
        .as_deref()
        .and_then(|value| tokens::decode(value).ok())
        .map(|decoded| decoded.claims)
        .filter(|claims| claims.token_type == TokenType::Refresh);
    let Some(claims) = claims else {
        return (status, Ok(false));
    };
    let cached = files.settings.cached_user(&profile.id);
    status.user = Some(UserStatus {
        uid: cached.map_or(claims.uid, |c| c.user_id),
        name: cached.map(|c| c.name.clone()).unwrap_or_default(),
        groups: cached.map(|c| c.groups.clone()).unwrap_or_default(),
    });
    status.expires_at = claims.exp;
    status.expires_at_utc = claims.exp.map(utc_text);
    let signed_in = !claims.is_expired();
    status.signed_in = signed_in;
    status.state = if signed_in { "signed_in" } else { "expired" };
    (status, Ok(signed_in))
}

fn print_text(report: &StatusReport, store: &Store) -> Result<(), Failure> {
    use std::fmt::Write as _;
    let mut text = String::new();
    let _ = writeln!(text, "Genius Account settings: {}", report.settings_file);
    let _ = writeln!(text, "Secrets kept in {}", store.describe());
    let now = unix_now();
    for p in &report.profiles {
        let marker = if p.active { "*" } else { " " };
        let _ = writeln!(
            text,
            "{marker} {} (id {}): {}, app {}",
            p.name, p.id, p.server, p.app_code
        );
        let who = p.user.as_ref().map(|u| {
            if u.name.is_empty() {
                format!("user {}", u.uid)
            } else {
                format!("{} (user {})", u.name, u.uid)
            }
        });
        let until = p.expires_at.map(|exp| {
            format!(
                "{} ({})",
                utc_text(exp),
                if exp > now {
                    format!("in {}", span(exp - now))
                } else {
                    format!("{} ago", span(now - exp))
                }
            )
        });
        let line = match p.state {
            "signed_in" => format!(
                "signed in as {}, until {}",
                who.unwrap_or_default(),
                until.unwrap_or_else(|| "it is revoked (no expiry)".into())
            ),
            "expired" => format!(
                "not signed in: the session of {} expired {}",
                who.unwrap_or_default(),
                until.unwrap_or_default()
            ),
            "unavailable" => format!("unknown: {}", p.error.as_deref().unwrap_or_default()),
            _ => "not signed in".to_owned(),
        };
        let _ = writeln!(text, "    {line}");
    }
    write_stdout(&text)
}

fn write_stdout(text: &str) -> Result<(), Failure> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

// ---- token --------------------------------------------------------------------------------

pub async fn token(profile: Option<&str>) -> Result<(), Failure> {
    let files = AppFiles::read()?;
    let profile = files.select(profile)?;
    let refresh = files
        .secret(&refresh_token_key(&profile.id))?
        .filter(|value| {
            tokens::decode(value).is_ok_and(|d| d.claims.token_type == TokenType::Refresh)
        })
        .ok_or_else(|| {
            failure(
                EXIT_SIGNED_OUT,
                format!(
                    "not signed in on profile {:?} (id {}): sign in in the Genius Account app",
                    profile.name, profile.id
                ),
            )
        })?;
    let secret = files
        .secret(&app_secret_key(&profile.id))?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            failure(
                EXIT_NO_PROFILE,
                format!(
                    "profile {:?} (id {}) has no app secret in {}: edit the profile in the app",
                    profile.name,
                    profile.id,
                    files.store.describe()
                ),
            )
        })?;
    let config = geniusauth::Config::new(profile.app_code.clone(), secret.trim().to_owned())
        .with_base_url(&profile.server)?;
    let client = geniusauth::Client::new(config)?;
    let result = match client.refresh_access_token(&refresh).await {
        Ok(result) => result,
        Err(err) if err.is_token_invalid() => {
            return Err(failure(
                EXIT_SESSION_ENDED,
                format!(
                    "the session on profile {:?} (id {}) has ended: the server refused its \
                     refresh token (code 31: revoked, or expired); sign in again in the app",
                    profile.name, profile.id
                ),
            ))
        }
        Err(err) => return Err(err.into()),
    };
    if result.access_token.is_empty() {
        return Err(Failure::Network(
            "the server's reply holds no access token".into(),
        ));
    }
    write_stdout(&format!("{}\n", result.access_token))
}

// ---- time ---------------------------------------------------------------------------------

use geniusauth::clock::unix_now;

/// `2026-12-10T07:30:00Z`.
fn utc_text(unix_secs: i64) -> String {
    let rest = unix_secs.rem_euclid(86_400);
    let (year, month, day) = support::time::civil_from_days(unix_secs.div_euclid(86_400));
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// `6 d 23 h`, `5 h 2 min`, `40 s`.
fn span(secs: i64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else if m > 0 {
        format!("{m} min")
    } else {
        format!("{secs} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_text_formats_dates() {
        assert_eq!(utc_text(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_text(1_740_816_309), "2025-03-01T08:05:09Z");
        assert_eq!(utc_text(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn spans_read_naturally() {
        assert_eq!(span(40), "40 s");
        assert_eq!(span(600), "10 min");
        assert_eq!(span(5 * 3600 + 120), "5 h 2 min");
        assert_eq!(span(6 * 86_400 + 23 * 3600 + 59), "6 d 23 h");
    }
}
