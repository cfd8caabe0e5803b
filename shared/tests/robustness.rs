//! No input makes the pipeline panic: thousands of mutations of the sample
//! files (flipped bytes, cut files, stray quotes, braces and newlines,
//! binary garbage) each end as a parsed, partial or failed file, never as a
//! crash or a retryable error.

use std::path::Path;

use chrono::NaiveDate;
use landfall::config::Config;
use landfall::convert::{ConvertRequest, NameRules, convert};
use landfall::threads::Threads;

const FEEDS: &str = "feeds:\n  any:\n    prefix: any/\n  declared:\n    prefix: declared/\n    partition_column: d\n    schema:\n      - { name: d, type: date }\n      - { name: n, type: int64, nullable: false }\n";

/// A fixed-seed xorshift: reproducible mutations without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn insert(out: &mut Vec<u8>, at: usize, bytes: &[u8]) {
    let tail = out.split_off(at);
    out.extend_from_slice(bytes);
    out.extend_from_slice(&tail);
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 if !out.is_empty() => {
                let i = at.min(out.len() - 1);
                out[i] ^= 1 << rng.below(8);
            }
            1 => out.truncate(at),
            2 => {
                let specials = b"\"{}[],;\n\r\\\x00";
                out.insert(at, specials[rng.below(specials.len())]);
            }
            3 => {
                let garbage: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
                insert(&mut out, at, &garbage);
            }
            4 => insert(&mut out, at, b"{\"a\":{\"b\":[1,2,{\"c\":"),
            _ => insert(&mut out, at, b"\n2026-11-01,12\n"),
        }
    }
    out
}

fn samples() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/samples");
    let mut out = vec![
        ("declared/a.csv".to_owned(), b"d,n\n2026-11-01,1\n2026-11-02,2\n".to_vec()),
        ("any/nested.jsonl".to_owned(), b"{\"a\":1,\"b\":{\"c\":[1,2]}}\n{\"a\":\"x\"}\n".to_vec()),
        ("any/array.json".to_owned(), b"[{\"a\":1},{\"a\":2.5,\"b\":null}]".to_vec()),
    ];
    for dir in ["orders/2026-11-01", "partners/acme", "crm", "legacy"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            out.push((format!("any/{name}"), std::fs::read(&path).unwrap()));
        }
    }
    out
}

#[test]
fn mutated_inputs_never_panic_and_always_end_as_an_outcome() {
    let config = Config::from_yaml(FEEDS, "robustness").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5eed_1a4d_fa11);
    let mut outcomes: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for (name, sample) in samples() {
        let feed = config.feed_for_key(&name).unwrap();
        for _ in 0..400 {
            let input = mutate(&mut rng, &sample);
            let req = ConvertRequest {
                feed,
                source_url: "s3://landing/x",
                name: &name,
                arrival_date: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
                work_dir: dir.path(),
                threads: Threads::One,
                names: NameRules::fresh(config.warehouse.driver),
                scratch_bytes: None,
            };
            let out = convert(
                &input[..],
                &req,
                Box::new(|part| {
                    std::fs::remove_file(&part.path).map_err(|e| landfall::record::SinkError::retryable("rm", e))
                }),
            )
            .unwrap_or_else(|e| panic!("{name}: {e} for input {:?}", String::from_utf8_lossy(&input)));
            *outcomes.entry(out.status.as_str()).or_default() += 1;
            if let Some(path) = out.rejects_file {
                std::fs::remove_file(path).unwrap();
            }
        }
    }
    // The mutations exercise every outcome of a file with bytes, not just
    // one (`empty` needs a file with none; they may make one, or not).
    for status in ["parsed", "partial", "failed", "refused"] {
        assert!(outcomes.get(status).is_some_and(|&n| n > 0), "no {status} among {outcomes:?}");
    }
}
