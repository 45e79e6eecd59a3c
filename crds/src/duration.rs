//! Go duration strings (`90s`, `1m30s`, `1.5h`, `300ms`), as `metav1.Duration`
//! carries them in MetalLB manifests, parsed exactly as Go's
//! `time.ParseDuration` does (minus negative values, which no FerroLB timer
//! can take).

use std::time::Duration;

/// Why a string is not a Go duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
// Each variant's `#[error]` text is its documentation.
#[allow(missing_docs)]
pub enum DurationError {
    #[error("empty duration")]
    Empty,
    #[error("negative durations are not allowed")]
    Negative,
    #[error("missing unit (one of ns, us, µs, ms, s, m, h)")]
    MissingUnit,
    #[error("unknown unit {0:?} (one of ns, us, µs, ms, s, m, h)")]
    UnknownUnit(String),
    #[error("expected a number at {0:?}")]
    ExpectedNumber(String),
    #[error("duration out of range")]
    Overflow,
}

/// Parses a Go duration string.
pub fn parse_go_duration(s: &str) -> Result<Duration, DurationError> {
    let mut rest = s;
    if let Some(r) = rest.strip_prefix('+') {
        rest = r;
    } else if let Some(r) = rest.strip_prefix('-') {
        // Go accepts "-0"; everything else negative is useless here.
        return match parse_go_duration(r) {
            Ok(d) if d.is_zero() => Ok(d),
            Ok(_) => Err(DurationError::Negative),
            Err(e) => Err(e),
        };
    }
    if rest.is_empty() {
        return Err(DurationError::Empty);
    }
    // Go's special case: a bare "0" needs no unit.
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total_nanos: u128 = 0;
    while !rest.is_empty() {
        let (int_part, frac_part, after) = split_number(rest)?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, tail) = after.split_at(unit_len);
        let scale = unit_nanos(unit)?;
        total_nanos = total_nanos
            .checked_add(component_nanos(int_part, frac_part, scale)?)
            .ok_or(DurationError::Overflow)?;
        rest = tail;
    }
    // Go durations are int64 nanoseconds.
    if total_nanos > i64::MAX as u128 {
        return Err(DurationError::Overflow);
    }
    let secs = u64::try_from(total_nanos / 1_000_000_000).map_err(|_| DurationError::Overflow)?;
    let nanos = u32::try_from(total_nanos % 1_000_000_000).map_err(|_| DurationError::Overflow)?;
    Ok(Duration::new(secs, nanos))
}

/// Splits `12.5ms...` into ("12", "5", "ms...").
fn split_number(s: &str) -> Result<(&str, &str, &str), DurationError> {
    let int_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (int_part, after_int) = s.split_at(int_end);
    let (frac_part, after) = match after_int.strip_prefix('.') {
        Some(f) => {
            let frac_end = f.find(|c: char| !c.is_ascii_digit()).unwrap_or(f.len());
            f.split_at(frac_end)
        }
        None => ("", after_int),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(DurationError::ExpectedNumber(s.to_string()));
    }
    Ok((int_part, frac_part, after))
}

fn unit_nanos(unit: &str) -> Result<u128, DurationError> {
    Ok(match unit {
        "" => return Err(DurationError::MissingUnit),
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60 * 1_000_000_000,
        "h" => 3_600 * 1_000_000_000,
        other => return Err(DurationError::UnknownUnit(other.to_string())),
    })
}

fn component_nanos(int_part: &str, frac_part: &str, scale: u128) -> Result<u128, DurationError> {
    let int: u128 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().map_err(|_| DurationError::Overflow)?
    };
    let mut nanos = int.checked_mul(scale).ok_or(DurationError::Overflow)?;
    // Fractions finer than a nanosecond are dropped, as in Go.
    let mut place = scale;
    for digit in frac_part.bytes() {
        place /= 10;
        if place == 0 {
            break;
        }
        nanos += u128::from(digit - b'0') * place;
    }
    Ok(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_go_parses() {
        let cases = [
            ("0", Duration::ZERO),
            ("90s", Duration::from_secs(90)),
            ("1m30s", Duration::from_secs(90)),
            ("1h", Duration::from_secs(3600)),
            ("1.5h", Duration::from_secs(5400)),
            ("300ms", Duration::from_millis(300)),
            ("10us", Duration::from_micros(10)),
            ("10µs", Duration::from_micros(10)),
            ("7ns", Duration::from_nanos(7)),
            (".5s", Duration::from_millis(500)),
            ("+3s", Duration::from_secs(3)),
            ("-0", Duration::ZERO),
            (
                "2h45m10.25s",
                Duration::from_millis((2 * 3600 + 45 * 60 + 10) * 1000 + 250),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse_go_duration(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn rejects_what_go_rejects() {
        assert_eq!(parse_go_duration(""), Err(DurationError::Empty));
        assert_eq!(parse_go_duration("90"), Err(DurationError::MissingUnit));
        assert_eq!(
            parse_go_duration("1d"),
            Err(DurationError::UnknownUnit("d".into()))
        );
        assert_eq!(parse_go_duration("-5s"), Err(DurationError::Negative));
        assert!(matches!(
            parse_go_duration("s"),
            Err(DurationError::ExpectedNumber(_))
        ));
        assert!(matches!(
            parse_go_duration("1s."),
            Err(DurationError::ExpectedNumber(_))
        ));
        assert_eq!(parse_go_duration("3000000h"), Err(DurationError::Overflow));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,12}") {
            let _ = parse_go_duration(&s);
        }

        #[test]
        fn seconds_round_trip(n in 0u64..1_000_000) {
            proptest::prop_assert_eq!(parse_go_duration(&format!("{n}s")), Ok(Duration::from_secs(n)));
        }
    }
}
