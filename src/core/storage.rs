//! How full the browser's storage is, in words the user can act on.

/// Usage at or above this share of the quota gets a warning...
pub const WARN_AT: f64 = 0.80;
/// ...and at or above this share, a warning that writes may start failing.
pub const CRITICAL_AT: f64 = 0.95;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StorageUse {
    pub usage_bytes: f64,
    pub quota_bytes: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageLevel {
    Fine,
    NearlyFull,
    Full,
}

impl StorageUse {
    /// The share of the quota in use, 0.0 when the browser reports no quota.
    pub fn fraction(&self) -> f64 {
        if self.quota_bytes > 0.0 && self.usage_bytes.is_finite() {
            (self.usage_bytes / self.quota_bytes).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    pub fn level(&self) -> StorageLevel {
        let fraction = self.fraction();
        if fraction >= CRITICAL_AT {
            StorageLevel::Full
        } else if fraction >= WARN_AT {
            StorageLevel::NearlyFull
        } else {
            StorageLevel::Fine
        }
    }

    /// E.g. "12.4 MB of 1.9 GB (1%)".
    pub fn summary(&self) -> String {
        format!(
            "{} of {} ({:.0}%)",
            format_bytes(self.usage_bytes),
            format_bytes(self.quota_bytes),
            self.fraction() * 100.0
        )
    }

    /// What to tell the user, if anything.
    pub fn warning(&self) -> Option<String> {
        match self.level() {
            StorageLevel::Fine => None,
            StorageLevel::NearlyFull => Some(format!(
                "Storage is nearly full: {}. Export your memory and remove documents or old memories you no longer need.",
                self.summary()
            )),
            StorageLevel::Full => Some(format!(
                "Storage is full: {}. New memories may not be saved; nothing already saved is lost. Free space by exporting and deleting documents or old memories.",
                self.summary()
            )),
        }
    }
}

/// Bytes in decimal units, as browsers and operating systems show them.
pub fn format_bytes(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    if !bytes.is_finite() || bytes < 0.0 {
        return "unknown".to_owned();
    }
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(usage_bytes: f64, quota_bytes: f64) -> StorageUse {
        StorageUse {
            usage_bytes,
            quota_bytes,
        }
    }

    #[test]
    fn bytes_read_like_a_file_manager() {
        assert_eq!(format_bytes(0.0), "0 B");
        assert_eq!(format_bytes(999.0), "999 B");
        assert_eq!(format_bytes(12_400_000.0), "12.4 MB");
        assert_eq!(format_bytes(1.9e9), "1.9 GB");
        assert_eq!(format_bytes(f64::NAN), "unknown");
    }

    #[test]
    fn the_user_is_warned_before_storage_is_full_and_told_what_to_do() {
        assert_eq!(usage(40e6, 2e9).warning(), None);
        assert_eq!(usage(40e6, 2e9).summary(), "40.0 MB of 2.0 GB (2%)");
        let nearly = usage(1.7e9, 2e9);
        assert_eq!(nearly.level(), StorageLevel::NearlyFull);
        assert!(nearly.warning().unwrap().contains("Export your memory"));
        let full = usage(1.95e9, 2e9);
        assert_eq!(full.level(), StorageLevel::Full);
        assert!(full
            .warning()
            .unwrap()
            .contains("nothing already saved is lost"));
    }

    #[test]
    fn a_missing_quota_never_claims_the_storage_is_full() {
        assert_eq!(usage(5e6, 0.0).level(), StorageLevel::Fine);
        assert_eq!(usage(f64::NAN, 1e9).fraction(), 0.0);
    }
}
