//! Sorted vectors where the stub needs a map or a set: `SortedMap` for the string-keyed maps of
//! its documents (a product's components, a component's `requires`) and `repeated` for "listed
//! twice" checks. A sorted `Vec` is found by binary search like a `BTreeMap` and walked in key
//! order like one, but its code per value type is a fraction of a `BTreeMap`'s or a `HashMap`'s,
//! and every package head carries that code (issue 7, BENCHMARKS.md "Stub size per target").
//! Containers only; no I/O.

/// A map from `String` keys, kept sorted by key. Finding a key is logarithmic in the map's size,
/// inserting one linear (an insert into the middle moves the entries after it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortedMap<V>(Vec<(String, V)>);

impl<V> Default for SortedMap<V> {
    fn default() -> Self {
        SortedMap(Vec::new())
    }
}

impl<V> SortedMap<V> {
    pub fn new() -> Self {
        SortedMap::default()
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.find(key).ok().map(|i| &mut self.0[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Sets `key` to `value`; the value it had, if any.
    pub fn insert(&mut self, key: String, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<V> {
        self.find(key).ok().map(|i| self.0.remove(i).1)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&String, &V)> + ExactSizeIterator {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = (&String, &mut V)> {
        self.0.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &String> + ExactSizeIterator {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.0.iter().map(|(_, v)| v)
    }
}

/// Later entries replace earlier ones with the same key, as `BTreeMap`'s `collect` does. Built by
/// insertion: entries in key order (as iupack writes its documents) append at the end; the maps
/// the stub reads hold a few entries (a product's components, a component's `requires`).
impl<V> FromIterator<(String, V)> for SortedMap<V> {
    fn from_iter<I: IntoIterator<Item = (String, V)>>(iter: I) -> Self {
        let mut map = SortedMap::new();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

impl<K: Into<String>, V, const N: usize> From<[(K, V); N]> for SortedMap<V> {
    fn from(entries: [(K, V); N]) -> Self {
        entries.into_iter().map(|(k, v)| (k.into(), v)).collect()
    }
}

impl<V> IntoIterator for SortedMap<V> {
    type Item = (String, V);
    type IntoIter = std::vec::IntoIter<(String, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a, V> IntoIterator for &'a SortedMap<V> {
    type Item = (&'a String, &'a V);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, V)>,
        fn(&'a (String, V)) -> (&'a String, &'a V),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

/// An item that `items` holds more than once, if any (the first such in sorted order).
pub fn repeated<T: Ord>(mut items: Vec<T>) -> Option<T> {
    items.sort_unstable();
    let i = items.windows(2).position(|w| w[0] == w[1])?;
    Some(items.swap_remove(i))
}

/// Finds `key` in `items`, sorted by `key_of`.
pub fn find<'a, T, K: Ord + ?Sized + 'a>(
    items: &'a [T],
    key: &K,
    key_of: impl Fn(&'a T) -> &'a K,
) -> Option<&'a T> {
    items
        .binary_search_by(|x| key_of(x).cmp(key))
        .ok()
        .map(|i| &items[i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Every operation agrees with a BTreeMap's over a run of inserts and removes.
    #[test]
    fn behaves_as_a_btreemap() {
        let mut ours = SortedMap::new();
        let mut theirs = BTreeMap::new();
        let mut x = 7u32;
        for step in 0..2000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let key = format!("k{}", (x >> 8) % 97);
            if step % 3 == 0 {
                assert_eq!(ours.remove(&key), theirs.remove(&key));
            } else {
                assert_eq!(ours.insert(key.clone(), step), theirs.insert(key, step));
            }
            let k = format!("k{}", (x >> 16) % 97);
            assert_eq!(ours.get(&k), theirs.get(&k));
            assert_eq!(ours.contains_key(&k), theirs.contains_key(&k));
            assert_eq!(ours.len(), theirs.len());
        }
        assert!(ours.iter().eq(theirs.iter()));
        assert!(ours.keys().eq(theirs.keys()));
        assert!(ours.values().eq(theirs.values()));
        if let Some(v) = ours.get_mut("k3") {
            *v = 99_999;
        }
        if let Some(v) = theirs.get_mut("k3") {
            *v = 99_999;
        }
        for (_, v) in ours.iter_mut() {
            *v += 1;
        }
        for v in theirs.values_mut() {
            *v += 1;
        }
        assert!(ours.clone().into_iter().eq(theirs.clone()));
        assert!((&ours).into_iter().eq(&theirs));
    }

    #[test]
    fn collecting_keeps_the_last_of_equal_keys_like_a_btreemap() {
        let pairs = [("b", 1), ("a", 2), ("b", 3), ("c", 4), ("a", 5), ("b", 6)];
        let ours: SortedMap<i32> = pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let theirs: BTreeMap<String, i32> =
            pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        assert!(ours.iter().eq(theirs.iter()));
        assert_eq!(SortedMap::from(pairs), ours);
        assert!(SortedMap::<u8>::new().is_empty());
    }

    #[test]
    fn repeated_finds_a_twice_listed_item_or_none() {
        assert_eq!(repeated(vec!["c", "a", "b"]), None);
        assert_eq!(repeated(Vec::<&str>::new()), None);
        assert_eq!(repeated(vec!["c", "a", "b", "a"]), Some("a"));
        assert_eq!(
            repeated(vec!["x".to_string(), "x".to_string()]).as_deref(),
            Some("x")
        );
    }

    #[test]
    fn find_uses_the_sort_key() {
        let items = [(1, "a"), (4, "b"), (9, "c")];
        assert_eq!(find(&items, &4, |x| &x.0), Some(&(4, "b")));
        assert_eq!(find(&items, &5, |x| &x.0), None);
    }
}
