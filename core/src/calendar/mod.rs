//! The calendar: the single place in the product that does time-zone and
//! calendar arithmetic (guarantees 1-5 and 9).
//!
//! Everything here is pure: no clock is read (the caller passes instants and
//! windows in) and no I/O happens except reading a zoneinfo directory when
//! [`ZoneDb::from_dir`] / [`ZoneDb::from_env`] is asked to. Every function
//! returns a `Result` rather than panicking, whatever its input.
//!
//! * [`zones`]: [`ZoneDb`], the one zone source (bundled IANA tzdb, or an
//!   operator's zoneinfo directory via `FLOWC_TZDIR`).
//! * [`local_time`]: local date and time to instant (gap -> end of the gap,
//!   fold -> first occurrence), and the end of a local day.
//! * [`yearly`]: dates that recur every year, and the 29 February rule.
//! * [`offsets`]: `-15d`, `+2h`, `+1mo` applied to dates, local times and
//!   instants.
//! * [`window`]: the half-open window `[start, end)` a run covers.
//! * [`occurrences`]: what enumerations return, and occurrence keys.
//! * [`recurring`] and [`one_shot`]: the sends due within a window.
//!
//! # Example
//!
//! ```
//! use flowc_core::calendar::{
//!     yearly_occurrences, LeapDayRule, OccurrenceKey, Offset, Unit, Window, ZoneDb,
//! };
//! use jiff::civil::{date, time};
//!
//! let zones = ZoneDb::bundled();
//! let paris = zones.get("Europe/Paris")?;
//! let december = Window::new(
//!     "2026-12-01T00:00:00Z".parse()?,
//!     "2027-01-01T00:00:00Z".parse()?,
//! )?;
//! // A birthday on 5 January, 15 days before, at 09:00 on the contact's clock.
//! let due = yearly_occurrences(
//!     date(1990, 1, 5),
//!     Offset::new(-15, Unit::Days),
//!     time(9, 0, 0, 0),
//!     &paris,
//!     LeapDayRule::Feb28,
//!     &december,
//! )?;
//! assert_eq!(due.len(), 1);
//! assert_eq!(due[0].key, OccurrenceKey::Year(2027));
//! assert_eq!(due[0].local_date, date(2026, 12, 21));
//! assert_eq!(due[0].instant.to_string(), "2026-12-21T08:00:00Z");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod error;
pub mod local_time;
pub mod occurrences;
pub mod offsets;
pub mod one_shot;
pub mod recurring;
pub mod window;
pub mod yearly;
pub mod zones;

pub use error::{CalendarError, UnknownZoneError};
pub use local_time::{
    end_of_local_day, in_daily_period, local_date_time, resolve_local, resolve_local_detailed,
    shown_deadline, start_of_local_day, Resolution, ResolvedLocal,
};
pub use occurrences::{Occurrence, OccurrenceKey};
pub use offsets::{DueTime, Offset, Unit};
pub use one_shot::{
    after_instant, after_instant_due, inactivity_due, inactivity_due_at, once_due, once_occurrence,
};
pub use recurring::{
    anniversary_occurrence, anniversary_occurrences, yearly_occurrence, yearly_occurrences,
    YearlyDays, YearlyFirstDates,
};
pub use window::Window;
pub use yearly::{check_month_day, days_in_month, yearly_date, LeapDayRule};
pub use zones::{bundled_tzdb_version, ZoneDb, TZDIR_ENV_VAR};
