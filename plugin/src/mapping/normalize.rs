//! Names as the matching compares them: an exact key for automatic mapping, and normalised words
//! and character pairs for suggestions.

const LEGAL_SUFFIXES: [&str; 17] = [
    "inc",
    "incorporated",
    "llc",
    "ltd",
    "limited",
    "corp",
    "corporation",
    "co",
    "company",
    "gmbh",
    "plc",
    "pty",
    "sa",
    "ag",
    "bv",
    "llp",
    "lp",
];

/// The key for automatic matching: case and runs of whitespace ignored, nothing else.
pub(super) fn exact_key(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Words for suggestions: lowercase, `&` read as "and", anything not alphanumeric a separator,
/// and legal suffixes dropped unless nothing else would be left.
pub(super) fn normalized_words(name: &str) -> Vec<String> {
    let mut spaced = String::with_capacity(name.len());
    for c in name.to_lowercase().chars() {
        match c {
            '&' => spaced.push_str(" and "),
            c if c.is_alphanumeric() => spaced.push(c),
            _ => spaced.push(' '),
        }
    }
    let words: Vec<&str> = spaced.split_whitespace().collect();
    let without_suffixes: Vec<&str> = words.iter().copied().filter(|w| !LEGAL_SUFFIXES.contains(w)).collect();
    let kept = if without_suffixes.is_empty() { words } else { without_suffixes };
    kept.into_iter().map(str::to_string).collect()
}

/// Character pairs of the text padded with a space at each end (so one-letter names still have
/// some), as a sorted multiset; `text` of n characters gives n + 1 pairs.
pub(super) fn bigrams(text: &str) -> Vec<u64> {
    let padded: Vec<char> = std::iter::once(' ').chain(text.chars()).chain(std::iter::once(' ')).collect();
    let mut pairs: Vec<u64> = padded
        .iter()
        .zip(padded.iter().skip(1))
        .map(|(&a, &b)| (u64::from(u32::from(a)) << 32) | u64::from(u32::from(b)))
        .collect();
    pairs.sort_unstable();
    pairs
}

/// Size of the multiset intersection of two sorted lists.
pub(super) fn common_count<T: Ord>(a: &[T], b: &[T]) -> usize {
    let (mut i, mut j, mut common) = (0, 0, 0);
    while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
        match x.cmp(y) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    common
}

pub(super) fn dice(common: usize, len_a: usize, len_b: usize) -> f64 {
    if len_a + len_b == 0 {
        return 0.0;
    }
    2.0 * common as f64 / (len_a + len_b) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_drops_punctuation_and_legal_suffixes_and_unifies_and() {
        assert_eq!(normalized_words("ACME Dental, Inc."), ["acme", "dental"]);
        assert_eq!(normalized_words("Smith & Jones Pty. Ltd."), ["smith", "and", "jones"]);
        assert_eq!(normalized_words("Smith and Jones"), ["smith", "and", "jones"]);
        assert_eq!(normalized_words("Company"), ["company"]);
        assert_eq!(normalized_words("Co. Ltd"), ["co", "ltd"]);
        assert_eq!(normalized_words("Müller GmbH"), ["müller"]);
        assert_eq!(normalized_words("!!! ..."), Vec::<String>::new());
        assert_eq!(exact_key("  A\u{3000}B\n c  "), "a b c");
    }
}
