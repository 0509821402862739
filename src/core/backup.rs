//! Scheduled backups: how often the whole memory is exported, when that last
//! happened, and whether one is due now (Settings → Backups).

use serde::{Deserialize, Serialize};

use super::memory::Millis;

const DAY_MS: Millis = 86_400_000;

/// How often a backup is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupInterval {
    #[default]
    Off,
    Daily,
    Weekly,
    Monthly,
}

impl BackupInterval {
    pub const ALL: [BackupInterval; 4] = [
        BackupInterval::Off,
        BackupInterval::Daily,
        BackupInterval::Weekly,
        BackupInterval::Monthly,
    ];

    /// The value used in form controls.
    pub fn as_str(self) -> &'static str {
        match self {
            BackupInterval::Off => "off",
            BackupInterval::Daily => "daily",
            BackupInterval::Weekly => "weekly",
            BackupInterval::Monthly => "monthly",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            BackupInterval::Off => "Never (only when I export)",
            BackupInterval::Daily => "Every day",
            BackupInterval::Weekly => "Every week",
            BackupInterval::Monthly => "Every 30 days",
        }
    }

    /// Parses a form value; an unknown one means no schedule.
    pub fn from_form_value(value: &str) -> BackupInterval {
        BackupInterval::ALL
            .into_iter()
            .find(|interval| interval.as_str() == value)
            .unwrap_or_default()
    }

    fn days(self) -> Option<Millis> {
        match self {
            BackupInterval::Off => None,
            BackupInterval::Daily => Some(1),
            BackupInterval::Weekly => Some(7),
            BackupInterval::Monthly => Some(30),
        }
    }
}

/// The backup schedule and its record, stored under `keys::BACKUP`. The file
/// chosen for automatic backups is stored next to it (a browser file handle,
/// which is not data this module can hold).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BackupSettings {
    #[serde(default)]
    pub interval: BackupInterval,
    /// When the last backup was written (ms since the epoch), on schedule or by hand.
    #[serde(default)]
    pub last_backup_at: Option<Millis>,
    /// Where it went: the chosen file's name, or the downloaded file's.
    #[serde(default)]
    pub last_backup_to: Option<String>,
    /// A reminder the user put off is not shown again before this time.
    #[serde(default)]
    pub snoozed_until: Option<Millis>,
}

/// How long "Later" puts off a reminder.
pub const SNOOZE_MS: Millis = DAY_MS;

impl BackupSettings {
    /// When the next backup is due: at once if there never was one.
    pub fn next_due_at(&self) -> Option<Millis> {
        let days = self.interval.days()?;
        Some(self.last_backup_at.map_or(0, |last| last + days * DAY_MS))
    }

    /// Whether a backup should be written (or the user reminded) at `now`.
    pub fn is_due(&self, now: Millis) -> bool {
        self.next_due_at().is_some_and(|due| due <= now)
    }

    /// Whether the reminder should be shown at `now` (due and not put off).
    pub fn should_remind(&self, now: Millis) -> bool {
        self.is_due(now) && self.snoozed_until.is_none_or(|until| until <= now)
    }

    /// Records a backup written at `at` to `to`.
    pub fn backed_up(&mut self, at: Millis, to: &str) {
        self.last_backup_at = Some(at);
        self.last_backup_to = Some(to.to_owned());
        self.snoozed_until = None;
    }

    /// Puts the reminder off until a day after `now`.
    pub fn snooze(&mut self, now: Millis) {
        self.snoozed_until = Some(now + SNOOZE_MS);
    }

    /// How long ago the last backup was, in words ("never", "today",
    /// "3 days ago").
    pub fn age_in_words(&self, now: Millis) -> String {
        match self.last_backup_at {
            None => "never".to_owned(),
            Some(at) => match now.saturating_sub(at) / DAY_MS {
                0 => "today".to_owned(),
                1 => "yesterday".to_owned(),
                days => format!("{days} days ago"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_780_000_000_000;
    const HOUR: Millis = 3_600_000;

    fn schedule(interval: BackupInterval, last: Option<Millis>) -> BackupSettings {
        BackupSettings {
            interval,
            last_backup_at: last,
            ..BackupSettings::default()
        }
    }

    #[test]
    fn nothing_is_due_without_a_schedule() {
        let settings = schedule(BackupInterval::Off, None);
        assert_eq!(settings.next_due_at(), None);
        assert!(!settings.is_due(NOW));
        assert!(!settings.should_remind(NOW));
    }

    #[test]
    fn a_new_schedule_without_any_backup_is_due_at_once() {
        assert!(schedule(BackupInterval::Monthly, None).is_due(NOW));
    }

    #[test]
    fn a_backup_is_due_one_interval_after_the_last() {
        let weekly = schedule(BackupInterval::Weekly, Some(NOW));
        assert!(!weekly.is_due(NOW + 7 * DAY_MS - HOUR));
        assert!(weekly.is_due(NOW + 7 * DAY_MS));
        let daily = schedule(BackupInterval::Daily, Some(NOW - 25 * HOUR));
        assert!(daily.is_due(NOW));
        let monthly = schedule(BackupInterval::Monthly, Some(NOW - 29 * DAY_MS));
        assert!(!monthly.is_due(NOW));
    }

    #[test]
    fn later_puts_the_reminder_off_for_a_day_and_a_backup_ends_it() {
        let mut settings = schedule(BackupInterval::Daily, Some(NOW - 2 * DAY_MS));
        settings.snooze(NOW);
        assert!(settings.is_due(NOW), "still due, only not shown");
        assert!(!settings.should_remind(NOW + DAY_MS - 1));
        assert!(settings.should_remind(NOW + DAY_MS));
        settings.backed_up(NOW + 10, "casebook-backup.json");
        assert_eq!(settings.snoozed_until, None);
        assert!(!settings.is_due(NOW + 20));
        assert_eq!(
            settings.last_backup_to.as_deref(),
            Some("casebook-backup.json")
        );
    }

    #[test]
    fn the_age_of_the_last_backup_reads_as_words() {
        assert_eq!(
            schedule(BackupInterval::Daily, None).age_in_words(NOW),
            "never"
        );
        let at = |at: Millis| schedule(BackupInterval::Daily, Some(at));
        assert_eq!(at(NOW - 12 * HOUR).age_in_words(NOW), "today");
        assert_eq!(at(NOW - 30 * HOUR).age_in_words(NOW), "yesterday");
        assert_eq!(at(NOW - 9 * DAY_MS).age_in_words(NOW), "9 days ago");
        // A clock set back shows "today", not a negative age.
        assert_eq!(at(NOW + 2 * DAY_MS).age_in_words(NOW), "today");
    }

    #[test]
    fn form_values_round_trip_and_unknown_ones_mean_off() {
        for interval in BackupInterval::ALL {
            assert_eq!(BackupInterval::from_form_value(interval.as_str()), interval);
        }
        assert_eq!(
            BackupInterval::from_form_value("hourly"),
            BackupInterval::Off
        );
    }

    #[test]
    fn stored_settings_missing_fields_read_as_defaults() {
        let settings: BackupSettings = serde_json::from_str(r#"{"interval":"weekly"}"#).unwrap();
        assert_eq!(settings.interval, BackupInterval::Weekly);
        assert_eq!(settings.last_backup_at, None);
    }
}
