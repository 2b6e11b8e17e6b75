//! Numbers as people read them in messages and reports: durations in the units users typed
//! them, counts with the right noun, byte counts in binary units with the exact figure beside.

use std::time::Duration;

/// A duration as seconds, the way a user types them: `5 s`, `0.25 s`.
pub(crate) fn secs(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

/// A duration in milliseconds, the unit of every latency soc reports.
pub(crate) fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// `n` and its noun, singular for one: `1 client`, `3 clients`, `0 echoes` (nouns whose plural
/// is not just an added `s` give it: `count(n, "echo", "echoes")`).
pub(crate) fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    match n.into() {
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

/// [`count`] for the nouns whose plural adds an `s`.
pub(crate) fn plural(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    match n {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

/// A byte count as people read it: `512 bytes`, or `238.3 MiB (249,888,768 bytes)`, binary units
/// (the ones `64K` and `256M` on the command line mean) with the exact count beside.
pub(crate) fn bytes(n: u64) -> String {
    if n < 1024 {
        return count(n, "byte", "bytes");
    }
    let (scale, unit) = unit_of(n);
    format!("{:.1} {unit} ({} bytes)", n as f64 / scale, grouped(n))
}

/// `part` of `whole` bytes, both in the unit of `whole`: `5 of 6 bytes`, or `238.3 of 238.4 MiB
/// (249,888,768 of 250,019,840 bytes)`.
pub(crate) fn bytes_of(part: u64, whole: u64) -> String {
    if whole < 1024 {
        return format!("{part} of {}", count(whole, "byte", "bytes"));
    }
    let (scale, unit) = unit_of(whole);
    format!(
        "{:.1} of {:.1} {unit} ({} of {} bytes)",
        part as f64 / scale,
        whole as f64 / scale,
        grouped(part),
        grouped(whole)
    )
}

/// The binary unit `n` (at least 1024) reads best in, and its size.
fn unit_of(n: u64) -> (f64, &'static str) {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    let mut scale = 1024.0;
    let mut unit = 0;
    while n as f64 / scale >= 1024.0 && unit + 1 < UNITS.len() {
        scale *= 1024.0;
        unit += 1;
    }
    (scale, UNITS[unit])
}

/// `249888768` as `249,888,768`: digits in groups of three, with the comma English text puts
/// between them (a space reads as two numbers to most readers). Machine output (JSON) has none.
pub(crate) fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_typed() {
        assert_eq!(secs(Duration::from_secs(5)), "5 s");
        assert_eq!(secs(Duration::from_millis(250)), "0.25 s");
        assert_eq!(millis(Duration::from_micros(1500)), 1.5);
    }

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(plural(1u64, "client"), "1 client");
        assert_eq!(plural(0u64, "client"), "0 clients");
        assert_eq!(plural(2u32, "probe"), "2 probes");
        assert_eq!(count(1u64, "echo", "echoes"), "1 echo");
        assert_eq!(count(5u64, "echo", "echoes"), "5 echoes");
    }

    #[test]
    fn byte_counts_read_in_binary_units_with_the_exact_figure() {
        assert_eq!(bytes(1), "1 byte");
        assert_eq!(bytes(1023), "1023 bytes");
        assert_eq!(bytes(1536), "1.5 KiB (1,536 bytes)");
        assert_eq!(bytes(249_888_768), "238.3 MiB (249,888,768 bytes)");
        assert_eq!(bytes(3 << 30), "3.0 GiB (3,221,225,472 bytes)");
        assert_eq!(bytes_of(5, 6), "5 of 6 bytes");
        assert_eq!(
            bytes_of(249_888_768, 250_019_840),
            "238.3 of 238.4 MiB (249,888,768 of 250,019,840 bytes)"
        );
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
    }
}
