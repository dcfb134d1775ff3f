//! Token owners' public profiles (`GET /api/v1/app/user/info?id=1,2,…`), looked up in batches
//! and cached: a list of 10,000 tokens of 300 users costs 6 calls, and a second paste none.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use futures_util::stream::{self, StreamExt};
use geniusauth::Client;
use serde::Serialize;

/// Ids per call: the ids travel comma-joined in the query string.
pub const BATCH: usize = 50;
/// Calls in flight at once.
const PARALLEL_CALLS: usize = 2;

/// A user as the public user-info call describes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    pub id: u64,
    pub name: String,
    pub avatar_url: String,
    pub groups: Vec<String>,
    /// False when the server does not know the id (the user was deleted, or the token is forged).
    pub found: bool,
}

impl Owner {
    fn unknown(id: u64) -> Owner {
        Owner {
            id,
            name: String::new(),
            avatar_url: String::new(),
            groups: Vec::new(),
            found: false,
        }
    }
}

/// The outcome of [`OwnerDirectory::resolve`].
#[derive(Debug, Default)]
pub struct ResolveReport {
    /// Server calls made.
    pub calls: usize,
    /// Ids that could not be looked up (their call failed); tried again next time.
    pub unresolved: usize,
    /// The last failure, if any call failed.
    pub error: Option<geniusauth::Error>,
}

/// A cache of owners for one server. Unknown ids are cached too.
#[derive(Debug, Default)]
pub struct OwnerDirectory {
    cache: Mutex<HashMap<u64, Owner>>,
}

impl OwnerDirectory {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, id: u64) -> Option<Owner> {
        lock(&self.cache).get(&id).cloned()
    }

    pub fn clear(&self) {
        lock(&self.cache).clear();
    }

    /// Looks up every id not cached yet, [`BATCH`] per call. `on_batch` sees each batch's owners
    /// (unknown ids included) as it arrives. A failed call does not stop the others.
    pub async fn resolve(
        &self,
        client: &Client,
        ids: impl IntoIterator<Item = u64>,
        on_batch: impl Fn(&[Owner]),
    ) -> ResolveReport {
        let missing: Vec<u64> = {
            let cache = lock(&self.cache);
            let mut seen = HashSet::new();
            ids.into_iter()
                .filter(|id| *id != 0 && !cache.contains_key(id) && seen.insert(*id))
                .collect()
        };
        let mut report = ResolveReport::default();
        let chunks: Vec<Vec<u64>> = missing.chunks(BATCH).map(<[u64]>::to_vec).collect();
        let mut calls = stream::iter(chunks)
            .map(|chunk: Vec<u64>| {
                let client = client.clone();
                async move {
                    let result = client.public_user_info(&chunk).await;
                    (chunk, result)
                }
            })
            .buffer_unordered(PARALLEL_CALLS);
        while let Some((chunk, result)) = calls.next().await {
            report.calls += 1;
            match result {
                Ok(users) => {
                    let mut owners: HashMap<u64, Owner> =
                        chunk.iter().map(|id| (*id, Owner::unknown(*id))).collect();
                    for user in users {
                        if let Some(owner) = owners.get_mut(&user.id) {
                            owner.name = user.name;
                            owner.avatar_url = user.avatar_url;
                            owner.groups = user.groups.into_iter().map(|g| g.name).collect();
                            owner.found = true;
                        }
                    }
                    let batch: Vec<Owner> =
                        chunk.iter().filter_map(|id| owners.remove(id)).collect();
                    {
                        let mut cache = lock(&self.cache);
                        for owner in &batch {
                            cache.insert(owner.id, owner.clone());
                        }
                    }
                    on_batch(&batch);
                }
                Err(err) => {
                    report.unresolved += chunk.len();
                    report.error = Some(err);
                }
            }
        }
        report
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
