//! Running a handler's writes in one transaction: committed together with
//! their audit rows, or not at all. Concurrent handlers share commits
//! (`essp_store::GroupCommit`); each one's writes still succeed or fail on
//! their own.

use essp_store::Executor;
use futures::future::BoxFuture;

use crate::problem::ApiError;
use crate::state::AppState;

pub async fn run<T, W>(state: &AppState, write: W) -> Result<T, ApiError>
where
    W: for<'a> FnOnce(&'a dyn Executor) -> BoxFuture<'a, Result<T, ApiError>>,
{
    state.writes.run(write).await
}
