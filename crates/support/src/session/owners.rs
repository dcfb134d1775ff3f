//! The rows' owners and their pictures, looked up in the background through the connection's
//! [`OwnerDirectory`]. Results for a directory that is no longer the session's (the profile
//! changed meanwhile) are dropped.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::state::State;
use super::view::OwnerView;
use super::{lock, Connection, Notify, SupportSession, MAX_AVATARS};
use crate::owners::{Owner, OwnerDirectory};

impl SupportSession {
    /// Looks owners up in the background; `owners_pending` is set before this returns, and the
    /// listener hears of it as `notify` says.
    pub(super) fn spawn_owner_lookup(&self, conn: Connection, notify: Notify) {
        let runtime = tokio::runtime::Handle::try_current().ok();
        self.change(notify, |st| {
            if runtime.is_some() {
                st.begin_owner_lookup();
            }
        });
        if let Some(runtime) = runtime {
            let session = self.clone();
            runtime.spawn(async move { session.lookup_owners_started(&conn).await });
        }
    }

    /// Resolves the owners of every row not known yet, then fetches their avatars.
    pub async fn lookup_owners(&self, conn: &Connection) {
        self.change(Notify::Soon, State::begin_owner_lookup);
        self.lookup_owners_started(conn).await;
    }

    async fn lookup_owners_started(&self, conn: &Connection) {
        let (directory, ids) = self.read(|st| (st.directory.clone(), st.unknown_owners()));
        if ids.is_empty() {
            self.change(Notify::Soon, State::end_owner_lookup);
            // Every owner is known, but a new list may show some whose picture is not.
            self.fetch_avatars(&directory, &conn.server).await;
            return;
        }
        let report = directory
            .resolve(&conn.client, ids.iter().copied(), |batch| {
                self.apply_owners(&directory, batch);
            })
            .await;
        // Ids answered from the cache (an earlier lookup) are not in any batch.
        let cached: Vec<Owner> = ids.iter().filter_map(|id| directory.get(*id)).collect();
        self.apply_owners(&directory, &cached);
        self.change(Notify::Soon, |st| {
            st.end_owner_lookup();
            if Arc::ptr_eq(&st.directory, &directory) {
                st.owner_error = report.error.map(|e| e.to_string());
            }
        });
        self.fetch_avatars(&directory, &conn.server).await;
    }

    /// Shows `owners`, found through `directory`, unless the session has moved on from it.
    pub(super) fn apply_owners(&self, directory: &Arc<OwnerDirectory>, owners: &[Owner]) {
        self.change(Notify::Soon, |st| {
            if Arc::ptr_eq(&st.directory, directory) {
                st.apply_owners(owners);
            }
        });
    }

    /// Fetches the pictures of the listed tokens' owners that have none yet: the owners of the
    /// most tokens first, and no more than MAX_AVATARS owners of the list in all (owners of an
    /// earlier list, kept in the cache, do not count).
    async fn fetch_avatars(&self, directory: &Arc<OwnerDirectory>, server: &str) {
        let Some(fetcher) = lock(&self.inner.avatars).clone() else {
            return;
        };
        let (ranked, have) = self.read(State::owners_without_avatar);
        let wanted: Vec<(u64, String)> = ranked
            .iter()
            .filter_map(|id| directory.get(*id))
            .filter(|o| o.found && !o.avatar_url.is_empty())
            .take(MAX_AVATARS.saturating_sub(have))
            .map(|o| (o.id, o.avatar_url))
            .collect();
        for (id, url) in wanted {
            let Some(data_url) = fetcher(url, server.to_owned()).await else {
                continue;
            };
            let current = self.change(Notify::Soon, |st| {
                let current = Arc::ptr_eq(&st.directory, directory);
                if let Some(owner) = st.owners.get_mut(&id).filter(|_| current) {
                    owner.avatar = Some(data_url);
                    st.touch_owner(id);
                }
                current
            });
            if !current {
                return;
            }
        }
    }
}

impl State {
    fn begin_owner_lookup(&mut self) {
        self.owners_pending += 1;
        self.touch();
    }

    fn end_owner_lookup(&mut self) {
        self.owners_pending = self.owners_pending.saturating_sub(1);
        self.touch();
    }

    /// The rows' owners not looked up yet, each once, in id order.
    fn unknown_owners(&self) -> Vec<u64> {
        self.rows
            .iter()
            .filter_map(|r| r.inspection.user_id)
            .filter(|id| !self.owners.contains_key(id))
            .collect::<BTreeSet<u64>>()
            .into_iter()
            .collect()
    }

    /// Keeps a picture already fetched; marks only owners whose view changed.
    fn apply_owners(&mut self, owners: &[Owner]) {
        for owner in owners {
            let avatar = self.owners.get(&owner.id).and_then(|o| o.avatar.clone());
            let view = OwnerView {
                id: owner.id,
                name: owner.name.clone(),
                groups: owner.groups.clone(),
                avatar,
                found: owner.found,
            };
            if self.owners.get(&owner.id) != Some(&view) {
                self.owners.insert(owner.id, view);
                self.touch_owner(owner.id);
            }
        }
    }

    /// The listed tokens' owners without a picture, those of the most tokens first (then by
    /// id), and how many owners of the list have one.
    fn owners_without_avatar(&self) -> (Vec<u64>, usize) {
        let mut tokens_of: HashMap<u64, usize> = HashMap::new();
        for uid in self.rows.iter().filter_map(|r| r.inspection.user_id) {
            *tokens_of.entry(uid).or_default() += 1;
        }
        let has_avatar = |id: &u64| self.owners.get(id).is_some_and(|o| o.avatar.is_some());
        let have = tokens_of.keys().filter(|id| has_avatar(id)).count();
        let mut missing: Vec<u64> = tokens_of
            .keys()
            .filter(|id| !has_avatar(id))
            .copied()
            .collect();
        missing.sort_by_key(|id| (std::cmp::Reverse(tokens_of[id]), *id));
        (missing, have)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::session::emulator::{Server, USERS_ROUTE};
    use crate::session::state::Row;
    use crate::session::testing::{connection, forged_refresh, session, wait_for};

    fn state_of_owners(uids: &[u64]) -> State {
        let mut st = State::default();
        for (i, uid) in uids.iter().enumerate() {
            let token = forged_refresh(*uid, i as u64 + 1);
            let inspection = crate::inspect(&token, None, 0);
            st.rows.push(Row::new(i as u32 + 1, token, inspection));
        }
        st.reindex();
        st
    }

    fn owner(id: u64, name: &str) -> Owner {
        Owner {
            id,
            name: name.into(),
            avatar_url: format!("/avatars/{id}.png"),
            groups: vec!["学生".into()],
            found: true,
        }
    }

    #[test]
    fn owners_of_the_most_tokens_come_first_and_pictures_are_kept() {
        let mut st = state_of_owners(&[3, 1, 3, 2, 1, 3, 4]);
        assert_eq!(st.unknown_owners(), [1, 2, 3, 4]);
        st.apply_owners(&[owner(1, "王芳"), owner(3, "张伟")]);
        assert_eq!(st.unknown_owners(), [2, 4]);
        st.owners.get_mut(&1).unwrap().avatar = Some("data:image/png;base64,AA".into());
        assert_eq!(st.owners_without_avatar(), (vec![3, 2, 4], 1));
        // The same owner again: nothing changes, nothing is marked, the picture stays.
        st.dirty_owners.clear();
        let version = st.version;
        st.apply_owners(&[owner(1, "王芳")]);
        assert_eq!(st.version, version);
        assert!(st.owners[&1].avatar.is_some());
        // Renamed: marked.
        st.apply_owners(&[owner(1, "王芳芳")]);
        assert_eq!(st.dirty_owners.iter().copied().collect::<Vec<_>>(), [1]);
        assert!(st.owners[&1].avatar.is_some());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn owners_and_pictures_arrive_after_a_paste() {
        let server = Server::start().await;
        let conn = connection(&server);
        let (session, events, _dir) = session();
        let fetched = Arc::new(Mutex::new(Vec::new()));
        let seen = fetched.clone();
        session.set_avatar_fetcher(Arc::new(move |url: String, server: String| {
            seen.lock().unwrap().push((url.clone(), server));
            Box::pin(async move { Some(format!("data:image/png;base64,{}", url.len())) })
        }));
        let uids = server.user_ids();
        let text: Vec<String> = uids
            .iter()
            .enumerate()
            .map(|(i, uid)| forged_refresh(*uid, i as u64 + 1))
            .chain([forged_refresh(987_654, 999)])
            .collect();
        session
            .load_text(&text.join("\n"), "text", false, &conn)
            .await
            .unwrap();
        // The paste's one event already says that owners are on their way.
        let first = events.all()[0].clone();
        assert_eq!(first.row_count, uids.len() + 1);
        assert!(first.owners_pending);
        wait_for("owners", || !session.status().owners_pending).await;
        wait_for("pictures", || fetched.lock().unwrap().len() == uids.len()).await;
        wait_for("the last event", || {
            events.all().last().unwrap().version == session.status().version
        })
        .await;
        let snapshot = session.snapshot();
        assert_eq!(snapshot.owners.len(), uids.len() + 1);
        for uid in &uids {
            let view = &snapshot.owners[&uid.to_string()];
            assert!(view.found);
            assert_eq!(view.name, server.user_name(*uid));
            assert!(view.avatar.as_deref().unwrap().starts_with("data:"));
        }
        assert!(!snapshot.owners["987654"].found);
        assert!(snapshot.owner_error.is_none());
        assert!(fetched
            .lock()
            .unwrap()
            .iter()
            .all(|(_, s)| *s == server.url()));
        // One call for all of them; looking them up again costs none.
        assert_eq!(server.count(USERS_ROUTE).await, 1);
        session.lookup_owners(&conn).await;
        assert_eq!(server.count(USERS_ROUTE).await, 1);
        assert!(!session.status().owners_pending);
    }

    #[tokio::test]
    async fn owners_found_for_a_server_left_meanwhile_are_dropped() {
        let (session, _events, _dir) = session();
        let old = session.read(|st| st.directory.clone());
        session.change(Notify::Now, |st| {
            st.directory = Arc::new(OwnerDirectory::new());
            st.touch();
        });
        session.apply_owners(&old, &[owner(1, "王芳")]);
        assert!(session.snapshot().owners.is_empty());
        let current = session.read(|st| st.directory.clone());
        session.apply_owners(&current, &[owner(1, "王芳")]);
        assert_eq!(session.snapshot().owners["1"].name, "王芳");
    }
}
