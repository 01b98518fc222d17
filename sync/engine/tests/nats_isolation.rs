//! The NATS permissions of docs/nats-edge-permissions.conf keep each school's
//! edge to its own sync subjects (SYNC.md guarantee 6): a private
//! nats-server runs that very file; central and two edges of one tenant
//! connect as their users. Every denial is paired with the allowed
//! counterpart in the same test, so none passes merely because nothing works.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use async_nats::{Client, ConnectOptions, Event, ServerError};
use bytes::Bytes;
use essp_sync_proto::subjects;
use essp_testkit::PrivateNats;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::time::timeout;

const TENANT: &str = "tenant-a";
const S1: &str = "school-1";
const S2: &str = "school-2";

/// How long a denied operation is given to (not) happen.
const DENIED_WAIT: Duration = Duration::from_millis(800);

fn conf() -> String {
    let p: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "..",
        "docs",
        "nats-edge-permissions.conf",
    ]
    .iter()
    .collect();
    assert!(p.exists(), "missing {}", p.display());
    p.to_str().unwrap().to_owned()
}

fn start() -> PrivateNats {
    PrivateNats::start(&["-c", &conf()])
}

/// The inbox prefix an edge's client must use (the config lets it
/// subscribe there and nowhere else).
fn edge_inbox(school: &str) -> String {
    format!("_INBOX_EDGE.{}.{}", subjects::token(TENANT), subjects::token(school))
}

/// The two consumer names the config pins for an edge.
fn own_consumer(school: &str) -> String {
    format!("edge_{}_{}_own", subjects::token(TENANT), subjects::token(school))
}
fn all_consumer(school: &str) -> String {
    format!("edge_{}_{}_all", subjects::token(TENANT), subjects::token(school))
}

struct Conn {
    client: Client,
    js: jetstream::Context,
    events: mpsc::UnboundedReceiver<Event>,
    /// Server errors received but not yet matched by an expectation.
    violations: Vec<String>,
}

async fn connect(nats: &PrivateNats, user: &str, password: &str, inbox: Option<&str>) -> Conn {
    let (tx, events) = mpsc::unbounded_channel();
    let mut opts = ConnectOptions::with_user_and_password(user.into(), password.into())
        .request_timeout(Some(DENIED_WAIT))
        .event_callback(move |e| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(e);
            }
        });
    if let Some(prefix) = inbox {
        opts = opts.custom_inbox_prefix(prefix);
    }
    let client = opts.connect(nats.url()).await.expect("connect");
    let mut js = jetstream::new(client.clone());
    js.set_timeout(DENIED_WAIT);
    Conn {
        client,
        js,
        events,
        violations: Vec::new(),
    }
}

async fn central(nats: &PrivateNats) -> Conn {
    connect(nats, "central", "central-example-password", None).await
}

async fn edge(nats: &PrivateNats, school: &str) -> Conn {
    let password = match school {
        S1 => "school-1-example-password",
        S2 => "school-2-example-password",
        _ => unreachable!(),
    };
    connect(
        nats,
        &format!("edge-{TENANT}-{school}"),
        password,
        Some(&edge_inbox(school)),
    )
    .await
}

/// Central's side: both sync streams, and a ctl responder that answers
/// every request with `ok <subject>`.
async fn setup(c: &Conn) -> (stream::Stream, stream::Stream) {
    let up =
        c.js.create_stream(stream::Config {
            name: subjects::UP_STREAM.into(),
            subjects: vec![subjects::UP_ALL.into()],
            ..Default::default()
        })
        .await
        .expect("central creates ESSP_SYNC_UP");
    let down =
        c.js.create_stream(stream::Config {
            name: subjects::DOWN_STREAM.into(),
            subjects: vec![subjects::DOWN_ALL.into()],
            ..Default::default()
        })
        .await
        .expect("central creates ESSP_SYNC_DOWN");
    let mut ctl = c.client.subscribe(subjects::CTL_ALL).await.unwrap();
    let responder = c.client.clone();
    tokio::spawn(async move {
        while let Some(m) = ctl.next().await {
            if let Some(reply) = m.reply {
                let _ = responder.publish(reply, Bytes::from(format!("ok {}", m.subject))).await;
            }
        }
    });
    c.client.flush().await.unwrap();
    (up, down)
}

/// Waits for the server to report a permissions violation of `op`
/// ("Publish" or "Subscription") on exactly `subject`.
async fn expect_violation(conn: &mut Conn, op: &str, subject: &str) {
    expect_violation_text(conn, &format!("permissions violation for {op} to \"{subject}\"")).await;
}

/// The same, on a subject starting with `prefix`.
async fn expect_violation_prefix(conn: &mut Conn, op: &str, prefix: &str) {
    expect_violation_text(conn, &format!("permissions violation for {op} to \"{prefix}")).await;
}

async fn expect_violation_text(conn: &mut Conn, want: &str) {
    let want = want.to_lowercase();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        if let Some(i) = conn.violations.iter().position(|v| v.to_lowercase().contains(&want)) {
            conn.violations.remove(i);
            return;
        }
        match tokio::time::timeout_at(deadline, conn.events.recv()).await {
            Ok(Some(Event::ServerError(ServerError::Other(text)))) => conn.violations.push(text),
            Ok(Some(_)) => {}
            Ok(None) => panic!("event channel closed"),
            Err(_) => panic!("no server error containing {want:?}; got {:?}", conn.violations),
        }
    }
}

/// No violation (nor any other server error) has been reported so far.
fn assert_no_violation(conn: &mut Conn) {
    while let Ok(e) = conn.events.try_recv() {
        if let Event::ServerError(ServerError::Other(text)) = e {
            conn.violations.push(text);
        } else {
            assert!(!matches!(e, Event::ServerError(_)), "unexpected server error: {e}");
        }
    }
    assert!(
        conn.violations.is_empty(),
        "unexpected server errors: {:?}",
        conn.violations
    );
}

async fn js_publish_acked(js: &jetstream::Context, subject: String, body: &str) -> u64 {
    js.publish(subject, Bytes::from(body.to_owned()))
        .await
        .expect("publish sent")
        .await
        .expect("publish acked")
        .sequence
}

fn pull_config(name: String, filter: String) -> consumer::pull::Config {
    consumer::pull::Config {
        name: Some(name),
        filter_subject: filter,
        ack_policy: consumer::AckPolicy::Explicit,
        inactive_threshold: Duration::from_secs(60),
        ..Default::default()
    }
}

/// Everything the consumer delivers within a short wait, acknowledged.
async fn pull(c: &consumer::Consumer<consumer::pull::Config>) -> Vec<String> {
    let mut batch = c
        .batch()
        .max_messages(10)
        .expires(Duration::from_millis(400))
        .messages()
        .await
        .expect("pull request");
    let mut got = Vec::new();
    while let Some(m) = timeout(Duration::from_secs(3), batch.next()).await.expect("batch ends") {
        let m = m.expect("message");
        m.double_ack().await.expect("ack confirmed");
        got.push(String::from_utf8(m.payload.to_vec()).unwrap());
    }
    got
}

async fn subject_count(s: &stream::Stream, subject: &str) -> u64 {
    let mut info = s.info_with_subjects(subject).await.expect("subjects info");
    let mut n = 0;
    while let Some(entry) = info.next().await {
        let (subj, count) = entry.unwrap();
        assert_eq!(subj, subject);
        n += count as u64;
    }
    n
}

#[tokio::test]
async fn edge_syncs_through_its_own_subjects() {
    let nats = start();
    let c = central(&nats).await;
    let (up, down) = setup(&c).await;
    let mut e1 = edge(&nats, S1).await;

    // Up: a JetStream publish, acknowledged by ESSP_SYNC_UP.
    let seq = js_publish_acked(&e1.js, subjects::up(TENANT, S1), "changes of school-1").await;
    assert_eq!(seq, 1);
    let stored = up
        .get_last_raw_message_by_subject(&subjects::up(TENANT, S1))
        .await
        .unwrap();
    assert_eq!(&stored.payload[..], b"changes of school-1");

    // Down: central writes for school-1, for the whole tenant, for school-2.
    js_publish_acked(&c.js, subjects::down(TENANT, S1), "for school-1").await;
    js_publish_acked(&c.js, subjects::down_all(TENANT), "for tenant-a").await;
    js_publish_acked(&c.js, subjects::down(TENANT, S2), "for school-2").await;

    let own = e1
        .js
        .create_consumer_on_stream(
            pull_config(own_consumer(S1), subjects::down(TENANT, S1)),
            subjects::DOWN_STREAM,
        )
        .await
        .expect("own consumer");
    let all = e1
        .js
        .create_consumer_on_stream(
            pull_config(all_consumer(S1), subjects::down_all(TENANT)),
            subjects::DOWN_STREAM,
        )
        .await
        .expect("tenant-wide consumer");
    assert_eq!(pull(&own).await, ["for school-1"]);
    // The continuous pull (what a running edge uses) works the same.
    let mut feed = all.messages().await.expect("continuous pull");
    let m = timeout(Duration::from_secs(3), feed.next())
        .await
        .expect("a message")
        .unwrap()
        .unwrap();
    assert_eq!(&m.payload[..], b"for tenant-a");
    m.double_ack().await.expect("ack confirmed");
    drop(feed);
    let info = own.get_info().await.expect("own consumer info");
    assert_eq!((info.num_pending, info.num_ack_pending), (0, 0));

    // Ctl: a request central answers, the reply reaching the edge's inbox.
    let reply = e1
        .client
        .request(subjects::ctl(TENANT, S1), "checkpoint".into())
        .await
        .expect("ctl reply");
    assert_eq!(
        std::str::from_utf8(&reply.payload).unwrap(),
        format!("ok {}", subjects::ctl(TENANT, S1))
    );

    // Its consumers can be dropped (to restart from another sequence).
    for name in [own_consumer(S1), all_consumer(S1)] {
        e1.js
            .delete_consumer_from_stream(name, subjects::DOWN_STREAM)
            .await
            .expect("delete own consumer");
    }
    let left: Vec<String> = down.consumer_names().map(|n| n.unwrap()).collect().await;
    assert!(left.is_empty(), "consumers left: {left:?}");
    assert_no_violation(&mut e1);
}

#[tokio::test]
async fn edge_cannot_write_another_schools_subjects() {
    let nats = start();
    let c = central(&nats).await;
    let (up, down) = setup(&c).await;
    let mut e1 = edge(&nats, S1).await;
    let e2 = edge(&nats, S2).await;

    // Allowed: its own up subject.
    js_publish_acked(&e1.js, subjects::up(TENANT, S1), "school-1's").await;

    // Denied: a JetStream publish to school-2's up subject gets no ack...
    let ack = e1
        .js
        .publish(subjects::up(TENANT, S2), "forged".into())
        .await
        .expect("sent");
    let res = timeout(Duration::from_secs(5), ack).await.expect("ack wait bounded");
    assert!(res.is_err(), "forged publish was acked: {res:?}");
    expect_violation(&mut e1, "Publish", &subjects::up(TENANT, S2)).await;
    // ...and a core publish is refused the same way.
    e1.client
        .publish(subjects::up(TENANT, S2), "forged".into())
        .await
        .unwrap();
    e1.client.flush().await.unwrap();
    expect_violation(&mut e1, "Publish", &subjects::up(TENANT, S2)).await;
    // An edge never writes the down subjects, its own included.
    for subject in [
        subjects::down(TENANT, S1),
        subjects::down(TENANT, S2),
        subjects::down_all(TENANT),
    ] {
        e1.client.publish(subject.clone(), "forged".into()).await.unwrap();
        e1.client.flush().await.unwrap();
        expect_violation(&mut e1, "Publish", &subject).await;
    }

    // Ctl: its own request is answered, school-2's is refused (central
    // would answer it: school-2's own request is).
    let own = e1.client.request(subjects::ctl(TENANT, S1), "checkpoint".into()).await;
    assert!(own.is_ok(), "own ctl request: {own:?}");
    let other = timeout(
        Duration::from_secs(5),
        e1.client.request(subjects::ctl(TENANT, S2), "checkpoint".into()),
    )
    .await
    .expect("request bounded");
    assert!(other.is_err(), "ctl request for school-2 answered: {other:?}");
    expect_violation(&mut e1, "Publish", &subjects::ctl(TENANT, S2)).await;
    let by_owner = e2
        .client
        .request(subjects::ctl(TENANT, S2), "checkpoint".into())
        .await
        .expect("school-2's ctl");
    assert_eq!(
        std::str::from_utf8(&by_owner.payload).unwrap(),
        format!("ok {}", subjects::ctl(TENANT, S2))
    );

    // Nothing forged reached the streams; school-2's own publish does.
    assert_eq!(subject_count(&up, &subjects::up(TENANT, S1)).await, 1);
    assert_eq!(subject_count(&up, &subjects::up(TENANT, S2)).await, 0);
    assert_eq!(down.get_info().await.unwrap().state.messages, 0);
    js_publish_acked(&e2.js, subjects::up(TENANT, S2), "school-2's").await;
    assert_eq!(subject_count(&up, &subjects::up(TENANT, S2)).await, 1);
    let last = up
        .get_last_raw_message_by_subject(&subjects::up(TENANT, S2))
        .await
        .unwrap();
    assert_eq!(&last.payload[..], b"school-2's");
    assert_no_violation(&mut e1);
}

#[tokio::test]
async fn edge_cannot_subscribe_to_other_subjects() {
    let nats = start();
    let c = central(&nats).await;
    setup(&c).await;
    let mut e1 = edge(&nats, S1).await;
    let e2 = edge(&nats, S2).await;

    let wide = [
        subjects::down(TENANT, S2),
        // even its own: an edge reads down only through its consumers
        subjects::down(TENANT, S1),
        subjects::up(TENANT, S2),
        subjects::ctl(TENANT, S2),
        "essp.>".to_owned(),
        "essp.sync.down.>".to_owned(),
        "_INBOX.>".to_owned(),
        "_INBOX_EDGE.>".to_owned(),
        format!("{}.>", edge_inbox(S2)),
        "$JS.>".to_owned(),
        ">".to_owned(),
    ];
    let mut subs = Vec::new();
    for subject in wide {
        subs.push(e1.client.subscribe(subject.clone()).await.unwrap());
        e1.client.flush().await.unwrap();
        expect_violation(&mut e1, "Subscription", &subject).await;
    }

    // Traffic on all of them: central writes school-2's down subject (core
    // and JetStream), school-2 asks its ctl subject (a reply into its
    // inbox), central asks its own JetStream API (a reply into _INBOX).
    c.client
        .publish(subjects::down(TENANT, S2), "for school-2".into())
        .await
        .unwrap();
    js_publish_acked(&c.js, subjects::down(TENANT, S2), "for school-2").await;
    js_publish_acked(&c.js, subjects::down(TENANT, S1), "for school-1").await;
    js_publish_acked(&e2.js, subjects::up(TENANT, S2), "school-2's").await;
    let reply = e2.client.request(subjects::ctl(TENANT, S2), "checkpoint".into()).await;
    assert!(reply.is_ok(), "school-2's own ctl request: {reply:?}");
    c.js.get_stream(subjects::DOWN_STREAM)
        .await
        .expect("central's API call");

    let mut all = futures::stream::select_all(subs);
    let got = timeout(DENIED_WAIT, all.next()).await;
    assert!(
        got.is_err(),
        "a denied subscription received {:?}",
        got.unwrap().map(|m| m.subject)
    );
    // Its own inbox works: a ctl request of its own is answered.
    let own = e1.client.request(subjects::ctl(TENANT, S1), "checkpoint".into()).await;
    assert!(own.is_ok(), "own ctl request: {own:?}");
    assert_no_violation(&mut e1);
}

#[tokio::test]
async fn edge_needs_its_own_inbox_prefix() {
    let nats = start();
    let c = central(&nats).await;
    setup(&c).await;
    let password = "school-1-example-password";
    let user = format!("edge-{TENANT}-{S1}");

    // The client default (_INBOX) and another school's prefix: the reply
    // subscription is refused, so requests and JetStream acks never return.
    for (prefix, denied) in [
        (None, "_INBOX."),
        (Some(edge_inbox(S2)), &*format!("{}.", edge_inbox(S2))),
    ] {
        let mut e = connect(&nats, &user, password, prefix.as_deref()).await;
        let res = timeout(
            Duration::from_secs(5),
            e.client.request(subjects::ctl(TENANT, S1), "checkpoint".into()),
        )
        .await
        .expect("request bounded");
        assert!(res.is_err(), "reply with prefix {prefix:?}: {res:?}");
        expect_violation_prefix(&mut e, "Subscription", denied).await;
    }
    // Its own prefix: answered.
    let mut e = connect(&nats, &user, password, Some(&edge_inbox(S1))).await;
    let res = e.client.request(subjects::ctl(TENANT, S1), "checkpoint".into()).await;
    assert!(res.is_ok(), "own prefix: {res:?}");
    assert_no_violation(&mut e);
}

#[tokio::test]
async fn edge_cannot_reach_another_schools_consumers() {
    let nats = start();
    let c = central(&nats).await;
    let (_, down) = setup(&c).await;
    let mut e1 = edge(&nats, S1).await;
    let e2 = edge(&nats, S2).await;
    js_publish_acked(&c.js, subjects::down(TENANT, S1), "for school-1").await;
    js_publish_acked(&c.js, subjects::down(TENANT, S2), "for school-2").await;
    let consumers = || async {
        let mut names: Vec<String> = down.consumer_names().map(|n| n.unwrap()).collect().await;
        names.sort();
        names
    };
    let e1_js = e1.js.clone();
    let create_on_down = |name: Option<String>, filter: String| {
        let config = consumer::pull::Config {
            name,
            filter_subject: filter,
            ack_policy: consumer::AckPolicy::Explicit,
            inactive_threshold: Duration::from_secs(60),
            ..Default::default()
        };
        let js = e1_js.clone();
        async move {
            timeout(
                Duration::from_secs(5),
                js.create_consumer_on_stream(config, subjects::DOWN_STREAM),
            )
            .await
            .expect("create bounded")
        }
    };

    // Its own consumer name over school-2's subject, school-2's name and
    // subject, no name (the filterless API subject), wider filters: denied.
    let denied = [
        (Some(own_consumer(S1)), subjects::down(TENANT, S2)),
        (Some(own_consumer(S2)), subjects::down(TENANT, S2)),
        (Some(all_consumer(S1)), subjects::down(TENANT, S2)),
        (None, subjects::down(TENANT, S1)),
        (Some(own_consumer(S1)), format!("essp.sync.down.{TENANT}.*")),
        (Some(own_consumer(S1)), subjects::DOWN_ALL.to_owned()),
        (Some(own_consumer(S1)), String::new()),
    ];
    let results = futures::future::join_all(denied.iter().map(|(n, f)| create_on_down(n.clone(), f.clone()))).await;
    for ((name, filter), res) in denied.into_iter().zip(results) {
        assert!(res.is_err(), "consumer {name:?} on {filter:?} was created");
        let api = match &name {
            Some(n) if !filter.is_empty() => format!("$JS.API.CONSUMER.CREATE.{}.{n}.{filter}", subjects::DOWN_STREAM),
            Some(n) => format!("$JS.API.CONSUMER.CREATE.{}.{n}", subjects::DOWN_STREAM),
            None => format!("$JS.API.CONSUMER.CREATE.{}", subjects::DOWN_STREAM),
        };
        expect_violation(&mut e1, "Publish", &api).await;
    }
    assert!(consumers().await.is_empty());

    // The allowed API subject with a body naming another filter: the
    // server holds the body to the subject's filter.
    let allowed = format!(
        "$JS.API.CONSUMER.CREATE.{}.{}.{}",
        subjects::DOWN_STREAM,
        own_consumer(S1),
        subjects::down(TENANT, S1)
    );
    let body = serde_json::json!({
        "stream_name": subjects::DOWN_STREAM,
        "config": { "name": own_consumer(S1), "filter_subject": subjects::down(TENANT, S2), "ack_policy": "explicit" },
    });
    let answer = e1
        .client
        .request(allowed, serde_json::to_vec(&body).unwrap().into())
        .await
        .expect("API answers");
    let answer: serde_json::Value = serde_json::from_slice(&answer.payload).unwrap();
    assert_eq!(answer["error"]["err_code"], 10131, "{answer}");
    assert!(consumers().await.is_empty());

    // Allowed: its own two; school-2 creates its own.
    let own = create_on_down(Some(own_consumer(S1)), subjects::down(TENANT, S1))
        .await
        .expect("own consumer");
    create_on_down(Some(all_consumer(S1)), subjects::down_all(TENANT))
        .await
        .expect("own tenant-wide consumer");
    let theirs = e2
        .js
        .create_consumer_on_stream(
            pull_config(own_consumer(S2), subjects::down(TENANT, S2)),
            subjects::DOWN_STREAM,
        )
        .await
        .expect("school-2's consumer");
    assert_eq!(
        consumers().await,
        [all_consumer(S1), own_consumer(S1), own_consumer(S2)]
    );

    // School-2's consumer by name, and the rest of the API: refused (a
    // reply would arrive on `probe` if any were served).
    let probe = format!("{}.probe", edge_inbox(S1));
    let mut replies = e1.client.subscribe(probe.clone()).await.unwrap();
    let stream = subjects::DOWN_STREAM;
    let theirs_name = own_consumer(S2);
    let refused = [
        format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{theirs_name}"),
        format!("$JS.API.CONSUMER.INFO.{stream}.{theirs_name}"),
        format!("$JS.API.CONSUMER.DELETE.{stream}.{theirs_name}"),
        format!("$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{}", own_consumer(S1)),
        format!("$JS.API.CONSUMER.LIST.{stream}"),
        format!("$JS.API.CONSUMER.NAMES.{stream}"),
        format!("$JS.API.STREAM.INFO.{stream}"),
        format!("$JS.API.STREAM.MSG.GET.{stream}"),
        format!("$JS.API.DIRECT.GET.{stream}"),
        format!("$JS.API.STREAM.PURGE.{stream}"),
        format!("$JS.API.STREAM.DELETE.{stream}"),
        format!("$JS.API.STREAM.UPDATE.{stream}"),
        "$JS.API.STREAM.CREATE.EDGE_COPY".to_owned(),
        "$JS.API.STREAM.NAMES".to_owned(),
        "$JS.API.INFO".to_owned(),
    ];
    for api in &refused {
        let body = serde_json::json!({ "batch": 1, "seq": 1, "last_by_subj": subjects::down(TENANT, S2) });
        e1.client
            .publish_with_reply(api.clone(), probe.clone(), serde_json::to_vec(&body).unwrap().into())
            .await
            .unwrap();
        e1.client.flush().await.unwrap();
        expect_violation(&mut e1, "Publish", api).await;
    }
    let got = timeout(DENIED_WAIT, replies.next()).await;
    assert!(
        got.is_err(),
        "a refused API call was answered: {:?}",
        got.unwrap().map(|m| m.payload)
    );

    // Nothing changed: school-2's consumer still holds its message for
    // school-2, and school-1 reads only its own.
    assert_eq!(down.get_info().await.unwrap().state.messages, 2);
    assert_eq!(pull(&theirs).await, ["for school-2"]);
    assert_eq!(pull(&own).await, ["for school-1"]);
    assert_no_violation(&mut e1);
}

/// What permissions do NOT cover (docs/sync.md): the reply subject of a
/// message is the publisher's choice, and whoever answers (JetStream, the
/// sync-worker) publishes there with its own rights. So school-1 can make
/// JetStream's publish ack, central's ctl reply and the messages of its own
/// consumer land in ESSP_SYNC_UP, though never with bytes of its choosing:
/// the sync-worker must check every up message (an up subject; an envelope
/// whose tenant, school and node match it) and reply to ctl only into the
/// requester's own inbox prefix.
#[tokio::test]
async fn reply_subjects_are_the_publishers_choice() {
    let nats = start();
    let c = central(&nats).await;
    let (up, _) = setup(&c).await;
    let e1 = edge(&nats, S1).await;
    let target = subjects::up(TENANT, S2);
    js_publish_acked(&c.js, subjects::down(TENANT, S1), "central's change for school-1").await;
    e1.js
        .create_consumer_on_stream(
            pull_config(own_consumer(S1), subjects::down(TENANT, S1)),
            subjects::DOWN_STREAM,
        )
        .await
        .expect("own consumer");

    let next = format!(
        "$JS.API.CONSUMER.MSG.NEXT.{}.{}",
        subjects::DOWN_STREAM,
        own_consumer(S1)
    );
    for (subject, body) in [
        (subjects::up(TENANT, S1), "school-1's change"),
        (subjects::ctl(TENANT, S1), "school-1's checkpoint"),
        (next, r#"{"batch":1}"#),
    ] {
        e1.client
            .publish_with_reply(subject, target.clone(), body.into())
            .await
            .unwrap();
    }
    e1.client.flush().await.unwrap();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while up.get_info().await.unwrap().state.messages < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the replies never reached ESSP_SYNC_UP"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut landed = Vec::new();
    for seq in 1..=4 {
        let m = up.get_raw_message(seq).await.unwrap();
        landed.push((m.subject.to_string(), String::from_utf8(m.payload.to_vec()).unwrap()));
    }
    let of = |p: &str| landed.iter().filter(|(_, b)| b.contains(p)).count();
    assert_eq!(of("school-1's change"), 1, "its own publish: {landed:?}");
    assert_eq!(of("\"stream\":\"ESSP_SYNC_UP\""), 1, "JetStream's ack: {landed:?}");
    assert_eq!(
        of(&format!("ok {}", subjects::ctl(TENANT, S1))),
        1,
        "central's reply: {landed:?}"
    );
    assert_eq!(of("central's change for school-1"), 1, "a pulled message: {landed:?}");
    assert_eq!(of("school-1's checkpoint"), 0, "{landed:?}");
    // Ack and ctl reply sit on school-2's up subject (the pulled message
    // keeps its own subject in nats-server 2.9).
    assert_eq!(subject_count(&up, &target).await, 2, "{landed:?}");
}
