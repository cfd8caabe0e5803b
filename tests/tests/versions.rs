//! Versions of one landing key: whatever order their parses and loads
//! finish in, the newest (by S3's `sequencer`, which the local stack's moto
//! writes into its events as S3 does) is what the table keeps, and an older
//! version loaded after it is recorded `superseded`.
//!
//! Needs the local stack: `infra/stack up` (the README's test command does it).

use landfall::warehouse::TableName;
use landfall_tests::Harness;

fn text(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("NULL")
}

/// The `eTag` and `sequencer` of the one record of an S3 notification body.
fn etag_and_sequencer(body: &str) -> (String, String) {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let object = &v["Records"][0]["s3"]["object"];
    let field = |name: &str| object[name].as_str().unwrap_or_else(|| panic!("no {name} in {body}")).to_owned();
    (field("eTag"), field("sequencer"))
}

#[tokio::test]
async fn v1_parsed_and_loaded_after_v2_of_the_same_key_is_superseded_and_v2s_rows_remain() {
    let h = Harness::start_e2e().await;
    h.reset_tables(&["wh_merge_last"]).await;
    let key = "e2e/merge-last/versions.csv";
    let v1 = h.put(key, "id,name\n1,old\n2,only-in-v1\n").await;
    let v2 = h.put(key, "id,name\n1,new\n").await;
    let bodies = h.take_messages("parse-file", 2).await;
    let (first, second) = (etag_and_sequencer(&bodies[0]), etag_and_sequencer(&bodies[1]));
    assert_eq!((first.0.as_str(), second.0.as_str()), (v1.as_str(), v2.as_str()), "S3 sends the events in put order");
    assert!(landfall::manifest::sequencer_newer(&second.1, &first.1), "v2's sequencer is the greater");

    // v2's parse finishes first and loads; v1's (a large file, say) after it.
    h.send_to_queue("parse-file", &bodies[1]).await;
    h.drain().await;
    h.send_to_queue("parse-file", &bodies[0]).await;
    h.drain().await;

    let rows = h.sql("SELECT id, name FROM public.wh_merge_last ORDER BY id").await;
    let rows: Vec<(&str, &str)> = rows.iter().map(|r| (text(&r[0]), text(&r[1]))).collect();
    assert_eq!(rows, vec![("1", "new")]);
    let ledger = h
        .sql(&format!(
            "SELECT etag, status, rows_loaded, detail FROM {} WHERE table_name = 'public.wh_merge_last' ORDER BY loaded_at",
            TableName::ledger()
        ))
        .await;
    let states: Vec<(&str, &str, &str)> = ledger.iter().map(|r| (text(&r[0]), text(&r[1]), text(&r[2]))).collect();
    assert_eq!(states, vec![(v2.as_str(), "loaded", "1"), (v1.as_str(), "superseded", "0")]);
    let reason = text(&ledger[1][3]);
    assert!(reason.contains("newer version") && reason.contains(&second.1), "{reason}");
}
