//! The `date` header value (IMF-fixdate, RFC 9110 §5.6.7), formatted once per second per thread.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

/// Length of an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub const DATE_LEN: usize = 29;

/// Length of the whole header line, `date: <IMF-fixdate>\r\n`.
pub const LINE_LEN: usize = DATE_LEN + 8;

thread_local! {
    static CACHE: RefCell<(u64, [u8; LINE_LEN])> = const { RefCell::new((u64::MAX, [0; LINE_LEN])) };
}

/// The whole `date` header line, `date: <IMF-fixdate>\r\n`, from the same cache: the server
/// writes it into every response head with one copy.
pub fn line() -> [u8; LINE_LEN] {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    CACHE.with_borrow_mut(|cache| {
        if cache.0 != secs {
            let mut line = [0; LINE_LEN];
            line[..6].copy_from_slice(b"date: ");
            line[6..6 + DATE_LEN].copy_from_slice(&format_imf_fixdate(secs));
            line[6 + DATE_LEN..].copy_from_slice(b"\r\n");
            *cache = (secs, line);
        }
        cache.1
    })
}

/// Format `secs` since the Unix epoch as an IMF-fixdate.
pub fn format_imf_fixdate(secs: u64) -> [u8; DATE_LEN] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let days = secs / 86_400;
    let in_day = secs % 86_400;
    let (year, month, day) = civil_from_days(days as i64);
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(DAYS[(days % 7) as usize]);
    two_digits(&mut out[5..7], day);
    out[8..11].copy_from_slice(MONTHS[month as usize - 1]);
    let year = year as u64;
    two_digits(&mut out[12..14], year / 100);
    two_digits(&mut out[14..16], year % 100);
    two_digits(&mut out[17..19], in_day / 3600);
    two_digits(&mut out[20..22], in_day / 60 % 60);
    two_digits(&mut out[23..25], in_day % 60);
    out
}

/// Seconds since the Unix epoch of an HTTP-date in any of the three forms a recipient must
/// accept (RFC 9110 §5.6.7): IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), RFC 850
/// (`Sunday, 06-Nov-94 08:49:37 GMT`, its two-digit year read as within 50 years of now, taken
/// here as 1970..=2069) and asctime (`Sun Nov  6 08:49:37 1994`). `None` for anything else
/// (the day name is not checked against the date, as the RFC lets a recipient do).
pub fn parse_http_date(text: &str) -> Option<u64> {
    let text = text.trim();
    let (day, month, year, time) = if let Some((_, rest)) = text.split_once(", ") {
        let parts: Vec<&str> = rest.split(' ').collect();
        match parts[..] {
            [day, month, year, time, "GMT"] if day.len() == 2 && year.len() == 4 => {
                (day, month, digits(year)?, time)
            }
            [date, time, "GMT"] => {
                let mut date = date.split('-');
                let (day, month, year) = (date.next()?, date.next()?, date.next()?);
                if day.len() != 2 || year.len() != 2 || date.next().is_some() {
                    return None;
                }
                let year = digits(year)?;
                (
                    day,
                    month,
                    if year < 70 { 2000 + year } else { 1900 + year },
                    time,
                )
            }
            _ => return None,
        }
    } else {
        let parts: Vec<&str> = text.split_whitespace().collect();
        match parts[..] {
            [_, month, day, time, year] if year.len() == 4 && (1..=2).contains(&day.len()) => {
                (day, month, digits(year)?, time)
            }
            _ => return None,
        }
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == month)? as u64 + 1;
    let day: u64 = digits(day)?;
    let mut clock = time.split(':');
    let (hour, minute, second) = (clock.next()?, clock.next()?, clock.next()?);
    if clock.next().is_some() || [hour, minute, second].iter().any(|p| p.len() != 2) {
        return None;
    }
    let (hour, minute, second) = (digits(hour)?, digits(minute)?, digits(second)?);
    if !(1970..=9999).contains(&year)
        || day == 0
        || day > 31
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(year as i64, month, day);
    if civil_from_days(days) != (year as i64, month, day) {
        return None;
    }
    Some(days as u64 * 86_400 + hour * 3600 + minute * 60 + second)
}

/// ASCII digits as a number.
fn digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// (year, month 1..=12, day 1..=31) to days since 1970-01-01, Howard Hinnant's algorithm.
fn days_from_civil(year: i64, month: u64, day: u64) -> i64 {
    let year = year - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = (month as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn two_digits(out: &mut [u8], n: u64) {
    out[0] = b'0' + (n / 10 % 10) as u8;
    out[1] = b'0' + (n % 10) as u8;
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31), Howard Hinnant's algorithm.
fn civil_from_days(days: i64) -> (i64, u64, u64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u64;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u64;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_holds_the_date() {
        let line = line();
        assert!(line.starts_with(b"date: "));
        assert!(line.ends_with(b" GMT\r\n"));
        assert_eq!(line.len(), "date: Sun, 06 Nov 1994 08:49:37 GMT\r\n".len());
    }

    #[test]
    fn rfc9110_5_6_7_all_three_date_forms_are_read() {
        for text in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse_http_date(text), Some(784_111_777), "{text}");
        }
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT"),
            Some(1_709_164_800)
        );
        for secs in [0, 784_111_777, 1_709_164_800, 1_795_651_199, 4_102_444_800] {
            let text = format_imf_fixdate(secs);
            assert_eq!(
                parse_http_date(std::str::from_utf8(&text).unwrap()),
                Some(secs)
            );
        }
    }

    #[test]
    fn what_is_not_an_http_date_is_none() {
        for text in [
            "",
            "yesterday",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1969 08:49:37 GMT",
            "Sun, 06 Nov +994 08:49:37 GMT",
            "Sun, 06 Nov +1994 08:49:37 GMT",
            "Sun, 06-Nov-1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(text), None, "{text}");
        }
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(&format_imf_fixdate(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            &format_imf_fixdate(784_111_777),
            b"Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            &format_imf_fixdate(1_709_164_800),
            b"Thu, 29 Feb 2024 00:00:00 GMT"
        );
        assert_eq!(
            &format_imf_fixdate(1_795_651_199),
            b"Wed, 25 Nov 2026 23:59:59 GMT"
        );
    }
}
