//! Which backups to keep: the newest of each of the last `keep_daily` days
//! that have one, the newest of each of the last `keep_weekly` ISO weeks
//! that have one, and always the newest of all (grandfather-father-son
//! rotation without the grandfather).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Duration, Utc};

use super::PARTIAL_SUFFIX;

/// The indices into `taken` (times the backups were taken, in any order)
/// of the backups to keep.
pub fn keep(taken: &[DateTime<Utc>], keep_daily: u32, keep_weekly: u32) -> BTreeSet<usize> {
    let mut order: Vec<usize> = (0..taken.len()).collect();
    order.sort_by(|a, b| taken[*b].cmp(&taken[*a]));
    let mut kept = BTreeSet::new();
    if let Some(newest) = order.first() {
        kept.insert(*newest);
    }
    let mut days = BTreeSet::new();
    let mut weeks = BTreeSet::new();
    for i in order {
        let t = taken[i];
        let day = t.date_naive();
        if !days.contains(&day) && days.len() < keep_daily as usize {
            days.insert(day);
            kept.insert(i);
        }
        let week = (t.iso_week().year(), t.iso_week().week());
        if !weeks.contains(&week) && weeks.len() < keep_weekly as usize {
            weeks.insert(week);
            kept.insert(i);
        }
    }
    kept
}

/// Deletes the backups in `dir` that `keep` does not keep, and unfinished
/// ones older than a day (a backup that died half-way). Returns what it
/// deleted.
pub fn apply(
    dir: &Path,
    keep_daily: u32,
    keep_weekly: u32,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with('.') && name.ends_with(PARTIAL_SUFFIX)) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .map(|m| DateTime::<Utc>::from(m) < now - Duration::days(1))
            .unwrap_or(false);
        if old {
            std::fs::remove_dir_all(entry.path())?;
            removed.push(entry.path());
        }
    }
    let found = super::list(dir)?;
    let taken: Vec<_> = found.iter().map(|(_, t)| *t).collect();
    let kept = keep(&taken, keep_daily, keep_weekly);
    for (i, (path, _)) in found.into_iter().enumerate() {
        if !kept.contains(&i) {
            std::fs::remove_dir_all(&path)?;
            removed.push(path);
        }
    }
    removed.sort();
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        // November 2026: the 2nd is a Monday.
        Utc.with_ymd_and_hms(2026, 11, day, hour, 30, 0)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn keeps_the_newest_of_each_recent_day_and_week() {
        // Nightly backups from Nov 1 to Nov 23, plus a second one on the 23rd.
        let mut taken: Vec<_> = (1..=23).map(|d| at(d, 3)).collect();
        taken.push(at(23, 12));
        let kept: Vec<_> = keep(&taken, 7, 4).into_iter().map(|i| taken[i]).collect();
        let mut expected = vec![
            // The last 7 days, the newest of the 23rd only.
            at(17, 3),
            at(18, 3),
            at(19, 3),
            at(20, 3),
            at(21, 3),
            at(22, 3),
            at(23, 12),
            // Four ISO weeks (Monday to Sunday): the current one by the
            // 23rd, the 16th–22nd by the 22nd, then the Sundays closing
            // the 9th–15th and the 2nd–8th. The 1st is a fifth week.
            at(15, 3),
            at(8, 3),
        ];
        expected.sort();
        let mut kept = kept;
        kept.sort();
        assert_eq!(kept, expected);
    }

    #[test]
    fn always_keeps_the_newest_even_with_nothing_to_keep() {
        let taken = vec![at(1, 3), at(2, 3)];
        let kept = keep(&taken, 0, 0);
        assert_eq!(kept.into_iter().collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn apply_deletes_old_backups_and_dead_partials_only() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let make = |name: &str| {
            let p = dir.path().join(name);
            std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(p.join(super::super::MANIFEST), "{}").unwrap_or_else(|e| panic!("{e}"));
        };
        make("faena-20261101T033000Z");
        make("faena-20261122T033000Z");
        make("faena-20261123T033000Z");
        // Not ours: left alone.
        std::fs::create_dir_all(dir.path().join("other")).unwrap_or_else(|e| panic!("{e}"));
        // A partial backup in progress (fresh): left alone.
        std::fs::create_dir_all(dir.path().join(".faena-20261123T040000Z.partial"))
            .unwrap_or_else(|e| panic!("{e}"));
        let removed = apply(dir.path(), 1, 0, at(23, 5)).unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<_> = removed
            .iter()
            .filter_map(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            vec!["faena-20261101T033000Z", "faena-20261122T033000Z"]
        );
        assert!(dir.path().join("faena-20261123T033000Z").is_dir());
        assert!(dir.path().join("other").is_dir());
        assert!(dir.path().join(".faena-20261123T040000Z.partial").is_dir());
    }
}
