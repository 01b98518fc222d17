//! `/openapi.json` tells the truth about the routes a process serves: every
//! path and method it answers is documented, and every documented operation
//! is answered. The route list comes from `essp routes` (the route table the
//! server is built from); which methods a path takes is found by asking the
//! running server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, Server};
use reqwest::Method;
use serde_json::Value;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// A concrete URL for a path template (any segment will do: the router
/// matches before the handler validates).
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|seg| if seg.starts_with('{') { "probe" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether the server routes `method` on `template`: the router answers
/// 405 for a method it does not route, and 404 `no route for` for a path.
async fn routed(s: &Server, method: &str, template: &str) -> bool {
    let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let resp = s
        .req(m, &concrete(template))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    assert!(status < 500, "{method} {template} answered {status}");
    if status == 405 {
        return false;
    }
    let body: Value = resp.json().await.unwrap_or_default();
    let unmatched = status == 404 && body["detail"].as_str().is_some_and(|d| d.starts_with("no route for"));
    assert!(
        !unmatched,
        "{template} is in `essp routes` but the server does not route it"
    );
    true
}

async fn every_route_is_documented(backend: Backend) {
    let s = Server::start(backend).await;
    let doc = common::expect(&s, Method::GET, "/openapi.json", None, 200).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");

    let out = common::run_cli(s.db(), &["routes"], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let served: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(served.len() > 90, "only {} routes listed", served.len());

    let mut missing = Vec::new();
    for template in &served {
        for method in METHODS {
            let documented = paths.get(template).is_some_and(|p| p.get(method).is_some());
            let answered = routed(&s, method, template).await;
            if answered && !documented {
                missing.push(format!("{} {template}", method.to_uppercase()));
            }
            assert!(
                answered || !documented,
                "{} {template} is documented but not served",
                method.to_uppercase()
            );
        }
    }
    assert!(
        missing.is_empty(),
        "served but missing from /openapi.json:\n{}",
        missing.join("\n")
    );

    // Operation ids are unique (clients generate method names from them).
    let mut ids = std::collections::HashSet::new();
    for (path, item) in paths {
        for method in METHODS {
            if let Some(id) = item.get(method).and_then(|op| op["operationId"].as_str()) {
                assert!(ids.insert(id.to_owned()), "operationId {id} repeats ({method} {path})");
            }
        }
    }

    // Nothing documented that this process does not serve.
    for path in paths.keys() {
        assert!(served.contains(path), "{path} is documented but not served");
    }
}

/// Each role serves its own document, and `essp openapi --role R` prints
/// exactly that document offline.
async fn each_role_documents_what_it_serves(backend: Backend) {
    for (role, has, lacks) in [
        ("ims-api", "/v1/incidents", "/v1/counties"),
        ("ssot-school", "/v1/counties", "/v1/incidents"),
        ("ssot-devices", "/v1/devices", "/v1/schools"),
        ("ssot-parts", "/v1/parts", "/v1/devices"),
    ] {
        let s = Server::start_with(backend, &[("ESSP_ROLE", role)]).await;
        let served = common::expect(&s, Method::GET, "/openapi.json", None, 200).await;
        let out = common::run_cli(s.db(), &["openapi", "--role", role], &[]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            printed, served,
            "{role}: the CLI prints another document than the server serves"
        );
        let paths = served["paths"].as_object().unwrap();
        assert!(paths.contains_key(has), "{role} documents {has}");
        assert!(!paths.contains_key(lacks), "{role} does not serve {lacks}");
        assert!(
            paths.contains_key("/v1/me"),
            "{role}: every role says who the caller is"
        );
    }
}

on_both_engines!(every_route_is_documented, each_role_documents_what_it_serves);
