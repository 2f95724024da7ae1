//! Usage counts in Redis: a hash per key (`<ns>:usage:{<hash>}`, field `<hour>:<code>`), in
//! the key's cluster slot so the verify path counts in the call it makes anyway. A fold
//! (`ops/usage.rs`) moves a key's hash aside under an id (`<ns>:usage.fold:{<hash>}`),
//! writes it to DynamoDB, and deletes it: the id makes a fold that is tried again after a
//! failure add nothing twice.

use std::collections::{BTreeMap, HashSet};

use super::{Cache, CacheError};
use crate::domain::key::KeyHash;
use crate::domain::usage::{counts_by_hour, Counts, Hour, Tally, UsageTicket};

/// The kind of a key's live usage hash in its Redis name.
pub(super) const LIVE: &str = "usage";
/// The kind of the counts a fold has taken.
const FOLDING: &str = "usage.fold";
/// The field of the counts being folded that holds the fold's id.
const FOLD_ID_FIELD: &str = "#";

/// Counts a fold has taken from Redis, by hour, under the fold's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folding {
    pub fold_id: String,
    pub hours: BTreeMap<Hour, Counts>,
}

/// A key's counts not yet in DynamoDB: those still counting, and those a fold has taken
/// (which DynamoDB may hold already: the fold's id tells).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveUsage {
    pub live: BTreeMap<Hour, Counts>,
    pub folding: Option<Folding>,
}

impl Cache {
    /// Counts a refusal of a request whose presentation was counted (`ticket`), beside it.
    pub async fn count_refusal(
        &self,
        ticket: &UsageTicket,
        tally: Tally,
    ) -> Result<(), CacheError> {
        self.count_use(ticket, tally).await
    }

    /// Counts a request the cache missed as presented, once DynamoDB has said its key
    /// exists.
    pub async fn count_presented(&self, ticket: &UsageTicket) -> Result<(), CacheError> {
        self.count_use(ticket, Tally::Presented).await
    }

    async fn count_use(&self, ticket: &UsageTicket, tally: Tally) -> Result<(), CacheError> {
        let (counts, _) = self.usage_names(&ticket.hash);
        let mut cmd = redis::cmd("HINCRBY");
        cmd.arg(&counts).arg(ticket.hour.field(tally)).arg(1);
        let cmd = &cmd;
        let count: u64 = self
            .link
            .call(
                false,
                |mut conn| async move { cmd.query_async(&mut conn).await },
            )
            .await?;
        if count == 1 {
            self.expire_usage(&counts).await;
        }
        Ok(())
    }

    /// Gives a key's live counts (`counts`, its Redis name) their expiry, after a count
    /// started a field: a new hour, or a hash a fold has just taken away. Setting it then,
    /// rather than with every count, keeps it out of the verify path's round trip.
    ///
    /// A failure is logged, not returned: the request is counted already, and must be
    /// answered as if this had worked (the next fold takes the hash, expiry or not).
    pub(super) async fn expire_usage(&self, counts: &str) {
        let mut cmd = redis::cmd("EXPIRE");
        cmd.arg(counts).arg(super::scripts::USAGE_TTL.as_secs());
        let cmd = &cmd;
        let set = self
            .link
            .call(false, |mut conn| async move {
                cmd.query_async::<()>(&mut conn).await
            })
            .await;
        if let Err(err) = set {
            tracing::warn!(error = %err, "usage counts left without an expiry");
        }
    }

    /// The Redis names of a key's live counts and of the counts a fold has taken.
    fn usage_names(&self, hash: &KeyHash) -> (String, String) {
        let hex = hash.to_hex();
        (self.name(LIVE, &hex), self.name(FOLDING, &hex))
    }

    /// Takes a key's counts for a fold with id `fold_id`, or the counts an earlier fold
    /// took and did not finish (under that fold's id). `None`: nothing to fold.
    pub async fn take_usage(
        &self,
        hash: &KeyHash,
        fold_id: &str,
    ) -> Result<Option<Folding>, CacheError> {
        let (live, folding) = self.usage_names(hash);
        let fields: Vec<(String, String)> = self
            .writes
            .call(true, |mut conn| {
                let call = self.scripts.take_usage(&live, &folding, fold_id);
                async move { call.invoke_async(&mut conn).await }
            })
            .await?;
        Ok(folding_of(fields))
    }

    /// Deletes the counts fold `fold_id` took, once DynamoDB holds them.
    pub async fn release_usage(&self, hash: &KeyHash, fold_id: &str) -> Result<(), CacheError> {
        let (_, folding) = self.usage_names(hash);
        self.writes
            .call(true, |mut conn| {
                let call = self.scripts.release_usage(&folding, fold_id);
                async move { call.invoke_async::<i64>(&mut conn).await }
            })
            .await
            .map(|_| ())
    }

    /// A key's counts not yet in DynamoDB.
    pub async fn live_usage(&self, hash: &KeyHash) -> Result<LiveUsage, CacheError> {
        let (live, folding) = self.usage_names(hash);
        let mut pipe = redis::pipe();
        pipe.cmd("HGETALL").arg(live).cmd("HGETALL").arg(folding);
        let pipe = &pipe;
        type Fields = Vec<(String, String)>;
        let (live, folding): (Fields, Fields) = self
            .writes
            .call(
                true,
                |mut conn| async move { pipe.query_async(&mut conn).await },
            )
            .await?;
        Ok(LiveUsage {
            live: counts_by_hour(numbers(&live)),
            folding: folding_of(folding),
        })
    }

    /// Every key hash with counts in Redis, live or being folded: what a fold goes through.
    /// One `SCAN` over the namespace, a thousand names a step.
    pub async fn usage_hashes(&self) -> Result<Vec<KeyHash>, CacheError> {
        let pattern = format!("{}:{LIVE}*", glob_escape(&self.settings.namespace));
        let mut hashes = HashSet::new();
        let mut cursor: u64 = 0;
        loop {
            let mut cmd = redis::cmd("SCAN");
            cmd.arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000);
            let cmd = &cmd;
            let (next, names): (u64, Vec<String>) = self
                .writes
                .call(
                    true,
                    |mut conn| async move { cmd.query_async(&mut conn).await },
                )
                .await?;
            for name in names {
                let hex = name
                    .rsplit_once(":{")
                    .and_then(|(_, rest)| rest.strip_suffix('}'));
                if let Some(hash) = hex.and_then(KeyHash::from_hex) {
                    hashes.insert(hash);
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        Ok(hashes.into_iter().collect())
    }
}

fn numbers(fields: &[(String, String)]) -> impl Iterator<Item = (&str, u64)> {
    fields
        .iter()
        .filter_map(|(f, v)| Some((f.as_str(), v.parse::<i64>().ok()?.max(0) as u64)))
}

fn folding_of(fields: Vec<(String, String)>) -> Option<Folding> {
    let fold_id = fields
        .iter()
        .find(|(f, _)| f == FOLD_ID_FIELD)
        .map(|(_, v)| v.clone())?;
    Some(Folding {
        fold_id,
        hours: counts_by_hour(numbers(&fields)),
    })
}

/// `text` with Redis's glob characters escaped, for a `MATCH` pattern.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_characters_in_the_namespace_match_only_themselves() {
        assert_eq!(glob_escape("kg:a*b?[c]"), "kg:a\\*b\\?\\[c\\]");
    }

    #[test]
    fn counts_being_folded_carry_their_fold_id() {
        let f = folding_of(vec![("#".into(), "f1".into()), ("5:p".into(), "3".into())]).unwrap();
        assert_eq!(f.fold_id, "f1");
        assert_eq!(f.hours[&Hour(5)].presented, 3);
        assert_eq!(folding_of(vec![("5:p".into(), "3".into())]), None);
    }
}
