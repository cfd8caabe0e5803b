//! Column names that are safe to use unquoted-or-quoted in Redshift,
//! PostgreSQL, Glue and Hive: `[a-z_][a-z0-9_]*`, at most 127 bytes.

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};

/// Redshift's identifier limit; PostgreSQL's 63 is the loader's problem
/// (it can hash further), Glue and Spectrum accept 255.
pub const MAX_IDENTIFIER_BYTES: usize = 127;
const CUT_BYTES: usize = 118;

/// Turns any header or JSON key into a lower snake_case ASCII identifier.
pub fn normalize_identifier(raw: &str) -> String {
    let ascii = deunicode::deunicode(raw);
    let bytes = ascii.as_bytes();
    let mut out = String::with_capacity(bytes.len() + 4);
    // True when the last byte pushed is a separator (or nothing was pushed),
    // so runs of junk collapse into one '_'.
    let mut pending_sep = false;
    for (i, &b) in bytes.iter().enumerate() {
        if b.is_ascii_alphanumeric() {
            if b.is_ascii_uppercase() && i > 0 && !out.is_empty() && !pending_sep {
                let prev = bytes[i - 1];
                let next_lower = bytes.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
                // "userId" -> user_id, "HTTPStatus" -> http_status, but
                // "eventID2" keeps "id2" together.
                if prev.is_ascii_lowercase()
                    || prev.is_ascii_digit() && !out.is_empty()
                    || (prev.is_ascii_uppercase() && next_lower)
                {
                    out.push('_');
                }
            }
            if pending_sep && !out.is_empty() {
                out.push('_');
            }
            pending_sep = false;
            out.push(b.to_ascii_lowercase() as char);
        } else {
            pending_sep = true;
        }
    }
    if out.is_empty() {
        out.push_str("column");
    }
    if out.as_bytes()[0].is_ascii_digit() {
        out.insert(0, '_');
    }
    if out.len() > MAX_IDENTIFIER_BYTES {
        return shorten(&out, CUT_BYTES);
    }
    out
}

/// `name` cut to `keep` bytes plus a hash of the whole name, so two long
/// names sharing a prefix stay distinct. `name` is ASCII, so any cut is a
/// char boundary.
fn shorten(name: &str, keep: usize) -> String {
    let digest = Sha256::digest(name.as_bytes());
    let mut out = String::with_capacity(keep + 9);
    out.push_str(name.get(..keep).unwrap_or(name));
    out.push('_');
    for b in digest.iter().take(4) {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Hands out unique normalised names in order of first appearance.
#[derive(Debug, Clone, Default)]
pub struct NameRegistry {
    taken: HashSet<String>,
    by_raw: HashMap<String, String>,
}

impl NameRegistry {
    pub fn new(reserved: &[&str]) -> Self {
        Self { taken: reserved.iter().map(|s| (*s).to_string()).collect(), by_raw: HashMap::new() }
    }

    /// The name for `raw`; asking again with the same `raw` returns the same name.
    pub fn assign(&mut self, raw: &str) -> String {
        if let Some(name) = self.by_raw.get(raw) {
            return name.clone();
        }
        let name = self.claim(normalize_identifier(raw));
        self.by_raw.insert(raw.to_string(), name.clone());
        name
    }

    /// A new name even if `raw` was seen before: a CSV header may repeat a
    /// column name, and each occurrence is its own column.
    pub fn assign_fresh(&mut self, raw: &str) -> String {
        let name = self.claim(normalize_identifier(raw));
        self.by_raw.entry(raw.to_string()).or_insert_with(|| name.clone());
        name
    }

    /// The name for a nested JSON path: segments normalised one by one and
    /// joined with "__", so `{"a": {"b": 1}}` and `{"a_b": 1}` stay apart.
    pub fn assign_path(&mut self, path: &[&str]) -> String {
        // A separator that deunicode-able keys cannot contain, so the memo
        // key of ["a.b"] differs from ["a", "b"].
        let key: String = path.join("\u{0}");
        if let Some(name) = self.by_raw.get(&key) {
            return name.clone();
        }
        let mut joined = String::new();
        for (i, seg) in path.iter().enumerate() {
            if i > 0 {
                joined.push_str("__");
            }
            joined.push_str(&normalize_identifier(seg));
        }
        if joined.is_empty() {
            joined.push_str("column");
        }
        if joined.len() > MAX_IDENTIFIER_BYTES {
            joined = shorten(&joined, CUT_BYTES);
        }
        let name = self.claim(joined);
        self.by_raw.insert(key, name.clone());
        name
    }

    pub fn is_taken(&self, name: &str) -> bool {
        self.taken.contains(name)
    }

    fn claim(&mut self, base: String) -> String {
        if self.taken.insert(base.clone()) {
            return base;
        }
        let mut n: u64 = 2;
        loop {
            let suffix = format!("_{n}");
            let room = MAX_IDENTIFIER_BYTES - suffix.len();
            let stem = base.get(..room.min(base.len())).unwrap_or(&base);
            let candidate = format!("{stem}{suffix}");
            if self.taken.insert(candidate.clone()) {
                return candidate;
            }
            n += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_safe(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= MAX_IDENTIFIER_BYTES
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !name.as_bytes()[0].is_ascii_digit()
    }

    #[test]
    fn normalizes_table() {
        let cases: &[(&str, &str)] = &[
            ("userId", "user_id"),
            ("UserId", "user_id"),
            ("HTTPStatus", "http_status"),
            ("eventID2", "event_id2"),
            ("Zürich", "zurich"),
            ("2024 revenue", "_2024_revenue"),
            ("  padded  ", "padded"),
            ("a--b__c", "a_b_c"),
            ("", "column"),
            ("   ", "column"),
            ("ÄÖÜ", "aou"),
            ("a\"; DROP TABLE x; --", "a_drop_table_x"),
            ("price.usd", "price_usd"),
            ("snake_case", "snake_case"),
            ("already_lower2", "already_lower2"),
            ("getHTTPResponseCode", "get_http_response_code"),
            ("ABC", "abc"),
            ("_leading", "leading"),
            ("123", "_123"),
            ("col1Name", "col1_name"),
        ];
        for (raw, want) in cases {
            assert_eq!(normalize_identifier(raw), *want, "raw {raw:?}");
        }
    }

    #[test]
    fn hostile_inputs_are_safe() {
        let long = "x".repeat(300);
        let long_multi = "é".repeat(300);
        let hostile = [
            "a\"; DROP TABLE x; --",
            "",
            "   ",
            "ÄÖÜ",
            "😀😀",
            "🎉",
            "日本",
            "'quoted'",
            "a.b.c",
            "tab\there",
            "new\nline",
            "\u{0}",
            "`backtick`",
            "[bracket]",
            "$dollar",
            long.as_str(),
            long_multi.as_str(),
        ];
        let mut reg = NameRegistry::new(&["_landfall_file", "_landfall_row", "_landfall_loaded_at", "dt"]);
        let mut seen = HashSet::new();
        for raw in hostile {
            let n = normalize_identifier(raw);
            assert!(is_safe(&n), "{raw:?} -> {n:?}");
            let a = reg.assign_fresh(raw);
            assert!(is_safe(&a), "{raw:?} -> {a:?}");
            assert!(seen.insert(a.clone()), "duplicate {a}");
        }
        let ja = normalize_identifier("日本");
        assert!(ja.is_ascii() && ja != "column", "{ja}");
    }

    #[test]
    fn long_names_are_hashed_and_distinct() {
        let a = format!("{}a", "x".repeat(299));
        let b = format!("{}b", "x".repeat(299));
        let na = normalize_identifier(&a);
        let nb = normalize_identifier(&b);
        assert_eq!(na.len(), 127);
        assert_eq!(nb.len(), 127);
        assert_ne!(na, nb);
        assert_eq!(&na[..118], &"x".repeat(118));
        assert_eq!(&na[118..119], "_");
        assert!(na[119..].bytes().all(|c| c.is_ascii_hexdigit()));
        // Exactly 127 is kept as is.
        let exact = "y".repeat(127);
        assert_eq!(normalize_identifier(&exact), exact);
    }

    #[test]
    fn collisions_in_order_of_appearance() {
        let mut reg = NameRegistry::new(&["dt", "_landfall_file"]);
        assert_eq!(reg.assign_fresh("a b"), "a_b");
        assert_eq!(reg.assign_fresh("a-b"), "a_b_2");
        assert_eq!(reg.assign_fresh("A_B"), "a_b_3");
        assert_eq!(reg.assign_fresh("dt"), "dt_2");
        // Same raw through assign -> same name.
        assert_eq!(reg.assign("a-b"), "a_b_2");
        assert_eq!(reg.assign("a-b"), "a_b_2");
        // A literal "a_b_4" taken first is skipped by the counter.
        let mut reg = NameRegistry::new(&[]);
        assert_eq!(reg.assign("a_b_3"), "a_b_3");
        assert_eq!(reg.assign("a_b"), "a_b");
        assert_eq!(reg.assign("a.b"), "a_b_2");
        assert_eq!(reg.assign("a/b"), "a_b_4");
    }

    #[test]
    fn collision_suffix_respects_limit() {
        let mut reg = NameRegistry::new(&[]);
        let raw = "z".repeat(127);
        let first = reg.assign_fresh(&raw);
        let second = reg.assign_fresh(&raw);
        assert_eq!(first.len(), 127);
        assert_eq!(second.len(), 127);
        assert!(second.ends_with("_2"));
    }

    #[test]
    fn paths() {
        let mut reg = NameRegistry::new(&["dt"]);
        assert_eq!(reg.assign_path(&["device", "osVersion"]), "device__os_version");
        assert_eq!(reg.assign_path(&["device", "osVersion"]), "device__os_version");
        // Flat names collapse runs of '_', so they never meet a nested path.
        assert_eq!(reg.assign_path(&["device__os_version"]), "device_os_version");
        assert_eq!(reg.assign_path(&["Device", "os version"]), "device__os_version_2");
        assert_eq!(reg.assign_path(&["dt"]), "dt_2");
        assert_eq!(reg.assign_path(&["a.b"]), "a_b");
        assert_eq!(reg.assign_path(&["a", "b"]), "a__b");
        assert_eq!(reg.assign_path(&["x", "2"]), "x___2");
        let deep: Vec<String> = (0..40).map(|i| format!("segment{i}")).collect();
        let deep_refs: Vec<&str> = deep.iter().map(String::as_str).collect();
        let n = reg.assign_path(&deep_refs);
        assert!(is_safe(&n) && n.len() == 127, "{n}");
    }
}
