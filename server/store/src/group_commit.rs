//! Group commit: on SQLite, concurrent write transactions of the API share
//! one database transaction, so N requests pay for one BEGIN/COMMIT and one
//! fsync instead of N. SQLite has a single writer, so its transactions
//! queue anyway; sharing one only removes the per-commit flush.
//!
//! On Postgres every write keeps its own transaction: the server already
//! groups concurrent commits' WAL flushes, and sharing a connection would
//! put every request's statements in one queue (measured: 14 % of the raw
//! insert rate instead of 19 %, `bench/run.sh`).
//!
//! Each request's work runs inside its own SAVEPOINT of the shared
//! transaction, one request at a time: a request whose work fails (a lost
//! compare-and-set, a constraint) is rolled back to its savepoint and never
//! touches its neighbours. Every request is answered after the shared
//! COMMIT; one that succeeded gets that commit's result, so an acknowledged
//! write is as durable as before.
//!
//! A batch fills with the requests that arrive while the one before it runs
//! its statements; that one may still be committing.
//!
//! Cancellation: a request dropped mid-work (client gone, timeout) leaves
//! its savepoint open; the next user of the transaction rolls it back
//! before doing anything else, so half a request is never committed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures::future::BoxFuture;
use tokio::sync::{Notify, watch};

use crate::error::{Result, StoreError};
use crate::executor::{Database, Engine, Executor, Transaction};

/// Requests at most in one shared transaction; bounds the latency a batch
/// adds and the work a failed COMMIT takes with it.
const MAX_MEMBERS: usize = 64;

tokio::task_local! {
    /// Set while a request's work runs: a nested [`GroupCommit::run`] would
    /// wait for the batch it is part of.
    static IN_WORK: ();
}

/// Runs write transactions, grouping concurrent ones (see the module docs).
pub struct GroupCommit {
    db: Arc<dyn Database>,
    filling: Mutex<Option<Arc<Batch>>>,
    /// Held by the batch running statements.
    running: Arc<tokio::sync::Mutex<()>>,
    /// Shared transactions committed so far.
    commits: Arc<AtomicU64>,
}

/// What a batch's members wait for: `None` until known.
type Signal = watch::Sender<Option<Result<(), StoreError>>>;

struct Batch {
    /// The shared transaction, used by one member at a time; `None` before
    /// BEGIN and after the end.
    tx: tokio::sync::Mutex<Option<Box<dyn Transaction>>>,
    /// Set once BEGIN answered.
    begun: Signal,
    /// Set once COMMIT (or ROLLBACK) answered.
    ended: Signal,
    counts: Mutex<Counts>,
    /// Wakes the driver when the last active member is done.
    idle: Notify,
}

#[derive(Default)]
struct Counts {
    joined: usize,
    /// Members that joined and have not finished their work.
    active: usize,
    /// A member was dropped mid-work: its savepoint is still open and must
    /// be rolled back before anything else.
    abandoned: bool,
    /// Why the shared transaction can no longer commit (a statement of the
    /// batch's own bookkeeping failed).
    failed: Option<StoreError>,
    closed: bool,
}

impl GroupCommit {
    pub fn new(db: Arc<dyn Database>) -> Self {
        GroupCommit {
            filling: Mutex::new(None),
            running: Arc::new(tokio::sync::Mutex::new(())),
            commits: Arc::new(AtomicU64::new(0)),
            db,
        }
    }

    /// Shared transactions committed so far (each holds one or more writes).
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Runs `work` in a transaction shared with concurrent callers. Its
    /// writes commit (and `Ok` is returned) together with theirs, or, when
    /// `work` fails, are undone without affecting them.
    pub async fn run<T, E, W>(&self, work: W) -> std::result::Result<T, E>
    where
        W: for<'a> FnOnce(&'a dyn Executor) -> BoxFuture<'a, std::result::Result<T, E>>,
        E: From<StoreError>,
    {
        if IN_WORK.try_with(|_| ()).is_ok() {
            return Err(StoreError::Other("a write transaction was started inside another one".into()).into());
        }
        if self.db.engine() == Engine::Postgres {
            return alone(self.db.as_ref(), work).await;
        }
        let batch = self.join();
        let member = Member { batch: &batch };
        wait(&batch.begun).await?;
        let outcome = {
            let mut turn = Turn {
                batch: &batch,
                tx: batch.tx.lock().await,
                open: false,
            };
            let tx = turn
                .tx
                .as_deref()
                .ok_or_else(|| StoreError::Other("the shared transaction ended".into()))?;
            batch.prepare(tx).await?;
            tx.execute(SAVEPOINT, &[]).await.inspect_err(|e| batch.fail(e))?;
            turn.open = true;
            let outcome = IN_WORK.scope((), work(tx)).await;
            if outcome.is_err() {
                undo(tx).await.inspect_err(|e| batch.fail(e))?;
            } else {
                tx.execute(RELEASE, &[]).await.inspect_err(|e| batch.fail(e))?;
            }
            turn.open = false;
            outcome
        };
        drop(member);
        // Answered only once the batch ended, failures too: a request that
        // lost a race to a neighbour (say, for an idempotency key) then sees
        // the neighbour's committed write when it looks.
        let ended = wait(&batch.ended).await;
        let value = outcome?;
        ended?;
        Ok(value)
    }

    /// Joins the batch that is filling, or starts one (and its driver).
    fn join(&self) -> Arc<Batch> {
        let mut filling = lock(&self.filling);
        if let Some(batch) = filling.clone() {
            let mut c = lock(&batch.counts);
            if !c.closed && c.joined < MAX_MEMBERS {
                c.joined += 1;
                c.active += 1;
                if c.joined == MAX_MEMBERS {
                    // Full: the next caller starts a new batch.
                    *filling = None;
                }
                drop(c);
                return batch;
            }
        }
        let batch = Arc::new(Batch {
            tx: tokio::sync::Mutex::new(None),
            begun: watch::channel(None).0,
            ended: watch::channel(None).0,
            counts: Mutex::new(Counts {
                joined: 1,
                active: 1,
                ..Counts::default()
            }),
            idle: Notify::new(),
        });
        *filling = Some(batch.clone());
        tokio::spawn(drive(
            self.db.clone(),
            self.running.clone(),
            self.commits.clone(),
            batch.clone(),
        ));
        batch
    }
}

/// Begins the batch's transaction once it may run statements, closes the batch when its last member is done, and commits.
async fn drive(
    db: Arc<dyn Database>,
    running: Arc<tokio::sync::Mutex<()>>,
    commits: Arc<AtomicU64>,
    batch: Arc<Batch>,
) {
    let turn = running.lock_owned().await;
    match db.begin().await {
        Ok(tx) => {
            *batch.tx.lock().await = Some(tx);
            batch.begun.send_replace(Some(Ok(())));
        }
        Err(e) => {
            batch.close();
            batch.ended.send_replace(Some(Err(e.clone())));
            batch.begun.send_replace(Some(Err(e)));
            return;
        }
    }
    while !batch.close_if_idle() {
        batch.idle.notified().await;
    }
    let Some(tx) = batch.tx.lock().await.take() else {
        return;
    };
    let ended = match batch.prepare(tx.as_ref()).await {
        Ok(()) => {
            // The next batch may run its statements while this one commits.
            drop(turn);
            tx.commit().await
        }
        Err(e) => {
            drop(turn);
            let _ = tx.rollback().await;
            Err(e)
        }
    };
    match &ended {
        Ok(()) => {
            commits.fetch_add(1, Ordering::Relaxed);
            let members = lock(&batch.counts).joined;
            metrics::histogram!("db_group_commit_writes").record(members as f64);
        }
        Err(e) => tracing::warn!(error = %e, "a grouped commit failed"),
    }
    batch.ended.send_replace(Some(ended));
}

/// Runs `work` in a transaction of its own.
async fn alone<T, E, W>(db: &dyn Database, work: W) -> std::result::Result<T, E>
where
    W: for<'a> FnOnce(&'a dyn Executor) -> BoxFuture<'a, std::result::Result<T, E>>,
    E: From<StoreError>,
{
    let tx = db.begin().await?;
    match IN_WORK.scope((), work(tx.as_ref())).await {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// Waits for a batch signal and returns its result.
async fn wait(signal: &Signal) -> Result<()> {
    let mut rx = signal.subscribe();
    let seen = rx
        .wait_for(Option::is_some)
        .await
        .map_err(|_| StoreError::Other("the shared transaction was abandoned".into()))?;
    seen.clone().unwrap_or(Ok(()))
}

impl Batch {
    /// Before using the transaction: undoes abandoned members' work, and
    /// refuses a transaction that can no longer commit.
    async fn prepare(&self, tx: &dyn Transaction) -> Result<()> {
        let (abandoned, failed) = {
            let mut c = lock(&self.counts);
            (std::mem::take(&mut c.abandoned), c.failed.clone())
        };
        if let Some(e) = failed {
            return Err(e);
        }
        if abandoned {
            undo(tx).await.inspect_err(|e| self.fail(e))?;
        }
        Ok(())
    }

    fn fail(&self, e: &StoreError) {
        lock(&self.counts).failed.get_or_insert_with(|| e.clone());
    }

    fn close(&self) {
        lock(&self.counts).closed = true;
    }

    /// Closes the batch to new members when none is active.
    fn close_if_idle(&self) -> bool {
        let mut c = lock(&self.counts);
        if c.active == 0 {
            c.closed = true;
        }
        c.closed && c.active == 0
    }
}

/// A member's place in its batch: dropping it tells the driver the member
/// is done with the transaction.
struct Member<'b> {
    batch: &'b Batch,
}

impl Drop for Member<'_> {
    fn drop(&mut self) {
        let mut c = lock(&self.batch.counts);
        c.active -= 1;
        if c.active == 0 {
            self.batch.idle.notify_one();
        }
    }
}

/// A member's use of the transaction. Dropped with its savepoint still
/// open (the member was cancelled mid-work), it marks the savepoint for
/// rollback before it lets go of the transaction, so the next user cannot
/// build on the abandoned work.
struct Turn<'b> {
    batch: &'b Batch,
    tx: tokio::sync::MutexGuard<'b, Option<Box<dyn Transaction>>>,
    /// The member's savepoint is open.
    open: bool,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        // Runs before the `tx` guard field is dropped.
        if self.open {
            lock(&self.batch.counts).abandoned = true;
        }
    }
}

/// Each member's work runs inside this savepoint. Members take turns and a
/// member's savepoint is released or rolled back before the next one opens
/// it, so one name serves all (and the statements stay prepared).
const SAVEPOINT: &str = "SAVEPOINT essp_write";
const RELEASE: &str = "RELEASE SAVEPOINT essp_write";

/// Undoes the open member's work.
async fn undo(tx: &dyn Executor) -> Result<()> {
    tx.execute("ROLLBACK TO SAVEPOINT essp_write", &[]).await?;
    tx.execute(RELEASE, &[]).await?;
    Ok(())
}

/// Locks a bookkeeping mutex. Its data stays consistent even if a holder
/// panicked (every update is a single assignment), so poisoning is ignored.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
