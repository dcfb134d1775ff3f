//! OS notifications for what happens while nobody looks: the session ended (code 31) while the
//! window was hidden or minimised, and the refresh token has less than a day left (once per
//! login record). The decision is a pure function of two snapshots, tested below.

use std::collections::BTreeSet;
use std::sync::Mutex;

use account::snapshot::{SessionState, Snapshot};

/// What to tell the user, in the snapshot's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub title: String,
    pub body: String,
}

/// What the decision needs of a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Glance {
    pub state: Option<SessionState>,
    /// The refresh token's login record and whether it has under a day left.
    pub refresh: Option<(u64, bool)>,
    pub chinese: bool,
}

impl Glance {
    pub fn of(snapshot: &Snapshot) -> Glance {
        let session = snapshot.session.as_ref();
        Glance {
            state: session.map(|s| s.state),
            refresh: session
                .and_then(|s| s.refresh.as_ref())
                .map(|r| (r.record_id, r.expiring_soon)),
            chinese: snapshot.locale == "zh-CN",
        }
    }
}

#[derive(Default)]
pub struct Notices {
    last: Mutex<Option<Option<SessionState>>>,
    warned_records: Mutex<BTreeSet<u64>>,
}

impl Notices {
    /// The notice this snapshot calls for; `unseen` is whether the window is hidden or
    /// minimised (an ended session is only announced then: otherwise the window shows it).
    pub fn decide(&self, now: Glance, unseen: bool) -> Option<Notice> {
        let before = self
            .last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(now.state);
        let zh = now.chinese;
        let was_live = matches!(
            before,
            Some(Some(SessionState::SignedIn | SessionState::Offline))
        );
        if unseen && was_live && now.state == Some(SessionState::Expired) {
            return Some(if zh {
                Notice {
                    title: "GeniusAuth 会话已结束".into(),
                    body: "服务器不再接受此会话（已被吊销、已过期或账号信息有变），请重新登录。"
                        .into(),
                }
            } else {
                Notice {
                    title: "Your GeniusAuth session ended".into(),
                    body: "The server no longer accepts it (revoked, expired, or your account \
                           changed). Sign in again."
                        .into(),
                }
            });
        }
        let (record, expiring_soon) = now.refresh?;
        if now.state == Some(SessionState::SignedIn) && expiring_soon {
            let first = self
                .warned_records
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(record);
            if first {
                return Some(if zh {
                    Notice {
                        title: "GeniusAuth 会话即将到期".into(),
                        body: "刷新令牌将在 24 小时内到期，到期后需要重新登录。".into(),
                    }
                } else {
                    Notice {
                        title: "Your GeniusAuth session ends soon".into(),
                        body: "The refresh token expires within 24 hours; then you sign in again."
                            .into(),
                    }
                });
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glance(state: Option<SessionState>, record: u64, soon: bool) -> Glance {
        Glance {
            state,
            refresh: state.map(|_| (record, soon)),
            chinese: false,
        }
    }

    #[test]
    fn an_ended_session_is_announced_only_when_the_window_is_not_seen() {
        let shown = Notices::default();
        assert_eq!(
            shown.decide(glance(Some(SessionState::SignedIn), 1, false), false),
            None
        );
        assert_eq!(
            shown.decide(glance(Some(SessionState::Expired), 1, false), false),
            None
        );

        let hidden = Notices::default();
        assert_eq!(
            hidden.decide(glance(Some(SessionState::Offline), 1, false), true),
            None
        );
        let notice = hidden
            .decide(glance(Some(SessionState::Expired), 1, false), true)
            .expect("announced");
        assert!(notice.title.contains("ended"), "{notice:?}");
        // Once: the next snapshot of the same expired session says nothing.
        assert_eq!(
            hidden.decide(glance(Some(SessionState::Expired), 1, false), true),
            None
        );
        // Starting expired (restored from a dead token) is no transition either.
        let fresh = Notices::default();
        assert_eq!(
            fresh.decide(glance(Some(SessionState::Expired), 1, false), true),
            None
        );
    }

    #[test]
    fn the_last_day_is_announced_once_per_login_record() {
        let notices = Notices::default();
        assert_eq!(
            notices.decide(glance(Some(SessionState::SignedIn), 7, false), false),
            None
        );
        assert!(notices
            .decide(glance(Some(SessionState::SignedIn), 7, true), false)
            .is_some());
        assert_eq!(
            notices.decide(glance(Some(SessionState::SignedIn), 7, true), true),
            None
        );
        // A new sign-in (another record) in its last day is told again.
        assert!(notices
            .decide(glance(Some(SessionState::SignedIn), 8, true), false)
            .is_some());
        let zh = Glance {
            chinese: true,
            ..glance(Some(SessionState::SignedIn), 9, true)
        };
        assert!(notices
            .decide(zh, false)
            .unwrap()
            .title
            .contains("即将到期"));
    }
}
