//! Deterministic synthetic clickstream data for the benchmarks and load tests.
//!
//! N events as CSV (flat columns, RFC 4180 quoting) or NDJSON (nested
//! objects: `device`, `geo`, `properties`), shaped like the web clickstream
//! and partner traffic of an advertising platform: 500 domains with 10
//! partners each, ISO-8601 timestamps, some nulls, non-ASCII text, and fields
//! that need CSV quoting (commas, quotes, newlines).
//!
//! The output is byte for byte what the project's earlier Python generator
//! wrote for the same seed, day and row count: the same Mersenne Twister,
//! seeded and drawn from the way CPython's `random` module does it, and the
//! same text for every value (Python's float `repr`, `True`/`False` in CSV,
//! `json.dumps`' separators). So data generated before the port, the
//! benchmark's bytes-per-row estimates and the published figures stay valid.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::str::FromStr;

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use landfall::warehouse::sql::quote_ident;

const COUNTRIES: [&str; 12] = ["DE", "US", "GB", "FR", "ES", "IT", "NL", "PL", "BR", "IN", "JP", "CA"];
const BROWSERS: [&str; 6] = ["Chrome", "Safari", "Firefox", "Edge", "Samsung Internet", "Opera"];
const OSES: [&str; 5] = ["Windows", "macOS", "iOS", "Android", "Linux"];
const EVENTS: [&str; 6] = ["page_view", "click", "impression", "conversion", "scroll", "add_to_cart"];
const WORDS: [&str; 15] = [
    "best",
    "vpn",
    "insurance",
    "dating",
    "hosting",
    "mattress",
    "café",
    "Zürich",
    "smörgåsbord",
    "naïve",
    "日本",
    "crédit",
    "\"quoted\"",
    "a,b",
    "multi\nline",
];
/// City names are drawn from the first words only (no quoting needed).
const CITY_WORDS: usize = 9;
/// Tags are drawn from the first words only.
const TAG_WORDS: usize = 6;
const SCREEN_WIDTHS: [u32; 5] = [390, 414, 1280, 1440, 1920];
const CONVERSION: &str = "conversion";

/// The CSV header, in the order the columns are written.
pub const CSV_COLUMNS: [&str; 18] = [
    "event_id",
    "event_time",
    "event_type",
    "domain",
    "partner_id",
    "session_id",
    "url",
    "page_title",
    "position",
    "revenue_eur",
    "is_bot",
    "device_browser",
    "device_os",
    "device_mobile",
    "device_screen_w",
    "geo_country",
    "geo_city",
    "properties",
];

/// The seed and day the generator uses unless told otherwise.
pub const DEFAULT_SEED: i64 = 42;
pub const DEFAULT_DAY: &str = "2026-11-01";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Flat columns with a header; nested `properties` as JSON text.
    Csv,
    /// One JSON object per line, nested as generated.
    Ndjson,
}

impl FromStr for Format {
    type Err = io::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "csv" => Ok(Format::Csv),
            "ndjson" => Ok(Format::Ndjson),
            other => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unknown clickstream format {other:?} (csv or ndjson)"),
            )),
        }
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    pub rows: u64,
    pub format: Format,
    /// Any integer; as in Python, a negative seed draws what its absolute value does.
    pub seed: i64,
    /// Events fall within the 24 hours from this instant (midnight of a date by default).
    pub day: NaiveDateTime,
}

impl Options {
    pub fn new(rows: u64, format: Format) -> Self {
        Options { rows, format, seed: DEFAULT_SEED, day: parse_day(DEFAULT_DAY).expect("the default day parses") }
    }
}

/// `YYYY-MM-DD`, or a date and time (`YYYY-MM-DDTHH:MM[:SS[.ffffff]]`), as
/// Python's `datetime.fromisoformat` took them.
pub fn parse_day(text: &str) -> Option<NaiveDateTime> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return date.and_hms_opt(0, 0, 0);
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
}

/// Writes the events to `out` (buffer it: one `write_all` per row).
pub fn write(out: &mut impl Write, options: &Options) -> io::Result<()> {
    let mut rng = PyRandom::new(options.seed);
    let mut line = String::with_capacity(1024);
    let mut scratch = String::with_capacity(256);
    if options.format == Format::Csv && options.rows > 0 {
        // Python wrote the header with the first row, so no rows means no header.
        line.push_str(&CSV_COLUMNS.join(","));
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    for i in 0..options.rows {
        let event = Event::draw(&mut rng, i, options.day);
        line.clear();
        match options.format {
            Format::Csv => event.csv_row(&mut line, &mut scratch),
            Format::Ndjson => event.json_line(&mut line),
        }
        out.write_all(line.as_bytes())?;
    }
    out.flush()
}

/// One event, every random draw made in the order the Python generator made them.
struct Event {
    index: u64,
    time: NaiveDateTime,
    kind: &'static str,
    domain_id: u64,
    partner: u64,
    revenue: Option<f64>,
    title: Vec<&'static str>,
    event_bits: u64,
    session_bits: u64,
    url_word: &'static str,
    url_pos: u64,
    position: u64,
    is_bot: bool,
    browser: &'static str,
    os: &'static str,
    mobile: bool,
    screen_w: u32,
    country: &'static str,
    city: Option<&'static str>,
    ab_bucket: &'static str,
    score: f64,
    tags: Vec<&'static str>,
}

impl Event {
    fn draw(rng: &mut PyRandom, index: u64, day: NaiveDateTime) -> Event {
        let domain_id = rng.randbelow(500);
        let partner = rng.randbelow(10);
        let seconds = rng.randbelow(86_400) as i64;
        let micros = rng.randbelow(1_000_000) as i64;
        let time = day + TimeDelta::seconds(seconds) + TimeDelta::microseconds(micros);
        let kind = rng.choice(&EVENTS);
        let revenue = (kind == CONVERSION).then(|| py_round(rng.random() * 40.0, 4));
        let words = 1 + rng.randbelow(5);
        let title = (0..words).map(|_| rng.choice(&WORDS)).collect();
        let event_bits = rng.getrandbits(32);
        let session_bits = rng.getrandbits(48);
        let url_word = rng.choice(&WORDS);
        let url_pos = 1 + rng.randbelow(10);
        let position = 1 + rng.randbelow(10);
        let is_bot = rng.random() < 0.02;
        let browser = rng.choice(&BROWSERS);
        let os = rng.choice(&OSES);
        let mobile = rng.random() < 0.55;
        let screen_w = rng.choice(&SCREEN_WIDTHS);
        let country = rng.choice(&COUNTRIES);
        let city = if rng.random() < 0.1 { None } else { Some(rng.choice(&WORDS[..CITY_WORDS])) };
        let ab_bucket = rng.choice(&["A", "B"]);
        let score = py_round(rng.random(), 6);
        let tag_count = rng.randbelow(3);
        let tags = (0..tag_count).map(|_| rng.choice(&WORDS[..TAG_WORDS])).collect();
        Event {
            index,
            time,
            kind,
            domain_id,
            partner,
            revenue,
            title,
            event_bits,
            session_bits,
            url_word,
            url_pos,
            position,
            is_bot,
            browser,
            os,
            mobile,
            screen_w,
            country,
            city,
            ab_bucket,
            score,
            tags,
        }
    }

    fn event_id(&self, out: &mut String) {
        let _ = write!(out, "{:012}-{:08x}", self.index, self.event_bits);
    }

    fn event_time(&self, out: &mut String) {
        // isoformat(timespec="microseconds") + "Z".
        let _ = write!(out, "{}Z", self.time.format("%Y-%m-%dT%H:%M:%S%.6f"));
    }

    fn domain(&self, out: &mut String) {
        let _ = write!(out, "site{:03}.example.com", self.domain_id);
    }

    fn partner_id(&self, out: &mut String) {
        let _ = write!(out, "p{:03}-{}", self.domain_id, self.partner);
    }

    fn session_id(&self, out: &mut String) {
        let _ = write!(out, "s{:012x}", self.session_bits);
    }

    fn url(&self, out: &mut String) {
        let word = self.url_word.replace('\n', "-");
        let _ = write!(
            out,
            "https://site{:03}.example.com/compare/{word}?utm_source=ads&pos={}",
            self.domain_id, self.url_pos
        );
    }

    fn page_title(&self, out: &mut String) {
        for (i, w) in self.title.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(w);
        }
    }

    /// `properties` as `json.dumps` wrote it: `{"ab_bucket": "A", "score": 0.5, "tags": [...]}`.
    fn properties(&self, out: &mut String) {
        out.push_str("{\"ab_bucket\": ");
        json_str(out, self.ab_bucket);
        out.push_str(", \"score\": ");
        py_float(out, self.score);
        out.push_str(", \"tags\": [");
        for (i, t) in self.tags.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            json_str(out, t);
        }
        out.push_str("]}");
    }

    fn json_line(&self, out: &mut String) {
        let field = |out: &mut String, name: &str, first: bool| {
            if !first {
                out.push_str(", ");
            }
            json_str(out, name);
            out.push_str(": ");
        };
        let mut text = String::with_capacity(96);
        let mut string = |out: &mut String, f: &dyn Fn(&mut String)| {
            text.clear();
            f(&mut text);
            json_str(out, &text);
        };
        out.push('{');
        field(out, "event_id", true);
        string(out, &|s| self.event_id(s));
        field(out, "event_time", false);
        string(out, &|s| self.event_time(s));
        field(out, "event_type", false);
        json_str(out, self.kind);
        field(out, "domain", false);
        string(out, &|s| self.domain(s));
        field(out, "partner_id", false);
        string(out, &|s| self.partner_id(s));
        field(out, "session_id", false);
        string(out, &|s| self.session_id(s));
        field(out, "url", false);
        string(out, &|s| self.url(s));
        field(out, "page_title", false);
        string(out, &|s| self.page_title(s));
        field(out, "position", false);
        let _ = write!(out, "{}", self.position);
        field(out, "revenue_eur", false);
        match self.revenue {
            Some(r) => py_float(out, r),
            None => out.push_str("null"),
        }
        field(out, "is_bot", false);
        out.push_str(if self.is_bot { "true" } else { "false" });
        field(out, "device", false);
        out.push_str("{\"browser\": ");
        json_str(out, self.browser);
        out.push_str(", \"os\": ");
        json_str(out, self.os);
        let _ = write!(out, ", \"mobile\": {}, \"screen_w\": {}}}", self.mobile, self.screen_w);
        field(out, "geo", false);
        out.push_str("{\"country\": ");
        json_str(out, self.country);
        out.push_str(", \"city\": ");
        match self.city {
            Some(c) => json_str(out, c),
            None => out.push_str("null"),
        }
        out.push('}');
        field(out, "properties", false);
        self.properties(out);
        out.push_str("}\n");
    }

    fn csv_row(&self, out: &mut String, scratch: &mut String) {
        let mut cell = |out: &mut String, first: bool, f: &dyn Fn(&mut String)| {
            if !first {
                out.push(',');
            }
            scratch.clear();
            f(scratch);
            csv_field(out, scratch);
        };
        // Python's csv module writes str(value): True/False, repr of floats, "" for None.
        let py_bool = |b: bool| if b { "True" } else { "False" };
        cell(out, true, &|s| self.event_id(s));
        cell(out, false, &|s| self.event_time(s));
        cell(out, false, &|s| s.push_str(self.kind));
        cell(out, false, &|s| self.domain(s));
        cell(out, false, &|s| self.partner_id(s));
        cell(out, false, &|s| self.session_id(s));
        cell(out, false, &|s| self.url(s));
        cell(out, false, &|s| self.page_title(s));
        cell(out, false, &|s| {
            let _ = write!(s, "{}", self.position);
        });
        cell(out, false, &|s| {
            if let Some(r) = self.revenue {
                py_float(s, r)
            }
        });
        cell(out, false, &|s| s.push_str(py_bool(self.is_bot)));
        cell(out, false, &|s| s.push_str(self.browser));
        cell(out, false, &|s| s.push_str(self.os));
        cell(out, false, &|s| s.push_str(py_bool(self.mobile)));
        cell(out, false, &|s| {
            let _ = write!(s, "{}", self.screen_w);
        });
        cell(out, false, &|s| s.push_str(self.country));
        cell(out, false, &|s| s.push_str(self.city.unwrap_or("")));
        cell(out, false, &|s| self.properties(s));
        out.push('\n');
    }
}

/// A CSV field as Python's csv module writes it (QUOTE_MINIMAL): quoted
/// when it holds the delimiter, a quote or a line break. The quoting is
/// SQL's for identifiers: in double quotes, embedded ones doubled.
fn csv_field(out: &mut String, value: &str) {
    if value.contains([',', '"', '\n', '\r']) {
        out.push_str(&quote_ident(value));
    } else {
        out.push_str(value);
    }
}

/// A JSON string as `json.dumps(..., ensure_ascii=False)` writes it.
fn json_str(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Python's `round(x, ndigits)`: the double nearest to `x` correctly
/// rounded to `ndigits` decimals, ties to even (as Rust's fixed-precision
/// formatting rounds).
fn py_round(x: f64, ndigits: usize) -> f64 {
    format!("{x:.ndigits$}").parse().unwrap_or(x)
}

/// Python's `repr(float)`: the shortest digits that round-trip, positional
/// for decimal exponents from -4 up to 16, otherwise `1.5e-05` style.
fn py_float(out: &mut String, x: f64) {
    if !x.is_finite() {
        // json.dumps' spelling; the generator never draws these.
        out.push_str(if x.is_nan() {
            "NaN"
        } else if x > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        });
        return;
    }
    // Rust's LowerExp without a precision gives the shortest round-trip digits.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if x.is_sign_negative() {
        out.push('-');
    }
    // Position of the decimal point relative to the digits.
    let point = exp + 1;
    if point <= -4 || point > 16 {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    } else if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-point) as usize));
        out.push_str(&digits);
    } else if point as usize >= digits.len() {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', point as usize - digits.len()));
        out.push_str(".0");
    } else {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    }
}

/// CPython's `random.Random`: MT19937 seeded from an integer by
/// `init_by_array`, with `random()`, `getrandbits()` and the rejection
/// sampling `randrange` and `choice` use.
struct PyRandom {
    state: [u32; 624],
    index: usize,
}

impl PyRandom {
    const N: usize = 624;
    const M: usize = 397;

    fn new(seed: i64) -> Self {
        // The absolute value as 32-bit words, least significant first; zero is one word.
        let n = seed.unsigned_abs();
        let key: Vec<u32> = if n >> 32 == 0 { vec![n as u32] } else { vec![n as u32, (n >> 32) as u32] };
        let mut rng = PyRandom { state: [0; 624], index: Self::N };
        rng.init_by_array(&key);
        rng
    }

    fn init_genrand(&mut self, seed: u32) {
        self.state[0] = seed;
        for i in 1..Self::N {
            let prev = self.state[i - 1];
            self.state[i] = 1_812_433_253u32.wrapping_mul(prev ^ (prev >> 30)).wrapping_add(i as u32);
        }
        self.index = Self::N;
    }

    fn init_by_array(&mut self, key: &[u32]) {
        self.init_genrand(19_650_218);
        let mt = &mut self.state;
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..Self::N.max(key.len()) {
            let prev = mt[i - 1];
            mt[i] = (mt[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_664_525)).wrapping_add(key[j]).wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= Self::N {
                mt[0] = mt[Self::N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..Self::N - 1 {
            let prev = mt[i - 1];
            mt[i] = (mt[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= Self::N {
                mt[0] = mt[Self::N - 1];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= Self::N {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    fn twist(&mut self) {
        const UPPER: u32 = 0x8000_0000;
        const LOWER: u32 = 0x7fff_ffff;
        const MATRIX_A: u32 = 0x9908_b0df;
        let mt = &mut self.state;
        for k in 0..Self::N {
            let y = (mt[k] & UPPER) | (mt[(k + 1) % Self::N] & LOWER);
            let mag = if y & 1 == 1 { MATRIX_A } else { 0 };
            mt[k] = mt[(k + Self::M) % Self::N] ^ (y >> 1) ^ mag;
        }
        self.index = 0;
    }

    /// A float in [0, 1) from 53 random bits.
    fn random(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// `k` random bits (1..=64), filled 32 bits at a time from the least
    /// significant end, the last word keeping its top bits.
    fn getrandbits(&mut self, k: u32) -> u64 {
        debug_assert!((1..=64).contains(&k));
        if k <= 32 {
            return u64::from(self.next_u32() >> (32 - k));
        }
        let low = u64::from(self.next_u32());
        let high = u64::from(self.next_u32() >> (64 - k));
        (high << 32) | low
    }

    /// A uniform integer in [0, n): draws of n's bit length until one fits.
    fn randbelow(&mut self, n: u64) -> u64 {
        let k = 64 - n.leading_zeros();
        loop {
            let r = self.getrandbits(k);
            if r < n {
                return r;
            }
        }
    }

    fn choice<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.randbelow(items.len() as u64) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generate(rows: u64, format: Format, seed: i64) -> String {
        let mut out = Vec::new();
        write(&mut out, &Options { seed, ..Options::new(rows, format) }).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn draws_what_cpython_draws() {
        // random.Random(42): random(), getrandbits(32), getrandbits(48), randrange(500).
        let mut rng = PyRandom::new(42);
        assert_eq!(rng.random(), 0.6394267984578837);
        assert_eq!(rng.getrandbits(32), 0x0667_1ad1);
        assert_eq!(rng.getrandbits(48), 0x4668_bdd6_40fb);
        assert_eq!(rng.randbelow(500), 125);
        let mut zero = PyRandom::new(0);
        assert_eq!(zero.random(), 0.8444218515250481);
    }

    #[test]
    fn floats_read_as_python_writes_them() {
        let repr = |x: f64| {
            let mut s = String::new();
            py_float(&mut s, x);
            s
        };
        assert_eq!(repr(0.0), "0.0");
        assert_eq!(repr(12.0), "12.0");
        assert_eq!(repr(0.1234), "0.1234");
        assert_eq!(repr(0.0001), "0.0001");
        assert_eq!(repr(0.00001), "1e-05");
        assert_eq!(repr(0.000012), "1.2e-05");
        assert_eq!(repr(1e16), "1e+16");
        assert_eq!(repr(123456789012345.6), "123456789012345.6");
        assert_eq!(py_round(2.675, 2), 2.67); // 2.675 is 2.67499999... in binary
        assert_eq!(py_round(0.125, 2), 0.12); // an exact tie goes to even
    }

    #[test]
    fn csv_has_the_columns_and_quotes_what_needs_it() {
        let text = generate(300, Format::Csv, DEFAULT_SEED);
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
        assert_eq!(header, CSV_COLUMNS);
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 300);
        assert!(rows.iter().all(|r| r.len() == CSV_COLUMNS.len()));
        assert!(rows.iter().any(|r| r[7].contains('\n')), "some titles span lines");
        assert!(rows.iter().any(|r| r[7].contains("\"quoted\"")));
        assert!(rows.iter().any(|r| r[9].is_empty()) && rows.iter().any(|r| !r[9].is_empty()));
        assert!(rows.iter().all(|r| r[1].starts_with("2026-11-01T") && r[1].ends_with('Z') && r[1].len() == 27));
        assert!(rows.iter().all(|r| matches!(&r[10], "True" | "False")));
        for r in &rows {
            let properties: serde_json::Value = serde_json::from_str(&r[17]).unwrap();
            assert!(properties["tags"].is_array() && properties["score"].is_number());
        }
        assert_eq!(&rows[0][0][..13], "000000000000-");
        assert_eq!(&rows[299][0][..13], "000000000299-");
    }

    #[test]
    fn ndjson_nests_device_geo_and_properties() {
        let text = generate(300, Format::Ndjson, DEFAULT_SEED);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 300);
        for line in &lines {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(keys.len(), 14, "{line}");
            assert!(v["device"]["screen_w"].is_u64() && v["geo"]["country"].is_string());
            assert!(v["properties"]["tags"].is_array() && v["is_bot"].is_boolean());
        }
        // json.dumps' separators, not serde_json's compact ones.
        assert!(lines[0].starts_with("{\"event_id\": \"000000000000-"));
    }

    #[test]
    fn a_seed_gives_the_same_bytes_and_another_seed_others() {
        for format in [Format::Csv, Format::Ndjson] {
            let a = generate(200, format, 7);
            assert_eq!(a, generate(200, format, 7));
            assert_eq!(a, generate(200, format, -7), "Python seeds with the absolute value");
            assert_ne!(a, generate(200, format, 8));
            assert!(generate(50, format, 7).len() < a.len());
        }
        assert_eq!(generate(0, Format::Csv, 1), "");
    }

    #[test]
    fn the_benchmarks_file_is_written_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clicks.csv");
        let ten = generate(10, Format::Csv, DEFAULT_SEED);
        crate::generate_clickstream(&path, "csv", 10).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), ten);
        crate::generate_clickstream(&path, "csv", 99).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), ten, "an existing file is kept");
        let bad = dir.path().join("clicks.xml");
        assert!(crate::generate_clickstream(&bad, "xml", 10).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "nothing left behind");
    }

    #[test]
    fn the_day_sets_the_dates() {
        let day = parse_day("2027-02-03").unwrap();
        let mut out = Vec::new();
        write(&mut out, &Options { day, ..Options::new(20, Format::Ndjson) }).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("\"event_time\": \"2027-02-03T").count(), 20);
        assert!(parse_day("2027-02-03T12:00").is_some());
        assert!(parse_day("03/02/2027").is_none());
    }
}
