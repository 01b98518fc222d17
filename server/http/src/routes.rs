//! A route table that remembers the paths it serves, so the OpenAPI
//! document can be held against what a process really answers.

use axum::Router;
use axum::routing::MethodRouter;

use crate::state::AppState;

#[derive(Default)]
pub struct Routes {
    router: Router<AppState>,
    paths: Vec<String>,
}

impl Routes {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn route(mut self, path: &str, method: MethodRouter<AppState>) -> Self {
        self.paths.push(path.to_owned());
        self.router = self.router.route(path, method);
        self
    }

    pub fn merge(mut self, other: Routes) -> Self {
        self.paths.extend(other.paths);
        self.router = self.router.merge(other.router);
        self
    }

    /// Applies layers (or anything else) to the router, keeping the paths.
    pub fn map(mut self, f: impl FnOnce(Router<AppState>) -> Router<AppState>) -> Self {
        self.router = f(self.router);
        self
    }

    /// Makes these routes read-only on an edge node (`edge`): central owns
    /// `what` (SYNC.md), so any write answers 403 and changes nothing.
    pub fn central_owned(self, edge: bool, what: &'static str) -> Self {
        if !edge {
            return self;
        }
        self.map(|r| {
            r.route_layer(axum::middleware::from_fn(move |req, next| {
                crate::sync::refuse_central_owned_writes(what, req, next)
            }))
        })
    }

    pub fn paths(&self) -> &[String] {
        &self.paths
    }

    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}
