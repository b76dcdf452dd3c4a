//! Suggestions for unmapped entries: ranked, explained, never applied.

use super::normalize::{bigrams, common_count, dice, exact_key, normalized_words};
use super::Target;
use std::collections::HashMap;

const MAX_SUGGESTIONS: usize = 5;
const MIN_SUGGESTION_SCORE: f64 = 0.5;
/// Not-equal names never score 1.0, so a 1.0 always means "same name after normalisation".
const MAX_SIMILAR_SCORE: f64 = 0.999;

pub(super) struct Suggestion {
    pub(super) target: usize,
    pub(super) score: f64,
    pub(super) reason: String,
}

fn blend(word_similarity: f64, spelling_similarity: f64) -> f64 {
    0.5 * word_similarity + 0.5 * spelling_similarity
}

pub(super) fn round3(score: f64) -> f64 {
    (score * 1000.0).round() / 1000.0
}

struct IndexedTarget {
    text: String,
    /// Distinct word ids, sorted.
    word_ids: Vec<usize>,
    bigram_count: usize,
}

/// A subject's name, normalised, with its words looked up in the index.
struct Query {
    text: String,
    /// Distinct words in order, with their id if any target has the word.
    words: Vec<(String, Option<usize>)>,
    known_word_ids: Vec<usize>,
    bigrams: Vec<u64>,
}

#[derive(Clone, Copy)]
enum Basis {
    SameName,
    SharedWords { shared: usize, union: usize },
}

#[derive(Clone, Copy)]
struct Scored {
    score: f64,
    basis: Basis,
    query: usize,
}

/// The best scores seen so far for one query, so that targets that cannot reach the
/// suggestions are not scored in full.
#[derive(Default)]
struct TopScores {
    /// Best first, at most `MAX_SUGGESTIONS`.
    scores: Vec<f64>,
}

impl TopScores {
    fn add(&mut self, score: f64) {
        let position = self.scores.iter().position(|&s| s < score).unwrap_or(self.scores.len());
        self.scores.insert(position, score);
        self.scores.truncate(MAX_SUGGESTIONS);
    }

    /// A score below this cannot rank; an equal one still can, on its name.
    fn lowest_that_can_still_rank(&self) -> f64 {
        if self.scores.len() < MAX_SUGGESTIONS {
            return f64::NEG_INFINITY;
        }
        self.scores.last().copied().unwrap_or(f64::NEG_INFINITY)
    }
}

/// Only targets that share a word (or the whole normalised name) with a query are scored, so
/// the work grows with the number of plausible candidates rather than with all pairs.
pub(super) struct SuggestionIndex<'t, 'a> {
    targets: &'t [Target<'a>],
    exact_keys: &'t [String],
    entries: Vec<IndexedTarget>,
    word_ids: HashMap<String, usize>,
    targets_by_word: Vec<Vec<usize>>,
    targets_by_text: HashMap<String, Vec<usize>>,
    /// Filled on first use: most targets are never a candidate.
    bigram_cache: Vec<Option<Vec<u64>>>,
    best_by_target: Vec<Option<Scored>>,
    seen_in_query: Vec<usize>,
    query_number: usize,
}

impl<'t, 'a> SuggestionIndex<'t, 'a> {
    pub(super) fn new(targets: &'t [Target<'a>], exact_keys: &'t [String]) -> Self {
        let mut index = SuggestionIndex {
            targets,
            exact_keys,
            entries: Vec::with_capacity(targets.len()),
            word_ids: HashMap::new(),
            targets_by_word: Vec::new(),
            targets_by_text: HashMap::new(),
            bigram_cache: vec![None; targets.len()],
            best_by_target: vec![None; targets.len()],
            seen_in_query: vec![0; targets.len()],
            query_number: 0,
        };
        for (target_index, target) in targets.iter().enumerate() {
            let words = normalized_words(target.name);
            let text = words.join(" ");
            let mut word_ids: Vec<usize> = words
                .into_iter()
                .map(|word| {
                    let next_id = index.word_ids.len();
                    let id = *index.word_ids.entry(word).or_insert(next_id);
                    if id == index.targets_by_word.len() {
                        index.targets_by_word.push(Vec::new());
                    }
                    id
                })
                .collect();
            word_ids.sort_unstable();
            word_ids.dedup();
            for &id in &word_ids {
                if let Some(list) = index.targets_by_word.get_mut(id) {
                    list.push(target_index);
                }
            }
            if !text.is_empty() {
                index.targets_by_text.entry(text.clone()).or_default().push(target_index);
            }
            let bigram_count = text.chars().count() + 1;
            index.entries.push(IndexedTarget { text, word_ids, bigram_count });
        }
        index
    }

    /// `taken_note` gives the note for a target already mapped onto another subject.
    pub(super) fn suggest(&mut self, names: &[&str], taken_note: impl Fn(usize) -> Option<String>) -> Vec<Suggestion> {
        let subject_exact_keys: Vec<String> = names.iter().map(|n| exact_key(n)).collect();
        let mut queries: Vec<Query> = Vec::new();
        for name in names {
            let query = self.query(name);
            if !query.text.is_empty() && !queries.iter().any(|q| q.text == query.text) {
                queries.push(query);
            }
        }

        // Best score per target over all of the subject's names, in a dense scratch array
        // rather than a map: common words can make thousands of targets candidates.
        let mut touched: Vec<usize> = Vec::new();
        for (query_number, query) in queries.iter().enumerate() {
            let mut top_scores = TopScores::default();
            for target_index in self.candidates(query) {
                let at_least = top_scores.lowest_that_can_still_rank().max(MIN_SUGGESTION_SCORE);
                let Some((score, basis)) = self.score(query, target_index, at_least) else { continue };
                top_scores.add(score);
                let Some(slot) = self.best_by_target.get_mut(target_index) else { continue };
                match slot {
                    Some(previous) if previous.score >= score => {}
                    Some(_) => *slot = Some(Scored { score, basis, query: query_number }),
                    None => {
                        *slot = Some(Scored { score, basis, query: query_number });
                        touched.push(target_index);
                    }
                }
            }
        }
        let mut ranked: Vec<(usize, Scored)> = touched
            .into_iter()
            .filter_map(|target_index| Some((target_index, self.best_by_target.get_mut(target_index)?.take()?)))
            .collect();

        let by_rank = |(a, sa): &(usize, Scored), (b, sb): &(usize, Scored)| {
            let by_name_then_id = || {
                let (Some(ta), Some(tb)) = (self.targets.get(*a), self.targets.get(*b)) else { return a.cmp(b) };
                let (ka, kb) = (self.exact_keys.get(*a), self.exact_keys.get(*b));
                ka.cmp(&kb).then_with(|| ta.name.cmp(tb.name)).then_with(|| ta.id.cmp(tb.id))
            };
            sb.score.total_cmp(&sa.score).then_with(by_name_then_id)
        };
        if ranked.len() > MAX_SUGGESTIONS {
            ranked.select_nth_unstable_by(MAX_SUGGESTIONS - 1, by_rank);
            ranked.truncate(MAX_SUGGESTIONS);
        }
        ranked.sort_by(by_rank);
        ranked
            .into_iter()
            .filter_map(|(target_index, scored)| {
                let query = queries.get(scored.query)?;
                let entry = self.entries.get(target_index)?;
                let exact_key = self.exact_keys.get(target_index)?;
                let mut reason = match scored.basis {
                    Basis::SameName if subject_exact_keys.contains(exact_key) => {
                        format!("same name apart from case and spacing: '{exact_key}'")
                    }
                    Basis::SameName => format!(
                        "same name after removing legal suffixes and punctuation: '{}' = '{}'",
                        query.text, entry.text
                    ),
                    Basis::SharedWords { shared, union } => {
                        let shared_words: Vec<&str> = query
                            .words
                            .iter()
                            .filter(|(_, id)| id.is_some_and(|id| entry.word_ids.binary_search(&id).is_ok()))
                            .map(|(word, _)| word.as_str())
                            .collect();
                        format!(
                            "{shared} of {union} words shared: {} ('{}' vs '{}')",
                            shared_words.join(", "),
                            query.text,
                            entry.text
                        )
                    }
                };
                if let Some(note) = taken_note(target_index) {
                    reason.push_str(&note);
                } else if subject_exact_keys.contains(exact_key) {
                    reason.push_str("; not mapped automatically because the match is not unique");
                }
                Some(Suggestion { target: target_index, score: scored.score, reason })
            })
            .collect()
    }

    fn query(&self, name: &str) -> Query {
        let mut words: Vec<(String, Option<usize>)> = Vec::new();
        let normalized = normalized_words(name);
        let text = normalized.join(" ");
        for word in normalized {
            if !words.iter().any(|(w, _)| *w == word) {
                let id = self.word_ids.get(&word).copied();
                words.push((word, id));
            }
        }
        let mut known_word_ids: Vec<usize> = words.iter().filter_map(|(_, id)| *id).collect();
        known_word_ids.sort_unstable();
        let bigrams = bigrams(&text);
        Query { text, words, known_word_ids, bigrams }
    }

    /// Targets sharing a word with the query, or its whole normalised name. Words that most
    /// targets have ("dental", "services") are skipped when the query has rarer ones, since
    /// they would make nearly every target a candidate.
    fn candidates(&mut self, query: &Query) -> Vec<usize> {
        self.query_number += 1;
        let target_count = self.entries.len();
        let is_common = |word_id: &usize| {
            let count = self.targets_by_word.get(*word_id).map_or(0, Vec::len);
            count * 5 > target_count && count > 50
        };
        let rare: Vec<usize> = query.known_word_ids.iter().copied().filter(|id| !is_common(id)).collect();
        let chosen = if rare.is_empty() { query.known_word_ids.clone() } else { rare };

        let mut candidates = Vec::new();
        let by_text = self.targets_by_text.get(&query.text).into_iter().flatten();
        let by_words = chosen.iter().filter_map(|id| self.targets_by_word.get(*id)).flatten();
        for &target_index in by_text.chain(by_words) {
            if let Some(seen) = self.seen_in_query.get_mut(target_index) {
                if *seen != self.query_number {
                    *seen = self.query_number;
                    candidates.push(target_index);
                }
            }
        }
        candidates
    }

    /// None if the target scores below `at_least` (a rounded score).
    fn score(&mut self, query: &Query, target_index: usize, at_least: f64) -> Option<(f64, Basis)> {
        let entry = self.entries.get(target_index)?;
        if entry.text.is_empty() {
            return None;
        }
        if entry.text == query.text {
            return Some((1.0, Basis::SameName));
        }
        let shared = common_count(&query.known_word_ids, &entry.word_ids);
        let (query_words, target_words) = (query.words.len(), entry.word_ids.len());
        let word_similarity = dice(shared, query_words, target_words);
        let (query_bigrams, target_bigrams) = (query.bigrams.len(), entry.bigram_count);
        // Cheap upper bound first: spelling similarity cannot exceed what the lengths allow.
        let best_spelling = dice(query_bigrams.min(target_bigrams), query_bigrams, target_bigrams);
        if round3(blend(word_similarity, best_spelling)) < at_least {
            return None;
        }
        let basis = Basis::SharedWords { shared, union: (query_words + target_words).saturating_sub(shared) };
        let cached = self.bigram_cache.get_mut(target_index)?;
        let target_bigram_list = cached.get_or_insert_with(|| bigrams(&entry.text));
        let spelling_similarity = dice(common_count(&query.bigrams, target_bigram_list), query_bigrams, target_bigrams);
        let score = blend(word_similarity, spelling_similarity);
        if score < MIN_SUGGESTION_SCORE || round3(score) < at_least {
            return None;
        }
        Some((round3(score).min(MAX_SIMILAR_SCORE), basis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_of<'t, 'a>(targets: &'t [Target<'a>], exact_keys: &'t [String]) -> SuggestionIndex<'t, 'a> {
        SuggestionIndex::new(targets, exact_keys)
    }

    #[test]
    fn common_words_bring_no_candidates_when_the_query_has_a_rarer_word() {
        let names: Vec<String> =
            (0..200).map(|i| format!("Clinic{i} Dental")).chain(["Bright Smile Dental".into()]).collect();
        let ids: Vec<String> = (0..names.len()).map(|i| format!("c{i}")).collect();
        let targets: Vec<Target> = names.iter().zip(&ids).map(|(name, id)| Target { id, name }).collect();
        let exact_keys: Vec<String> = names.iter().map(|n| exact_key(n)).collect();
        let mut index = index_of(&targets, &exact_keys);

        let with_rare_word = index.query("Bright Dental");
        assert_eq!(index.candidates(&with_rare_word), [200]);
        let only_common_word = index.query("Dental");
        assert_eq!(index.candidates(&only_common_word).len(), 201);
    }

    #[test]
    fn pruning_keeps_ties_that_win_on_their_name() {
        // Equal scores throughout; the alphabetically first names come last.
        let names: Vec<String> = ('a'..='j').rev().map(|c| format!("Acme Dental {c}")).collect();
        let ids: Vec<String> = (0..names.len()).map(|i| format!("c{i}")).collect();
        let targets: Vec<Target> = names.iter().zip(&ids).map(|(name, id)| Target { id, name }).collect();
        let exact_keys: Vec<String> = names.iter().map(|n| exact_key(n)).collect();
        let mut index = index_of(&targets, &exact_keys);

        let suggestions = index.suggest(&["Acme Dental"], |_| None);
        let suggested: Vec<&str> = suggestions.iter().filter_map(|s| targets.get(s.target)).map(|t| t.name).collect();
        assert_eq!(suggested, ["Acme Dental a", "Acme Dental b", "Acme Dental c", "Acme Dental d", "Acme Dental e"]);
    }

    #[test]
    fn a_lower_spelling_bound_never_drops_a_candidate_that_would_rank() {
        let names =
            ["Acme Dental Group Holdings", "Acme Dental", "Acme Dentl", "Acme Dental Grp", "Acme Dent", "Acme D"];
        let ids = ["c0", "c1", "c2", "c3", "c4", "c5"];
        let targets: Vec<Target> = names.iter().zip(ids).map(|(name, id)| Target { id, name }).collect();
        let exact_keys: Vec<String> = names.iter().map(|n| exact_key(n)).collect();
        let mut pruned = index_of(&targets, &exact_keys);
        let query = pruned.query("Acme Dentals");
        let mut unpruned: Vec<(usize, f64)> =
            (0..names.len()).filter_map(|t| Some((t, pruned.score(&query, t, MIN_SUGGESTION_SCORE)?.0))).collect();
        unpruned.sort_by(|(a, sa), (b, sb)| sb.total_cmp(sa).then(names[*a].cmp(names[*b])));
        unpruned.truncate(MAX_SUGGESTIONS);
        let suggestions = pruned.suggest(&["Acme Dentals"], |_| None);
        let got: Vec<(usize, f64)> = suggestions.iter().map(|s| (s.target, s.score)).collect();
        assert_eq!(got, unpruned);
    }
}
