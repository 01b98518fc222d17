//! The sync-workers' `up` consumer keeps the settings it was created with:
//! a deployment made by an older release is brought to this release's
//! settings at startup, keeping its position.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use async_nats::jetstream;
use essp_sync_engine::central_link;
use essp_sync_proto::subjects;
use essp_testkit::PrivateNats;
use futures::StreamExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_deployments_up_consumer_is_updated_in_place() {
    let nats = PrivateNats::start(&[]);
    let js = jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    central_link::ensure_streams(&js).await.unwrap();
    let stream = js.get_stream(subjects::UP_STREAM).await.unwrap();
    // As an older release created it, with an envelope waiting.
    let mut old = central_link::up_consumer_config();
    old.ack_wait = Duration::from_secs(30);
    old.max_ack_pending = 8;
    stream.create_consumer(old).await.unwrap();
    js.publish(subjects::up("tenant-a", "school-1"), "{}".into())
        .await
        .unwrap()
        .await
        .unwrap();

    let want = central_link::up_consumer_config();
    for _ in 0..2 {
        // The second start finds nothing to change.
        let mut c = central_link::ensure_up_consumer(&js).await.unwrap();
        let info = c.info().await.unwrap();
        assert_eq!(info.config.ack_wait, want.ack_wait);
        assert_eq!(info.config.max_ack_pending, want.max_ack_pending);
        assert_eq!(info.config.filter_subject, want.filter_subject);
        assert_eq!(info.num_pending, 1, "the consumer kept its position");
    }
    assert_eq!(stream.consumer_names().count().await, 1, "updated, not duplicated");
}
