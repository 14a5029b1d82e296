//! IMAP dates: "1-Feb-2024" (SEARCH), "17-Jul-1996 02:44:25 -0700" (INTERNALDATE, APPEND), and the
//! Date header of RFC 5322 for SENTBEFORE/SENTON/SENTSINCE.

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days from the civil date to 1970-01-01 (Howard Hinnant's days_from_civil).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn month(name: &str) -> Option<u32> {
    MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(name))
        .map(|i| i as u32 + 1)
}

/// "1-Feb-2024" to the Unix time of its midnight (UTC).
pub fn parse_date(s: &str) -> Option<i64> {
    let mut p = s.trim_matches('"').split('-');
    let d: u32 = p.next()?.trim().parse().ok()?;
    let m = month(p.next()?)?;
    let y: i64 = p.next()?.parse().ok()?;
    if p.next().is_some() || !(1..=31).contains(&d) || !(1..=9999).contains(&y) {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400)
}

/// "17-Jul-1996 02:44:25 -0700" to Unix time.
pub fn parse_date_time(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, rest) = s.split_once(' ')?;
    let midnight = parse_date(date.trim())?;
    let (time, zone) = rest.trim().split_once(' ')?;
    let mut t = time.split(':');
    let (h, mi, se): (i64, i64, i64) = (
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
    );
    if h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some(midnight + h * 3600 + mi * 60 + se - zone_offset(zone)?)
}

fn zone_offset(z: &str) -> Option<i64> {
    let (sign, digits) = match z.as_bytes().first()? {
        b'+' => (1, &z[1..]),
        b'-' => (-1, &z[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    Some(sign * ((n / 100) * 3600 + (n % 100) * 60))
}

/// INTERNALDATE as IMAP writes it, in UTC.
pub fn format_date_time(unix: i64) -> String {
    let (y, m, d) = crate::util::civil_from_days(unix.div_euclid(86_400));
    let s = unix.rem_euclid(86_400);
    format!(
        "{d:02}-{}-{y:04} {:02}:{:02}:{:02} +0000",
        MONTHS[(m - 1) as usize],
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// An RFC 5322 Date header ("Tue, 1 Jul 2003 10:52:37 +0200", weekday optional) to Unix time.
pub fn parse_rfc5322(s: &str) -> Option<i64> {
    let s = s.split('(').next()?.trim();
    let s = match s.split_once(',') {
        Some((_, rest)) => rest.trim(),
        None => s,
    };
    let parts: Vec<&str> = s.split_whitespace().collect();
    if parts.len() < 4 {
        return None;
    }
    let d: u32 = parts[0].parse().ok()?;
    let m = month(parts[1])?;
    let mut y: i64 = parts[2].parse().ok()?;
    if y < 100 {
        y += if y < 50 { 2000 } else { 1900 };
    }
    let mut t = parts[3].split(':');
    let h: i64 = t.next()?.parse().ok()?;
    let mi: i64 = t.next()?.parse().ok()?;
    let se: i64 = t.next().map(|x| x.parse().unwrap_or(0)).unwrap_or(0);
    let off = parts.get(4).and_then(|z| zone_offset(z)).unwrap_or(0);
    Some(days_from_civil(y, m, d) * 86_400 + h * 3600 + mi * 60 + se - off)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("1-Jan-1970"), Some(0));
        assert_eq!(parse_date("28-Nov-2026"), Some(1_795_824_000));
        assert_eq!(parse_date("31-Foo-2020"), None);
        assert_eq!(
            parse_date_time("17-Jul-1996 02:44:25 -0700"),
            Some(837_596_665)
        );
        assert_eq!(format_date_time(837_596_665), "17-Jul-1996 09:44:25 +0000");
        assert_eq!(
            parse_rfc5322("Tue, 16 Jul 1996 19:44:25 -0700 (PDT)"),
            Some(837_571_465 - 3600 * 7 + 3600 * 7)
        );
        assert_eq!(parse_rfc5322("garbage"), None);
    }
}
