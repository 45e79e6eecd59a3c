//! The metric names a PromQL expression reads, for the tests that check a
//! dashboard's and the alerts' queries against what the binaries export.
//! A tokenizer, not a parser: it drops strings, label matchers (`{...}`),
//! range and subquery durations (`[...]`), numbers, keywords, aggregation
//! operators, function calls (an identifier followed by `(`) and the label
//! lists of `by`, `without`, `on`, `ignoring`, `group_left` and
//! `group_right`; every identifier left is a metric name.

use std::collections::BTreeSet;

/// Aggregation operators: they may be followed by `by (...)` rather than
/// by `(`, so they are not recognised as calls.
const AGGREGATIONS: [&str; 14] = [
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];

/// Keywords whose following parenthesised list holds label names.
const LABEL_LISTS: [&str; 6] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// Binary operators and modifiers spelt as words.
const KEYWORDS: [&str; 10] = [
    "and", "or", "unless", "bool", "offset", "atan2", "Inf", "NaN", "inf", "nan",
];

/// The metric names `expr` reads, in order of name.
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => i = skip_string(&chars, i),
            '{' => i = skip_to(&chars, i, '}'),
            '[' => i = skip_to(&chars, i, ']'),
            c if c.is_ascii_digit() || c == '.' => {
                // A number or a duration (`5m`, `1e3`, `0x1f`): one token.
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let next = chars[i..].iter().position(|c| !c.is_whitespace());
                let followed_by_paren = next.is_some_and(|n| chars[i + n] == '(');
                if LABEL_LISTS.contains(&word.as_str()) {
                    if let Some(n) = next.filter(|_| followed_by_paren) {
                        i = skip_to(&chars, i + n, ')');
                    }
                } else if word == "offset" {
                    // `offset 5m`: the duration follows as a number.
                } else if !(followed_by_paren
                    || AGGREGATIONS.contains(&word.as_str())
                    || KEYWORDS.contains(&word.as_str()))
                {
                    names.insert(word);
                }
            }
            _ => i += 1,
        }
    }
    names
}

/// The index after the string literal opening at `start`.
fn skip_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() && chars[i] != quote {
        // Backquoted strings have no escapes.
        if chars[i] == '\\' && quote != '`' {
            i += 1;
        }
        i += 1;
    }
    i + 1
}

/// The index after the `close` that ends what opens at `start`, skipping
/// strings (a `}` may sit inside a label value).
fn skip_to(chars: &[char], start: usize, close: char) -> usize {
    let mut i = start + 1;
    while i < chars.len() && chars[i] != close {
        if matches!(chars[i], '"' | '\'' | '`') {
            i = skip_string(chars, i);
        } else {
            i += 1;
        }
    }
    i + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(expr: &str) -> Vec<String> {
        metric_names(expr).into_iter().collect()
    }

    #[test]
    fn metrics_are_kept_and_the_rest_dropped() {
        assert_eq!(
            names(
                r#"100 * sum by (pool, family) (a_in_use{pool!~"x}y", family="ipv4"}) / on(pool) group_left(family) sum without(pod)(b_usable)"#
            ),
            ["a_in_use", "b_usable"]
        );
        assert_eq!(
            names("sum(increase(c_total{change=\"taken\"}[5m] offset 1h)) or vector(0)"),
            ["c_total"]
        );
        assert_eq!(
            names("count(up == 0) and bool d > 1e3 unless e:recorded:rate5m[1h:5m]"),
            ["d", "e:recorded:rate5m", "up"]
        );
        assert_eq!(
            names("topk(3, rate(f[5m])) > ignoring (peer) g"),
            ["f", "g"]
        );
        assert!(names("vector(1) + 2.5 - Inf").is_empty());
    }
}
