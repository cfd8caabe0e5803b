//! Column names that are safe to use unquoted-or-quoted in Redshift,
//! PostgreSQL, Glue and Hive: `[a-z_][a-z0-9_]*`, at most 127 bytes.

use std::collections::{BTreeMap, HashMap, HashSet};

use sha2::{Digest, Sha256};

/// Redshift's identifier limit, the longest name the writer gives; a
/// PostgreSQL warehouse fits names to 63 (`NameRegistry::for_table`), Glue
/// and Spectrum accept 255.
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

/// `name` (a normalised identifier) fitted to `limit` bytes: kept whole when
/// it fits, else cut with an 8-hex hash of the whole name, so the same long
/// name always gives the same column and two that share a prefix do not.
pub fn fit_identifier(name: &str, limit: usize) -> String {
    let limit = limit.max(MIN_IDENTIFIER_LIMIT);
    if name.len() <= limit { name.to_owned() } else { shorten(name, limit - 9) }
}

/// The smallest limit names are fitted to: room for a few bytes and the hash.
const MIN_IDENTIFIER_LIMIT: usize = 16;

/// The key a source name is recorded under: a CSV header or a top-level
/// JSON key as it is, a nested JSON path with its segments joined by NUL
/// (which no normalised key contains), so `["a.b"]` and `["a", "b"]` differ.
fn path_key(path: &[&str]) -> String {
    path.join("\u{0}")
}

/// Why a file's header cannot be given columns without guessing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NamingError {
    /// Two headers of one file are both recorded (or would both be taken)
    /// for one column of the table.
    #[error(
        "headers {first:?} and {second:?} both map to column {column} of this table (recorded from earlier files); rename one of them or declare the columns in the feed"
    )]
    Ambiguous { first: String, second: String, column: String },
}

/// Hands out unique normalised names in order of first appearance, fitted
/// to the warehouse's identifier limit. Seeded with a table's recorded
/// [`super::ColumnMap`], a source name seen before gets its recorded column
/// whatever the order of the header, and a new one never takes a column
/// recorded for another source name (except a header whose spelling alone
/// differs, when nothing else in the file claims that column: see
/// [`NameRegistry::assign_header`]).
#[derive(Debug, Clone)]
pub struct NameRegistry {
    limit: usize,
    taken: HashSet<String>,
    by_raw: HashMap<String, String>,
    /// Source name -> column, from the table's earlier files.
    recorded: HashMap<String, String>,
    recorded_columns: HashSet<String>,
    /// Source names this file adds to the table's map.
    added: BTreeMap<String, String>,
}

impl Default for NameRegistry {
    fn default() -> Self {
        Self::new(&[])
    }
}

impl NameRegistry {
    pub fn new(reserved: &[&str]) -> Self {
        Self::for_table(reserved, MAX_IDENTIFIER_BYTES, &BTreeMap::new())
    }

    /// A registry for one file of a table whose earlier files recorded
    /// `recorded` (source name -> column), fitting names to `limit` bytes.
    pub fn for_table(reserved: &[&str], limit: usize, recorded: &BTreeMap<String, String>) -> Self {
        Self {
            limit: limit.clamp(MIN_IDENTIFIER_LIMIT, MAX_IDENTIFIER_BYTES),
            taken: reserved.iter().map(|s| (*s).to_string()).collect(),
            by_raw: HashMap::new(),
            recorded: recorded.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            recorded_columns: recorded.values().cloned().collect(),
            added: BTreeMap::new(),
        }
    }

    /// The source names this file brought that the table had not recorded,
    /// with the columns they were given.
    pub fn added(&self) -> &BTreeMap<String, String> {
        &self.added
    }

    /// The name for `raw`; asking again with the same `raw` returns the same name.
    pub fn assign(&mut self, raw: &str) -> String {
        if let Some(name) = self.by_raw.get(raw) {
            return name.clone();
        }
        let name = self.assign_fresh(raw);
        self.by_raw.insert(raw.to_string(), name.clone());
        name
    }

    /// A new name even if `raw` was seen before: a CSV header may repeat a
    /// column name, and each occurrence is its own column.
    pub fn assign_fresh(&mut self, raw: &str) -> String {
        let name = match self.recorded_for(raw) {
            Some(column) => column,
            None => {
                let name = self.claim(fit_identifier(&normalize_identifier(raw), self.limit));
                self.note_added(raw, &name);
                name
            }
        };
        self.by_raw.entry(raw.to_string()).or_insert_with(|| name.clone());
        name
    }

    /// Columns for a whole CSV header at once. A recorded header keeps its
    /// column; a new one whose fitted name is a recorded column that no
    /// header of this file holds is the same column spelt differently
    /// (`Phone`, then `PHONE`) and joins it; two headers that would both
    /// take one column refuse the file rather than guess which is which.
    pub fn assign_header(&mut self, names: &[&str]) -> Result<Vec<String>, NamingError> {
        let mut out: Vec<Option<String>> = vec![None; names.len()];
        let mut holder: HashMap<String, usize> = HashMap::new();
        for (i, raw) in names.iter().enumerate() {
            if holder.values().any(|&j| names[j] == *raw) {
                continue; // a repeated header: its own column, below
            }
            let Some(column) = self.recorded.get(*raw).cloned() else { continue };
            if let Some(&j) = holder.get(&column) {
                return Err(ambiguous(names[j], raw, column));
            }
            holder.insert(column.clone(), i);
            out[i] = Some(column);
        }
        let mut aliases: HashMap<String, usize> = HashMap::new();
        for (i, raw) in names.iter().enumerate() {
            if out[i].is_some() || self.recorded.contains_key(*raw) {
                continue;
            }
            let base = fit_identifier(&normalize_identifier(raw), self.limit);
            if self.recorded_columns.contains(&base) && !holder.contains_key(&base) {
                if let Some(&j) = aliases.get(&base) {
                    return Err(ambiguous(names[j], raw, base));
                }
                aliases.insert(base.clone(), i);
            }
        }
        for (base, &i) in &aliases {
            holder.insert(base.clone(), i);
            out[i] = Some(base.clone());
            self.note_added(names[i], base);
        }
        for name in out.iter().flatten() {
            self.taken.insert(name.clone());
        }
        let mut columns = Vec::with_capacity(names.len());
        for (i, raw) in names.iter().enumerate() {
            let name = match out[i].take() {
                Some(name) => name,
                None => {
                    let name = self.claim(fit_identifier(&normalize_identifier(raw), self.limit));
                    self.note_added(raw, &name);
                    name
                }
            };
            self.by_raw.entry((*raw).to_string()).or_insert_with(|| name.clone());
            columns.push(name);
        }
        Ok(columns)
    }

    /// The name for a nested JSON path: segments normalised one by one and
    /// joined with "__", so `{"a": {"b": 1}}` and `{"a_b": 1}` stay apart.
    pub fn assign_path(&mut self, path: &[&str]) -> String {
        let key = path_key(path);
        if let Some(name) = self.by_raw.get(&key) {
            return name.clone();
        }
        if let Some(column) = self.recorded_for(&key) {
            self.by_raw.insert(key, column.clone());
            return column;
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
        let name = self.claim(fit_identifier(&joined, self.limit));
        self.note_added(&key, &name);
        self.by_raw.insert(key, name.clone());
        name
    }

    pub fn is_taken(&self, name: &str) -> bool {
        self.taken.contains(name)
    }

    /// The recorded column of `key`, claimed for this file, unless another
    /// source name of this file holds it already (then `key` gets a new
    /// column, recorded nowhere: the map keeps its first answer).
    fn recorded_for(&mut self, key: &str) -> Option<String> {
        let column = self.recorded.get(key)?;
        self.taken.insert(column.clone()).then(|| column.clone())
    }

    fn note_added(&mut self, key: &str, column: &str) {
        if !self.recorded.contains_key(key) {
            self.added.entry(key.to_owned()).or_insert_with(|| column.to_owned());
        }
    }

    /// `base`, or `base_2`, `base_3`, ... : the first that neither this file
    /// nor the table's recorded map holds, within the limit.
    fn claim(&mut self, base: String) -> String {
        let free = |s: &Self, n: &str| !s.taken.contains(n) && !s.recorded_columns.contains(n);
        if free(self, &base) {
            self.taken.insert(base.clone());
            return base;
        }
        let mut n: u64 = 2;
        loop {
            let suffix = format!("_{n}");
            let room = self.limit - suffix.len();
            let stem = base.get(..room.min(base.len())).unwrap_or(&base);
            let candidate = format!("{stem}{suffix}");
            if free(self, &candidate) {
                self.taken.insert(candidate.clone());
                return candidate;
            }
            n += 1;
        }
    }
}

fn ambiguous(first: &str, second: &str, column: String) -> NamingError {
    NamingError::Ambiguous { first: first.to_owned(), second: second.to_owned(), column }
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

    fn recorded(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(s, c)| ((*s).to_owned(), (*c).to_owned())).collect()
    }

    #[test]
    fn a_long_header_is_fitted_to_postgres_63_bytes_the_same_way_every_time() {
        let header = "How satisfied were you with the delivery of your order overall, 1 to 5?";
        assert_eq!(normalize_identifier(header).len(), 69);
        let mut first = NameRegistry::for_table(&[], 63, &BTreeMap::new());
        let name = first.assign_header(&[header]).unwrap().remove(0);
        assert_eq!(name.len(), 63, "{name}");
        let mut again = NameRegistry::for_table(&[], 63, &BTreeMap::new());
        assert_eq!(again.assign_header(&[header]).unwrap(), vec![name]);
    }

    #[test]
    fn two_long_headers_sharing_63_bytes_get_two_columns() {
        let stem = "q".repeat(70);
        let (a, b) = (format!("{stem} a"), format!("{stem} b"));
        let mut reg = NameRegistry::for_table(&[], 63, &BTreeMap::new());
        let names = reg.assign_header(&[&a, &b]).unwrap();
        assert_ne!(names[0], names[1]);
        assert!(names.iter().all(|n| n.len() <= 63));
    }

    #[test]
    fn swapped_colliding_headers_keep_their_recorded_columns() {
        let mut first = NameRegistry::for_table(&[], 63, &BTreeMap::new());
        assert_eq!(first.assign_header(&["Phone", "phone #"]).unwrap(), vec!["phone", "phone_2"]);
        let map = first.added().clone();
        let mut second = NameRegistry::for_table(&[], 63, &map);
        assert_eq!(second.assign_header(&["phone #", "Phone"]).unwrap(), vec!["phone_2", "phone"]);
        assert!(second.added().is_empty());
    }

    #[test]
    fn a_header_spelt_differently_joins_its_recorded_column() {
        let mut reg = NameRegistry::for_table(&[], 63, &recorded(&[("Phone", "phone")]));
        assert_eq!(reg.assign_header(&["PHONE", "email"]).unwrap(), vec!["phone", "email"]);
        assert_eq!(reg.added(), &recorded(&[("PHONE", "phone"), ("email", "email")]));
    }

    #[test]
    fn a_new_header_never_takes_a_column_recorded_for_another_header_of_the_file() {
        let mut reg = NameRegistry::for_table(&[], 63, &recorded(&[("Phone", "phone")]));
        assert_eq!(reg.assign_header(&["phone #", "Phone"]).unwrap(), vec!["phone_2", "phone"]);
    }

    #[test]
    fn two_new_spellings_of_one_recorded_column_refuse_the_file() {
        let mut reg = NameRegistry::for_table(&[], 63, &recorded(&[("Phone", "phone")]));
        let err = reg.assign_header(&["PHONE", "phone #"]).unwrap_err();
        assert_eq!(err, ambiguous("PHONE", "phone #", "phone".into()));
    }

    #[test]
    fn two_recorded_spellings_of_one_column_in_one_file_refuse_it() {
        let mut reg = NameRegistry::for_table(&[], 63, &recorded(&[("Phone", "phone"), ("PHONE", "phone")]));
        assert!(reg.assign_header(&["Phone", "PHONE"]).is_err());
    }

    #[test]
    fn a_recorded_json_path_keeps_its_column_and_a_new_one_avoids_recorded_columns() {
        let mut reg = NameRegistry::for_table(&[], 63, &recorded(&[("a\u{0}b", "a__b"), ("x", "y")]));
        assert_eq!(reg.assign_path(&["a", "b"]), "a__b");
        assert_eq!(reg.assign_path(&["y"]), "y_2");
    }
}
