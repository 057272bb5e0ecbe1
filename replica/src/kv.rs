//! The replicated state machine: a string map changed only by applied
//! log entries.

use std::collections::HashMap;

#[derive(Debug, Default, Clone)]
pub struct KvStore {
    map: HashMap<String, String>,
}

impl KvStore {
    pub fn apply_put(&mut self, key: &str, value: &str) {
        match self.map.get_mut(key) {
            Some(v) => {
                v.clear();
                v.push_str(value);
            }
            None => {
                self.map.insert(key.to_string(), value.to_string());
            }
        }
    }

    /// The value of `key`, or the empty string for a key never put.
    pub fn get(&self, key: &str) -> &str {
        self.map.get(key).map(String::as_str).unwrap_or("")
    }

    /// Every key and value, sorted by key (a snapshot's image).
    pub fn sorted_pairs(&self) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = self
            .map
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        pairs.sort_unstable();
        pairs
    }

    /// The store a snapshot's pairs describe.
    pub fn from_pairs(pairs: &[(String, String)]) -> KvStore {
        KvStore {
            map: pairs.iter().cloned().collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_put_overwrites_and_missing_keys_read_empty() {
        let mut kv = KvStore::default();
        assert_eq!(kv.get("k"), "");
        kv.apply_put("k", "v1");
        kv.apply_put("k", "v2");
        assert_eq!(kv.get("k"), "v2");
        assert_eq!(kv.len(), 1);
        kv.apply_put("a", "");
        let pairs = kv.sorted_pairs();
        assert_eq!(
            pairs,
            vec![("a".into(), "".into()), ("k".into(), "v2".into())]
        );
        assert_eq!(KvStore::from_pairs(&pairs).get("k"), "v2");
    }
}
