//! The README's first command stays true: against the embedded sample API every connector
//! answers `spec`, `check` and `discover`, discovers every stream the demo selects, reads records
//! for each of them, ends every incremental stream with a STATE, and reads again from that state.

use demo::flow::{self, Connector};
use demo::sample_api::SampleApis;
use demo::verify;

async fn demo_flow_works_for(connector: Connector, base_url: String) {
    let out = tempfile::tempdir().expect("temp dir");
    let run = flow::run_connector(&connector, &base_url, out.path())
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", connector.name()));
    let name = &run.name;
    assert_eq!(run.spec.code, 0, "{name} spec");
    verify::spec_ok(&run.spec.messages).unwrap_or_else(|e| panic!("{name} spec: {e}"));
    assert_eq!(
        verify::connection_status(&run.check.messages).map(|s| s.0),
        Some("SUCCEEDED".to_string()),
        "{name} check: {:?}",
        run.check.messages
    );
    let discovered = verify::discover_ok(&run.discover.messages)
        .unwrap_or_else(|e| panic!("{name} discover: {e}"));
    assert!(
        run.missing.is_empty(),
        "{name} does not discover {:?} (has {discovered:?})",
        run.missing
    );
    assert_eq!(run.reads.len(), 2, "{name} reads");
    assert_eq!(run.reads[0].code, 0, "{name} first read exit code");
    let counts = verify::read_ok(&run.reads[0].messages, &run.catalog)
        .unwrap_or_else(|e| panic!("{name} first read: {e}"));
    assert_eq!(
        counts.len(),
        connector.streams.len(),
        "{name}: records for every demo stream: {counts:?}"
    );
    assert_eq!(run.reads[1].code, 0, "{name} second read exit code");
    verify::resumed_read_ok(&run.reads[1].messages, &run.catalog)
        .unwrap_or_else(|e| panic!("{name} second read: {e}"));
    for file in ["spec", "check", "discover", "read-1", "read-2"] {
        let path = run.dir.join(format!("{file}.jsonl"));
        assert!(path.is_file(), "{name}: {} is kept", path.display());
    }
}

fn connector(name: &str) -> Connector {
    flow::connectors()
        .into_iter()
        .find(|c| c.name() == name)
        .expect("demo connector")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiktok_marketing_demo_reads_every_selected_stream_twice() {
    let apis = SampleApis::start().await;
    demo_flow_works_for(connector("source-tiktok-marketing"), apis.tiktok.uri()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinterest_demo_reads_every_selected_stream_twice() {
    let apis = SampleApis::start().await;
    demo_flow_works_for(connector("source-pinterest"), apis.pinterest.uri()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn klaviyo_demo_reads_every_selected_stream_twice() {
    let apis = SampleApis::start().await;
    demo_flow_works_for(connector("source-klaviyo"), apis.klaviyo.uri()).await;
}
