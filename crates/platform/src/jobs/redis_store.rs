//! Redis as the job storage (`jobs.storage = "redis"`).
//!
//! `jobs::enqueue` still writes the job into `faena_jobs` inside the
//! caller's transaction: with this storage that table is an *outbox*. A
//! worker relays committed rows to Redis (taking them from the table only
//! after Redis holds them) and from then on the job lives in Redis: every
//! claim, heartbeat, outcome, admin action and listing below works on it.
//! A job therefore exists in Redis exactly when the change that enqueued it
//! committed. See docs/decisions/0018-redis-job-storage.md.
//!
//! Keys, under the configured prefix `p` (default `faena:jobs:`):
//! - `p job:<id>`: a hash with the job's fields; times in milliseconds
//!   since the epoch, `""` for none.
//! - `p due`: queued jobs, scored by `run_at`.
//! - `p leased`: running jobs, scored by `lease_until`; one whose score has
//!   passed was lost with its worker and is claimed again.
//! - `p ended`: succeeded and cancelled jobs by `finished_at`, for pruning.
//! - `p all`, `p state:<state>`, `p kind:<kind>`: ids, all with score 0,
//!   so they sort by id, which is a UUIDv7 and therefore by creation; the
//!   admin listing pages through them newest first, like the table.
//! - `p dedup:<kind>:<key>`: the id of the live job holding that key.
//!
//! Every change of state is one Lua script, so it is atomic, and a claim
//! cannot hand one job to two workers.

use chrono::{DateTime, Utc};
use redis::Script;
use redis::aio::ConnectionManager;
use sea_orm::DbErr;
use uuid::Uuid;

use super::entity::JobState;
use super::entity::job;

/// Hash fields of a job, in the order the push script writes them.
const PUSH: &str = r#"
local p = ARGV[1]
local pushed = 0
for i = 2, #ARGV, 8 do
  local id, kind, dedup, due = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local key = p .. 'job:' .. id
  if redis.call('EXISTS', key) == 0 then
    local fresh = true
    if dedup ~= '' then
      fresh = redis.call('SET', p .. 'dedup:' .. kind .. ':' .. dedup, id, 'NX')
    end
    if fresh then
      redis.call('HSET', key, 'id', id, 'kind', kind, 'payload', ARGV[i + 4],
        'state', 'queued', 'attempts', 0, 'max_attempts', ARGV[i + 5],
        'run_at', due, 'lease_until', '', 'worker', '', 'dedup_key', dedup,
        'progress_done', '', 'progress_total', '', 'progress_message', '',
        'last_error', '', 'cancel_requested', '0', 'created_at', ARGV[i + 6],
        'updated_at', ARGV[i + 6], 'started_at', '', 'finished_at', '',
        'request_id', ARGV[i + 7])
      redis.call('ZADD', p .. 'due', due, id)
      redis.call('ZADD', p .. 'all', 0, id)
      redis.call('ZADD', p .. 'state:queued', 0, id)
      redis.call('ZADD', p .. 'kind:' .. kind, 0, id)
      pushed = pushed + 1
    end
  end
end
return pushed
"#;

const CLAIM: &str = r#"
local p, now, lease, worker, n = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local out = {}
local function take(id)
  local key = p .. 'job:' .. id
  redis.call('HINCRBY', key, 'attempts', 1)
  redis.call('HSET', key, 'state', 'running', 'worker', worker, 'lease_until', lease,
    'started_at', now, 'updated_at', now)
  redis.call('ZADD', p .. 'leased', lease, id)
  out[#out + 1] = redis.call('HGETALL', key)
end
local lapsed = redis.call('ZRANGEBYSCORE', p .. 'leased', '-inf', '(' .. now, 'LIMIT', 0, n)
for _, id in ipairs(lapsed) do
  if redis.call('EXISTS', p .. 'job:' .. id) == 1 then take(id)
  else redis.call('ZREM', p .. 'leased', id) end
end
if #out < n then
  local due = redis.call('ZRANGEBYSCORE', p .. 'due', '-inf', now, 'LIMIT', 0, n - #out)
  for _, id in ipairs(due) do
    redis.call('ZREM', p .. 'due', id)
    if redis.call('EXISTS', p .. 'job:' .. id) == 1 then
      redis.call('ZREM', p .. 'state:queued', id)
      redis.call('ZADD', p .. 'state:running', 0, id)
      take(id)
    end
  end
end
return out
"#;

/// Shared by the scripts that end a job: frees its deduplication key if
/// the job still holds it.
const RELEASE: &str = r#"
local function release(p, id, kind, dedup)
  if dedup and dedup ~= '' then
    local holder = p .. 'dedup:' .. kind .. ':' .. dedup
    if redis.call('GET', holder) == id then redis.call('DEL', holder) end
  end
end
"#;

const FINISH: &str = r#"
local p, worker, now = ARGV[1], ARGV[2], ARGV[3]
local written = 0
for i = 4, #ARGV, 4 do
  local id, outcome, err, due = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local key = p .. 'job:' .. id
  local f = redis.call('HMGET', key, 'state', 'worker', 'kind', 'dedup_key')
  if f[1] == 'running' and f[2] == worker then
    redis.call('ZREM', p .. 'leased', id)
    redis.call('ZREM', p .. 'state:running', id)
    redis.call('HSET', key, 'lease_until', '', 'updated_at', now)
    if outcome == 'retry' or outcome == 'handback' then
      redis.call('HSET', key, 'state', 'queued', 'run_at', due, 'worker', '')
      if outcome == 'retry' then
        redis.call('HSET', key, 'last_error', err)
      else
        redis.call('HINCRBY', key, 'attempts', -1)
      end
      redis.call('ZADD', p .. 'state:queued', 0, id)
      redis.call('ZADD', p .. 'due', due, id)
    else
      redis.call('HSET', key, 'state', outcome, 'finished_at', now)
      if outcome ~= 'cancelled' then redis.call('HSET', key, 'last_error', err) end
      redis.call('ZADD', p .. 'state:' .. outcome, 0, id)
      if outcome ~= 'dead' then redis.call('ZADD', p .. 'ended', now, id) end
      release(p, id, f[3], f[4])
    end
    written = written + 1
  end
end
return written
"#;

const HEARTBEAT: &str = r#"
local p, worker, id, lease = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local key = p .. 'job:' .. id
local f = redis.call('HMGET', key, 'state', 'worker')
if f[1] ~= 'running' or f[2] ~= worker then return 0 end
redis.call('HSET', key, 'lease_until', lease)
redis.call('ZADD', p .. 'leased', lease, id)
return 1
"#;

const PROGRESS: &str = r#"
local key = ARGV[1] .. 'job:' .. ARGV[2]
if redis.call('EXISTS', key) == 0 then return 0 end
redis.call('HSET', key, 'progress_done', ARGV[3], 'progress_total', ARGV[4],
  'progress_message', ARGV[5], 'updated_at', ARGV[6])
return 1
"#;

const RETRY: &str = r#"
local p, id, now = ARGV[1], ARGV[2], ARGV[3]
local key = p .. 'job:' .. id
local f = redis.call('HMGET', key, 'state', 'kind', 'dedup_key', 'attempts')
if not f[1] then return {'missing'} end
if f[1] ~= 'dead' and f[1] ~= 'cancelled' then return {'not_retryable', f[1]} end
if f[3] and f[3] ~= '' then
  if not redis.call('SET', p .. 'dedup:' .. f[2] .. ':' .. f[3], id, 'NX') then
    return {'duplicate', f[1]}
  end
end
redis.call('HSET', key, 'state', 'queued', 'attempts', 0, 'run_at', now,
  'cancel_requested', '0', 'finished_at', '', 'updated_at', now)
redis.call('ZREM', p .. 'state:' .. f[1], id)
redis.call('ZREM', p .. 'ended', id)
redis.call('ZADD', p .. 'state:queued', 0, id)
redis.call('ZADD', p .. 'due', now, id)
return {'ok', f[1], f[4]}
"#;

const CANCEL: &str = r#"
local p, id, now = ARGV[1], ARGV[2], ARGV[3]
local key = p .. 'job:' .. id
local f = redis.call('HMGET', key, 'state', 'kind', 'dedup_key')
if not f[1] then return {'missing'} end
if f[1] == 'queued' or f[1] == 'dead' then
  redis.call('HSET', key, 'state', 'cancelled', 'finished_at', now, 'updated_at', now)
  redis.call('ZREM', p .. 'due', id)
  redis.call('ZREM', p .. 'state:' .. f[1], id)
  redis.call('ZADD', p .. 'state:cancelled', 0, id)
  redis.call('ZADD', p .. 'ended', now, id)
  release(p, id, f[2], f[3])
  return {'ok', f[1]}
elseif f[1] == 'running' then
  redis.call('HSET', key, 'cancel_requested', '1', 'updated_at', now)
  return {'ok', f[1]}
end
return {'finished', f[1]}
"#;

const PRUNE: &str = r#"
local p, cutoff, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local ids = redis.call('ZRANGEBYSCORE', p .. 'ended', '-inf', '(' .. cutoff, 'LIMIT', 0, limit)
for _, id in ipairs(ids) do
  local key = p .. 'job:' .. id
  local f = redis.call('HMGET', key, 'state', 'kind')
  redis.call('DEL', key)
  redis.call('ZREM', p .. 'ended', id)
  redis.call('ZREM', p .. 'all', id)
  if f[1] then redis.call('ZREM', p .. 'state:' .. f[1], id) end
  if f[2] then redis.call('ZREM', p .. 'kind:' .. f[2], id) end
end
return #ids
"#;

/// The outcome of an admin action on a job.
pub(crate) enum Admin {
    /// Done; the state the job was in before.
    Done {
        before: String,
        attempts: i32,
    },
    Missing,
    /// Refused: the state the job is in.
    NotNow(String),
    /// Retrying it would duplicate a live job with the same key.
    Duplicate(String),
}

/// Jobs kept in Redis.
pub struct RedisStore {
    client: redis::Client,
    /// Made at first use (so a Redis that is down at start does not stop
    /// the server: enqueues wait in the outbox), then reconnects by itself.
    connection: tokio::sync::OnceCell<ConnectionManager>,
    prefix: String,
    push: Script,
    claim: Script,
    finish: Script,
    heartbeat: Script,
    progress: Script,
    retry: Script,
    cancel: Script,
    prune: Script,
}

fn err(e: redis::RedisError) -> DbErr {
    DbErr::Custom(format!("job storage (Redis): {e}"))
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

impl RedisStore {
    /// The storage on the Redis at `url`; it connects at first use.
    pub fn new(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("jobs.storage is redis, but redis.url is invalid: {e}"))?;
        Ok(RedisStore {
            client,
            connection: tokio::sync::OnceCell::new(),
            prefix: prefix.to_owned(),
            push: Script::new(PUSH),
            claim: Script::new(CLAIM),
            finish: Script::new(&format!("{RELEASE}{FINISH}")),
            heartbeat: Script::new(HEARTBEAT),
            progress: Script::new(PROGRESS),
            retry: Script::new(RETRY),
            cancel: Script::new(&format!("{RELEASE}{CANCEL}")),
            prune: Script::new(PRUNE),
        })
    }

    async fn con(&self) -> Result<ConnectionManager, DbErr> {
        self.connection
            .get_or_try_init(|| {
                // Scripts over a batch of 500 jobs are quick, but a busy
                // Redis should not turn them into errors (and reruns).
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_response_timeout(Some(std::time::Duration::from_secs(5)));
                ConnectionManager::new_with_config(self.client.clone(), config)
            })
            .await
            .cloned()
            .map_err(err)
    }

    fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }

    /// Puts outbox rows in Redis. A row already there (relayed before, by
    /// a relay that then failed to delete it) is left alone; one whose
    /// deduplication key is held by a live job is dropped, as the table's
    /// unique index would have done. Returns how many became jobs.
    pub async fn push(&self, rows: &[job::Model]) -> Result<u64, DbErr> {
        let mut call = self.push.prepare_invoke();
        call.arg(&self.prefix);
        for row in rows {
            call.arg(row.id.to_string())
                .arg(&row.kind)
                .arg(row.dedup_key.as_deref().unwrap_or(""))
                .arg(ms(row.run_at))
                .arg(&row.payload)
                .arg(row.max_attempts)
                .arg(ms(row.created_at))
                .arg(row.request_id.as_deref().unwrap_or(""));
        }
        call.invoke_async(&mut self.con().await?).await.map_err(err)
    }

    /// Leases up to `n` due jobs (lost ones first) to `worker`.
    pub async fn claim(
        &self,
        worker: &str,
        n: u64,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<job::Model>, DbErr> {
        let hashes: Vec<Vec<(String, String)>> = self
            .claim
            .prepare_invoke()
            .arg(&self.prefix)
            .arg(ms(now))
            .arg(ms(lease_until))
            .arg(worker)
            .arg(n)
            .invoke_async(&mut self.con().await?)
            .await
            .map_err(err)?;
        hashes.into_iter().map(model).collect()
    }

    /// Records outcomes `(id, outcome, error, next run)`, each only if the
    /// job is still leased to `worker`.
    pub async fn finish(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        outcomes: &[(Uuid, &str, &str, DateTime<Utc>)],
    ) -> Result<(), DbErr> {
        let mut call = self.finish.prepare_invoke();
        call.arg(&self.prefix).arg(worker).arg(ms(now));
        for (id, outcome, error, run_at) in outcomes {
            call.arg(id.to_string())
                .arg(*outcome)
                .arg(*error)
                .arg(ms(*run_at));
        }
        let _: i64 = call
            .invoke_async(&mut self.con().await?)
            .await
            .map_err(err)?;
        Ok(())
    }

    pub async fn heartbeat(
        &self,
        worker: &str,
        id: Uuid,
        lease_until: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        let _: i64 = self
            .heartbeat
            .prepare_invoke()
            .arg(&self.prefix)
            .arg(worker)
            .arg(id.to_string())
            .arg(ms(lease_until))
            .invoke_async(&mut self.con().await?)
            .await
            .map_err(err)?;
        Ok(())
    }

    pub async fn progress(
        &self,
        id: Uuid,
        done: i64,
        total: i64,
        message: &str,
    ) -> Result<(), DbErr> {
        let _: i64 = self
            .progress
            .prepare_invoke()
            .arg(&self.prefix)
            .arg(id.to_string())
            .arg(done)
            .arg(total)
            .arg(message)
            .arg(ms(Utc::now()))
            .invoke_async(&mut self.con().await?)
            .await
            .map_err(err)?;
        Ok(())
    }

    pub async fn find(&self, id: Uuid) -> Result<Option<job::Model>, DbErr> {
        let fields: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(self.key(&format!("job:{id}")))
            .query_async(&mut self.con().await?)
            .await
            .map_err(err)?;
        if fields.is_empty() {
            return Ok(None);
        }
        model(fields).map(Some)
    }

    /// The live (queued or running) job of `kind` holding `dedup_key`.
    pub async fn live(&self, kind: &str, dedup_key: &str) -> Result<Option<job::Model>, DbErr> {
        let holder: Option<String> = redis::cmd("GET")
            .arg(self.key(&format!("dedup:{kind}:{dedup_key}")))
            .query_async(&mut self.con().await?)
            .await
            .map_err(err)?;
        let Some(id) = holder.and_then(|h| Uuid::parse_str(&h).ok()) else {
            return Ok(None);
        };
        Ok(self.find(id).await?.filter(|j| {
            j.state == JobState::Queued.as_str() || j.state == JobState::Running.as_str()
        }))
    }

    /// Jobs newest first, of one state and/or kind, with ids below
    /// `before`; at most `limit`.
    pub async fn list(
        &self,
        state: Option<JobState>,
        kind: Option<&str>,
        before: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<job::Model>, DbErr> {
        // Walk the narrower index and filter on the other condition.
        let index = match (kind, state) {
            (Some(k), _) => self.key(&format!("kind:{k}")),
            (None, Some(s)) => self.key(&format!("state:{}", s.as_str())),
            (None, None) => self.key("all"),
        };
        const BATCH: usize = 200;
        // Bounded, so a rare filter over a huge index cannot run away.
        const MAX_SCANNED: usize = 50_000;
        let mut max = before.map_or_else(|| "+".to_owned(), |b| format!("({b}"));
        let mut found = Vec::new();
        let mut scanned = 0;
        let mut con = self.con().await?;
        while (found.len() as u64) < limit && scanned < MAX_SCANNED {
            let ids: Vec<String> = redis::cmd("ZREVRANGEBYLEX")
                .arg(&index)
                .arg(&max)
                .arg("-")
                .arg("LIMIT")
                .arg(0)
                .arg(BATCH)
                .query_async(&mut con)
                .await
                .map_err(err)?;
            let Some(last) = ids.last() else { break };
            max = format!("({last}");
            scanned += ids.len();
            let mut pipe = redis::pipe();
            for id in &ids {
                pipe.cmd("HGETALL").arg(self.key(&format!("job:{id}")));
            }
            let hashes: Vec<Vec<(String, String)>> =
                pipe.query_async(&mut con).await.map_err(err)?;
            for fields in hashes.into_iter().filter(|f| !f.is_empty()) {
                let job = model(fields)?;
                if state.is_some_and(|s| job.state != s.as_str()) {
                    continue;
                }
                found.push(job);
                if found.len() as u64 >= limit {
                    break;
                }
            }
            if ids.len() < BATCH {
                break;
            }
        }
        Ok(found)
    }

    /// Jobs per state.
    pub async fn counts(&self) -> Result<Vec<(JobState, u64)>, DbErr> {
        let mut pipe = redis::pipe();
        for s in JobState::ALL {
            pipe.cmd("ZCARD")
                .arg(self.key(&format!("state:{}", s.as_str())));
        }
        let counts: Vec<u64> = pipe
            .query_async(&mut self.con().await?)
            .await
            .map_err(err)?;
        Ok(JobState::ALL.into_iter().zip(counts).collect())
    }

    async fn admin(&self, script: &Script, id: Uuid) -> Result<Admin, DbErr> {
        let reply: Vec<String> = script
            .prepare_invoke()
            .arg(&self.prefix)
            .arg(id.to_string())
            .arg(ms(Utc::now()))
            .invoke_async(&mut self.con().await?)
            .await
            .map_err(err)?;
        let state = reply.get(1).cloned().unwrap_or_default();
        Ok(match reply.first().map(String::as_str) {
            Some("ok") => Admin::Done {
                before: state,
                attempts: reply.get(2).and_then(|a| a.parse().ok()).unwrap_or(0),
            },
            Some("duplicate") => Admin::Duplicate(state),
            Some("missing") | None => Admin::Missing,
            Some(_) => Admin::NotNow(state),
        })
    }

    /// An admin's retry of a dead or cancelled job, with fresh attempts.
    pub(crate) async fn retry(&self, id: Uuid) -> Result<Admin, DbErr> {
        self.admin(&self.retry, id).await
    }

    /// An admin's cancel (queued), discard (dead) or stop request (running).
    pub(crate) async fn cancel(&self, id: Uuid) -> Result<Admin, DbErr> {
        self.admin(&self.cancel, id).await
    }

    /// Deletes succeeded and cancelled jobs that ended before `cutoff`.
    pub async fn prune(&self, cutoff: DateTime<Utc>) -> Result<u64, DbErr> {
        let mut total = 0;
        loop {
            let n: u64 = self
                .prune
                .prepare_invoke()
                .arg(&self.prefix)
                .arg(ms(cutoff))
                .arg(500)
                .invoke_async(&mut self.con().await?)
                .await
                .map_err(err)?;
            total += n;
            if n < 500 {
                return Ok(total);
            }
        }
    }
}

/// A job hash as the table's row type, which the worker, API and pages
/// share between storages.
fn model(fields: Vec<(String, String)>) -> Result<job::Model, DbErr> {
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let bad = |name: &str| DbErr::Custom(format!("job storage (Redis): bad field `{name}`"));
    let text = |name: &str| get(name).map(str::to_owned);
    let int = |name: &str| -> Result<Option<i64>, DbErr> {
        get(name)
            .map(|v| v.parse().map_err(|_| bad(name)))
            .transpose()
    };
    let time = |name: &str| -> Result<Option<DateTime<Utc>>, DbErr> {
        int(name)?
            .map(|t| DateTime::from_timestamp_millis(t).ok_or_else(|| bad(name)))
            .transpose()
    };
    let small = |name: &str| -> Result<i32, DbErr> {
        i32::try_from(int(name)?.unwrap_or(0)).map_err(|_| bad(name))
    };
    let state = text("state").ok_or_else(|| bad("state"))?;
    let live = state == JobState::Queued.as_str() || state == JobState::Running.as_str();
    Ok(job::Model {
        id: get("id")
            .and_then(|v| Uuid::parse_str(v).ok())
            .ok_or_else(|| bad("id"))?,
        kind: text("kind").ok_or_else(|| bad("kind"))?,
        payload: text("payload").unwrap_or_else(|| "null".into()),
        attempts: small("attempts")?,
        max_attempts: small("max_attempts")?,
        run_at: time("run_at")?.ok_or_else(|| bad("run_at"))?,
        lease_until: time("lease_until")?,
        worker: text("worker"),
        dedup_active: text("dedup_key").filter(|_| live),
        dedup_key: text("dedup_key"),
        progress_done: int("progress_done")?,
        progress_total: int("progress_total")?,
        progress_message: text("progress_message"),
        last_error: text("last_error"),
        cancel_requested: get("cancel_requested") == Some("1"),
        created_at: time("created_at")?.ok_or_else(|| bad("created_at"))?,
        updated_at: time("updated_at")?.ok_or_else(|| bad("updated_at"))?,
        started_at: time("started_at")?,
        finished_at: time("finished_at")?,
        request_id: text("request_id"),
        state,
    })
}
