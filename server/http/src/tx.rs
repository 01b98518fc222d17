//! Running a handler's writes in one transaction: committed together with
//! their audit rows, or not at all.

use essp_store::Executor;
use futures::future::BoxFuture;

use crate::problem::ApiError;
use crate::state::AppState;

pub async fn run<T, W>(state: &AppState, write: W) -> Result<T, ApiError>
where
    W: for<'a> FnOnce(&'a dyn Executor) -> BoxFuture<'a, Result<T, ApiError>>,
{
    let tx = state.db.begin().await?;
    match write(tx.as_ref()).await {
        Ok(v) => {
            tx.commit().await?;
            Ok(v)
        }
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}
