//! The calendar's error types: every fallible calendar function returns one
//! of these instead of panicking.

use std::fmt;
use std::path::PathBuf;

/// A zone name that the active zone database does not know.
///
/// Carries the rejected name, up to three "did you mean" suggestions (closest
/// first) and a description of the zone database that was consulted, so that
/// a report can say exactly what was checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownZoneError {
    name: String,
    suggestions: Vec<String>,
    source_description: String,
}

impl UnknownZoneError {
    pub(crate) fn new(name: &str, suggestions: Vec<String>, source_description: String) -> Self {
        UnknownZoneError {
            name: name.to_string(),
            suggestions,
            source_description,
        }
    }

    /// The zone name exactly as it was given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Up to three known zone names close to the given one, closest first.
    /// Empty when nothing is close enough to be a plausible typo.
    pub fn suggestions(&self) -> &[String] {
        &self.suggestions
    }

    /// The zone database that was consulted, e.g. "bundled IANA tzdb 2026f".
    pub fn source_description(&self) -> &str {
        &self.source_description
    }
}

impl fmt::Display for UnknownZoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown time zone {:?} (not in {})",
            self.name, self.source_description
        )?;
        match self.suggestions.as_slice() {
            [] => Ok(()),
            [only] => write!(f, "; did you mean {only:?}?"),
            many => {
                f.write_str("; did you mean one of ")?;
                for (i, s) in many.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{s:?}")?;
                }
                f.write_str("?")
            }
        }
    }
}

impl std::error::Error for UnknownZoneError {}

/// Everything that can go wrong in calendar arithmetic or zone loading.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CalendarError {
    /// A date, time or instant would fall outside the supported range
    /// (civil years -9999..=9999, and the instants jiff can represent).
    OutOfRange {
        /// What was being computed, for the report.
        what: String,
    },
    /// A month/day pair that no year has (e.g. 31 April, 30 February).
    InvalidMonthDay {
        /// The month given (1-12 expected).
        month: i8,
        /// The day given.
        day: i8,
    },
    /// An offset that cannot be used where it was given (for example an
    /// hour offset applied to a bare date, or a non-positive inactivity
    /// period).
    InvalidOffset {
        /// Why the offset was rejected.
        reason: String,
    },
    /// An anniversary number below 1 (the start itself is not an
    /// anniversary).
    InvalidAnniversary {
        /// The number given.
        n: i32,
    },
    /// A window whose end is before its start.
    InvalidWindow {
        /// The window start as given.
        from: jiff::Timestamp,
        /// The window end as given.
        to: jiff::Timestamp,
    },
    /// A zoneinfo directory that is missing, unreadable, empty or holds a
    /// corrupt zone file.
    ZoneDirectory {
        /// The directory (or file inside it) concerned.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A zone name that the zone database does not know.
    UnknownZone(UnknownZoneError),
}

impl CalendarError {
    pub(crate) fn out_of_range(what: impl Into<String>) -> Self {
        CalendarError::OutOfRange { what: what.into() }
    }

    /// True when the error only says that the result lies beyond the
    /// representable range of dates and instants.
    pub fn is_out_of_range(&self) -> bool {
        matches!(self, CalendarError::OutOfRange { .. })
    }
}

impl fmt::Display for CalendarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CalendarError::OutOfRange { what } => {
                write!(
                    f,
                    "{what} is outside the supported range of dates (years -9999 to 9999)"
                )
            }
            CalendarError::InvalidMonthDay { month, day } => {
                write!(f, "month {month}, day {day} is not a day of any year")
            }
            CalendarError::InvalidOffset { reason } => write!(f, "invalid offset: {reason}"),
            CalendarError::InvalidAnniversary { n } => {
                write!(
                    f,
                    "anniversary number {n} is not an anniversary (the first is 1)"
                )
            }
            CalendarError::InvalidWindow { from, to } => {
                write!(f, "window end {to} is before its start {from}")
            }
            CalendarError::ZoneDirectory { path, reason } => {
                write!(f, "zoneinfo directory {}: {reason}", path.display())
            }
            CalendarError::UnknownZone(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for CalendarError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CalendarError::UnknownZone(e) => Some(e),
            _ => None,
        }
    }
}

impl From<UnknownZoneError> for CalendarError {
    fn from(e: UnknownZoneError) -> Self {
        CalendarError::UnknownZone(e)
    }
}
