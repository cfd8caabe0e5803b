//! Compression detection and decoders.

use std::io::{self, BufRead, Read};

use super::{Compression, CompressionChoice};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Picks the decoder. A configured choice wins; otherwise the magic bytes
/// decide. Both gzip and zstd always start with their magic, so a ".gz" key
/// without it is not gzip, and the extension adds nothing.
pub(crate) fn choose(choice: CompressionChoice, magic: &[u8]) -> Compression {
    match choice {
        CompressionChoice::None => Compression::None,
        CompressionChoice::Gzip => Compression::Gzip,
        CompressionChoice::Zstd => Compression::Zstd,
        CompressionChoice::Auto => sniff(magic),
    }
}

fn sniff(magic: &[u8]) -> Compression {
    if magic.starts_with(&GZIP_MAGIC) {
        Compression::Gzip
    } else if magic.starts_with(&ZSTD_MAGIC) || is_zstd_skippable(magic) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// zstd skippable frames (magic 0x184D2A50..=0x184D2A5F, little-endian) may
/// precede the data frames, e.g. for seekable archives.
fn is_zstd_skippable(magic: &[u8]) -> bool {
    matches!(magic, [b0, 0x2a, 0x4d, 0x18, ..] if b0 & 0xf0 == 0x50)
}

pub(crate) fn decoder<'a, R: BufRead + 'a>(c: Compression, raw: R) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match c {
        Compression::None => Box::new(raw),
        // Multi-member: concatenated gzip files (`cat a.gz b.gz`) are valid gzip.
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(raw)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(raw)?),
    })
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    const CSV: &[u8] = b"id,name\n1,caf\xc3\xa9\n2,b\n";

    #[test]
    fn gzip_detected_by_magic_despite_extension() {
        let (s, sink) = read_ok(&gzip(CSV), "export.csv");
        assert_eq!(s.compression, Compression::Gzip);
        assert_eq!(s.records, 2);
        assert_eq!(sink.named()[0].1[1], ("name".to_string(), t("café")));
        assert_eq!(s.decoded_bytes, CSV.len() as u64);
    }

    #[test]
    fn zstd_detected_by_magic_despite_extension() {
        let z = zstd::encode_all(CSV, 3).unwrap();
        let (s, sink) = read_ok(&z, "export.csv.gz");
        assert_eq!(s.compression, Compression::Zstd);
        assert_eq!(sink.records.len(), 2);
    }

    #[test]
    fn gz_extension_without_magic_is_plain() {
        let (s, _) = read_ok(CSV, "export.csv.gz");
        assert_eq!(s.compression, Compression::None);
    }

    #[test]
    fn multi_member_gzip() {
        let mut data = gzip(b"a,b\n1,2\n");
        data.extend(gzip(b"3,4\n"));
        data.extend(gzip(b"5,6\n"));
        let (s, sink) = read_ok(&data, "x.csv.gz");
        assert_eq!(s.records, 3);
        assert_eq!(sink.lines(), vec![2, 3, 4]);
    }

    #[test]
    fn multi_frame_zstd() {
        let mut data = zstd::encode_all(&b"{\"a\":1}\n"[..], 1).unwrap();
        data.extend(zstd::encode_all(&b"{\"a\":2}\n"[..], 1).unwrap());
        let (s, _) = read_ok(&data, "x.jsonl.zst");
        assert_eq!(s.records, 2);
        assert_eq!(s.format, DetectedFormat::Ndjson);
    }

    #[test]
    fn corrupt_gzip_is_unreadable() {
        let big: Vec<u8> = (0..20_000).flat_map(|i| format!("{i},row {i}\n").into_bytes()).collect();
        let mut data = gzip(&big);
        let mid = data.len() / 2;
        for b in &mut data[mid..mid + 64] {
            *b ^= 0x55;
        }
        let (res, _) = read_with(&data, "x.csv.gz", &ReadOptions::default());
        let err = res.unwrap_err();
        assert_eq!(err.disposition(), crate::disposition::Disposition::Done);
        let msg = err.to_string();
        assert!(msg.starts_with("gzip stream is corrupt at decompressed byte"), "{msg}");
    }

    #[test]
    fn truncated_gzip_is_unreadable() {
        let big: Vec<u8> = (0..20_000).flat_map(|i| format!("{i},row {i}\n").into_bytes()).collect();
        let data = gzip(&big);
        let (reason, _) = read_err(&data[..data.len() / 2], "x.csv.gz");
        assert!(reason.starts_with("gzip stream is corrupt"), "{reason}");
    }

    #[test]
    fn truncated_zstd_is_unreadable() {
        let big: Vec<u8> = (0..20_000).flat_map(|i| format!("{i},row {i}\n").into_bytes()).collect();
        let data = zstd::encode_all(&big[..], 3).unwrap();
        let (reason, _) = read_err(&data[..data.len() / 2], "x.csv.zst");
        assert!(reason.starts_with("zstd stream is corrupt"), "{reason}");
    }

    #[test]
    fn configured_gzip_on_plain_data_is_unreadable() {
        let opts = ReadOptions { compression: CompressionChoice::Gzip, ..Default::default() };
        let (res, _) = read_with(CSV, "x.csv", &opts);
        let msg = res.unwrap_err().to_string();
        assert!(msg.starts_with("gzip stream is corrupt"), "{msg}");
    }

    #[test]
    fn configured_none_on_gzip_is_binary() {
        let opts = ReadOptions { compression: CompressionChoice::None, ..Default::default() };
        let (res, _) = read_with(&gzip(CSV), "x.csv", &opts);
        let msg = res.unwrap_err().to_string();
        assert!(msg.contains("gzip"), "{msg}");
    }

    #[test]
    fn a_file_that_decompresses_past_the_bound_is_refused_as_a_bomb() {
        // 8 MiB of one CSV line repeated compresses to a few KiB.
        let big: Vec<u8> = b"a,b\n".iter().copied().chain(b"1,2\n".iter().copied().cycle().take(8 << 20)).collect();
        let bomb = gzip(&big);
        assert!(bomb.len() < 64 << 10, "{} compressed bytes", bomb.len());
        let opts = ReadOptions { max_decompressed_bytes: Some(1 << 20), ..Default::default() };
        let (res, _) = read_with(&bomb, "x.csv.gz", &opts);
        let msg = res.unwrap_err().to_string();
        assert!(msg.starts_with("decompresses to more than 1 MiB") && msg.contains("compression bomb"), "{msg}");
        let (ok, _) = read_with(&bomb, "x.csv.gz", &ReadOptions::default());
        assert!(ok.is_ok(), "under the default bound it reads");
    }

    #[test]
    fn empty_gzip_is_empty_file() {
        assert!(is_empty_file(&gzip(b""), "x.csv.gz"));
    }

    #[test]
    fn skippable_zstd_frame() {
        assert!(super::is_zstd_skippable(&[0x50, 0x2a, 0x4d, 0x18]));
        assert!(!super::is_zstd_skippable(&[0x50, 0x2a, 0x4d]));
    }
}
