//! Text encoding: BOMs, transcoding to UTF-8, and the up-front check that a
//! file declared (or assumed) UTF-8 really is text.

use std::io::{Cursor, Read};

use encoding_rs::{Encoding, UTF_8};
use encoding_rs_io::DecodeReaderBytesBuilder;

use super::stream::{Ctx, read_up_to};
use super::{FormatError, MAX_LEADING_WHITESPACE, SAMPLE_SIZE};

/// Resolves a WHATWG encoding label ("windows-1252", "latin1",
/// "iso-8859-1", "utf-8", "utf-16le", "shift_jis", ...).
pub fn encoding_for_label(label: &str) -> Option<&'static Encoding> {
    Encoding::for_label(label.trim().as_bytes())
}

/// The decompressed stream, now UTF-8, with the first part already read.
pub(crate) struct Decoded<'a> {
    /// The start of the text, BOM removed.
    pub sample: Vec<u8>,
    /// `sample` is the whole text.
    pub complete: bool,
    /// The text after `sample`.
    pub rest: Box<dyn Read + 'a>,
    /// The source encoding.
    pub encoding: &'static Encoding,
}

/// `head` is the first bytes of the decompressed stream, `rest` the remainder.
pub(crate) fn decode<'a>(
    mut head: Vec<u8>,
    head_complete: bool,
    rest: Box<dyn Read + 'a>,
    configured: Option<&'static Encoding>,
    ctx: &Ctx,
) -> Result<Decoded<'a>, FormatError> {
    let bom = Encoding::for_bom(&head);
    // A BOM is explicit about the encoding, so it beats the configuration.
    let transcode_from = match bom {
        Some((enc, _)) if enc == UTF_8 => None,
        Some((enc, _)) => Some(enc),
        None => configured.filter(|e| *e != UTF_8),
    };
    match transcode_from {
        None => {
            let bom_len = bom.map_or(0, |(_, len)| len);
            head.drain(..bom_len.min(head.len()));
            let mut rest = rest;
            let mut complete = head_complete;
            extend_over_whitespace(&mut head, &mut complete, &mut *rest, ctx)?;
            check_utf8(&head, complete, bom_len as u64)?;
            Ok(Decoded { sample: head, complete, rest, encoding: UTF_8 })
        }
        Some(enc) => {
            let src = Cursor::new(head).chain(rest);
            let decoder = DecodeReaderBytesBuilder::new()
                .encoding(Some(enc))
                .bom_override(true)
                .strip_bom(true)
                .build_with_buffer(src, vec![0; SAMPLE_SIZE])
                .map_err(|e| ctx.fail(e))?;
            let mut rest: Box<dyn Read + 'a> = Box::new(decoder);
            let mut sample = Vec::with_capacity(SAMPLE_SIZE);
            let mut complete = read_up_to(&mut *rest, &mut sample, SAMPLE_SIZE).map_err(|e| ctx.fail(e))?;
            extend_over_whitespace(&mut sample, &mut complete, &mut *rest, ctx)?;
            // Offsets in the transcoded text; the transcoder cannot produce invalid UTF-8.
            check_nul(&sample, 0)?;
            Ok(Decoded { sample, complete, rest, encoding: enc })
        }
    }
}

pub(crate) fn is_json_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Detection needs to see the first non-blank byte.
fn extend_over_whitespace(
    sample: &mut Vec<u8>,
    complete: &mut bool,
    rest: &mut dyn Read,
    ctx: &Ctx,
) -> Result<(), FormatError> {
    while !*complete && sample.len() < MAX_LEADING_WHITESPACE && sample.iter().all(|&b| is_json_whitespace(b)) {
        *complete = read_up_to(rest, sample, SAMPLE_SIZE).map_err(|e| ctx.fail(e))?;
    }
    Ok(())
}

fn check_utf8(sample: &[u8], complete: bool, base: u64) -> Result<(), FormatError> {
    check_nul(sample, base)?;
    if let Err(e) = std::str::from_utf8(sample) {
        // A multi-byte character cut by the end of the sample is fine.
        if e.error_len().is_none() && !complete {
            return Ok(());
        }
        let at = e.valid_up_to();
        let line = line_at(sample, at);
        return Err(FormatError::unreadable(
            format!(
                "not valid UTF-8 at byte {} (line {line}); set format.encoding (for example windows-1252) in the feed",
                at as u64 + base
            ),
            Some(line),
        ));
    }
    Ok(())
}

fn line_at(text: &[u8], offset: usize) -> u64 {
    text.get(..offset).unwrap_or(text).iter().filter(|&&b| b == b'\n').count() as u64 + 1
}

/// Text with a NUL byte in every fiftieth byte or more is not text; a few
/// NULs in values (a partner's export pads a field) cost only their rows,
/// which the writer rejects (no warehouse text type can hold a NUL).
const BINARY_NUL_SHARE: usize = 50;

fn check_nul(sample: &[u8], base: u64) -> Result<(), FormatError> {
    let Some(pos) = sample.iter().position(|&b| b == 0) else {
        return Ok(());
    };
    let utf16 = utf16_without_bom(sample);
    let nuls = sample.iter().filter(|&&b| b == 0).count();
    if utf16.is_none() && nuls * BINARY_NUL_SHARE <= sample.len() {
        return Ok(());
    }
    let hint = match utf16 {
        Some(label) => format!("; looks like {label} text without a byte-order mark: set format.encoding to {label}"),
        None => String::new(),
    };
    Err(FormatError::unreadable(
        format!("binary content (NUL byte at offset {}{hint}): not CSV or JSON", pos as u64 + base),
        Some(line_at(sample, pos)),
    ))
}

/// Mostly-ASCII UTF-16 has a NUL in every other byte.
fn utf16_without_bom(sample: &[u8]) -> Option<&'static str> {
    let probe = sample.get(..1024).unwrap_or(sample);
    let pairs = probe.len() / 2;
    if pairs < 8 {
        return None;
    }
    let (mut even, mut odd) = (0, 0);
    for pair in probe.chunks_exact(2) {
        even += usize::from(pair[0] == 0);
        odd += usize::from(pair[1] == 0);
    }
    if odd * 10 >= pairs * 8 && even * 10 <= pairs {
        Some("utf-16le")
    } else if even * 10 >= pairs * 8 && odd * 10 <= pairs {
        Some("utf-16be")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::*;

    #[test]
    fn labels() {
        assert_eq!(encoding_for_label("windows-1252"), Some(encoding_rs::WINDOWS_1252));
        assert_eq!(encoding_for_label("latin1"), Some(encoding_rs::WINDOWS_1252));
        assert_eq!(encoding_for_label(" ISO-8859-1 "), Some(encoding_rs::WINDOWS_1252));
        assert_eq!(encoding_for_label("utf-8"), Some(encoding_rs::UTF_8));
        assert_eq!(encoding_for_label("UTF8"), Some(encoding_rs::UTF_8));
        assert_eq!(encoding_for_label("klingon"), None);
    }

    #[test]
    fn utf8_bom_stripped() {
        let (s, sink) = read_ok(b"\xef\xbb\xbfid,name\n1,a\n", "x.csv");
        assert_eq!(sink.header.unwrap(), vec!["id", "name"]);
        assert_eq!(s.encoding, "UTF-8");
        let (s, sink) = read_ok(b"\xef\xbb\xbf{\"a\":1}\n", "x.jsonl");
        assert_eq!(s.format, DetectedFormat::Ndjson);
        assert_eq!(sink.columns, vec!["a"]);
    }

    #[test]
    fn windows_1252_transcoded() {
        let opts = ReadOptions { encoding: encoding_for_label("windows-1252"), ..Default::default() };
        let (res, sink) = read_with(b"id;name\n1;caf\xe9\n2;\x80uro\n", "x.csv", &opts);
        let s = res.unwrap();
        assert_eq!(s.encoding, "windows-1252");
        assert_eq!(s.format, DetectedFormat::Csv { delimiter: b';' });
        let rows = sink.named();
        assert_eq!(rows[0].1[1].1, t("café"));
        assert_eq!(rows[1].1[1].1, t("€uro"));
    }

    #[test]
    fn configured_utf8_behaves_like_none() {
        let opts = ReadOptions { encoding: encoding_for_label("utf-8"), ..Default::default() };
        let (res, _) = read_with(b"a\n\xe9\n", "x.csv", &opts);
        assert!(matches!(res, Err(FormatError::Unreadable { .. })));
    }

    #[test]
    fn utf16_boms_transcoded() {
        let text = "id,name\n1,café\n";
        let mut le = vec![0xff, 0xfe];
        le.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
        let (s, sink) = read_ok(&le, "x.csv");
        assert_eq!(s.encoding, "UTF-16LE");
        assert_eq!(sink.named()[0].1[1].1, t("café"));

        let mut be = vec![0xfe, 0xff];
        be.extend(text.encode_utf16().flat_map(|u| u.to_be_bytes()));
        let (s, sink) = read_ok(&be, "x.csv");
        assert_eq!(s.encoding, "UTF-16BE");
        assert_eq!(sink.header.unwrap(), vec!["id", "name"]);
    }

    #[test]
    fn utf16_without_bom_gets_a_hint() {
        let le: Vec<u8> = "id,name\n1,abc\n".encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        let (reason, _) = read_err(&le, "x.csv");
        assert!(reason.contains("utf-16le"), "{reason}");
    }

    #[test]
    fn non_utf8_without_encoding_is_unreadable_with_offset() {
        let (reason, line) = read_err(b"id,name\n1,abc\n2,caf\xe9\n", "x.csv");
        assert_eq!(
            reason,
            "not valid UTF-8 at byte 19 (line 3); set format.encoding (for example windows-1252) in the feed"
        );
        assert_eq!(line, Some(3));
        // The offset counts from the start of the file, BOM included.
        let (reason, _) = read_err(b"\xef\xbb\xbfid\n\xff\n", "x.csv");
        assert!(reason.starts_with("not valid UTF-8 at byte 6 (line 2)"), "{reason}");
    }

    #[test]
    fn multibyte_char_cut_by_sample_end_is_fine() {
        // Put a 3-byte character across the 64 KiB sample boundary.
        let mut data = b"text\n".to_vec();
        while data.len() < SAMPLE_SIZE {
            data.extend_from_slice(b"x\n");
        }
        data.truncate(SAMPLE_SIZE - 2);
        data.extend_from_slice("€\n".as_bytes());
        data.extend_from_slice(b"y\n");
        let (s, sink) = read_ok(&data, "x.csv");
        assert_eq!(s.rejected, 0);
        assert!(sink.records.iter().any(|(_, v)| v[0].1 == t("x€")), "char lost");
    }

    #[test]
    fn invalid_utf8_after_sample_rejects_only_that_record() {
        let mut data = b"id,name\n".to_vec();
        let mut n = 0;
        while data.len() < SAMPLE_SIZE * 2 {
            n += 1;
            data.extend_from_slice(format!("{n},ok\n").as_bytes());
        }
        data.extend_from_slice(b"bad,caf\xe9\nlast,ok\n");
        let (s, sink) = read_ok(&data, "x.csv");
        assert_eq!(s.rejected, 1);
        assert_eq!(s.records, n + 1);
        let r = &sink.rejects[0];
        assert_eq!(r.line, n + 2);
        assert_eq!(r.column.as_deref(), Some("name"));
        assert!(r.reason.contains("not valid UTF-8"), "{}", r.reason);
        assert_eq!(r.raw, "bad,caf\u{fffd}");
    }

    #[test]
    fn binary_png_is_unreadable() {
        let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10";
        let (reason, _) = read_err(png, "photo.csv");
        assert!(reason.starts_with("binary content"), "{reason}");
        assert!(reason.contains("PNG"), "{reason}");
    }

    #[test]
    fn binary_nul_is_unreadable() {
        let (reason, _) = read_err(b"abc\x00def\n", "x.csv");
        assert_eq!(reason, "binary content (NUL byte at offset 3): not CSV or JSON");
    }

    #[test]
    fn empty_files() {
        for bytes in [&b""[..], b" \n\r\n\t  \n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\n\n"] {
            assert!(is_empty_file(bytes, "x.json"), "{bytes:?}");
        }
    }

    #[test]
    fn long_leading_whitespace_then_data() {
        let mut data = vec![b'\n'; SAMPLE_SIZE * 3];
        data.extend_from_slice(b"{\"a\":1}\n{\"a\":2}\n");
        let (s, sink) = read_ok(&data, "x");
        assert_eq!(s.format, DetectedFormat::Ndjson);
        assert_eq!(sink.lines(), vec![SAMPLE_SIZE as u64 * 3 + 1, SAMPLE_SIZE as u64 * 3 + 2]);
    }
}
