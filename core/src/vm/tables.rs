//! Tables built once per window and rule, then looked up contact after
//! contact (most contacts of a large base have nothing due in a window).

use jiff::civil::Date;
use rustc_hash::FxHashMap as HashMap;

use crate::calendar::{LeapDayRule, Offset, Window, YearlyDays};

/// Tables built once per window and rule, then looked up contact after
/// contact: a run uses two windows (its own and the look-ahead of its row
/// index); a long simulation moves its window day by day.
pub(super) struct WindowTables<T> {
    windows: Vec<(Window, ByRule<T>)>,
}

/// By (flow, rule).
type ByRule<T> = HashMap<(usize, usize), T>;

impl<T> Default for WindowTables<T> {
    fn default() -> WindowTables<T> {
        WindowTables {
            windows: Vec::new(),
        }
    }
}

impl<T> WindowTables<T> {
    /// Windows kept at most.
    const KEPT: usize = 8;

    pub(super) fn get(
        &mut self,
        window: &Window,
        rule: (usize, usize),
        build: impl FnOnce() -> T,
    ) -> &T {
        let at = match self.windows.iter().position(|(w, _)| w == window) {
            Some(at) => at,
            None => {
                if self.windows.len() >= Self::KEPT {
                    self.windows.remove(0);
                }
                self.windows.push((*window, HashMap::default()));
                self.windows.len() - 1
            }
        };
        self.windows[at].1.entry(rule).or_insert_with(build)
    }
}

/// For each yearly or anniversary rule, the month-days that may be due in
/// the window being evaluated.
#[derive(Default)]
pub(super) struct YearlyFilters {
    tables: WindowTables<YearlyDays>,
}

impl YearlyFilters {
    pub(super) fn may_be_due(
        &mut self,
        window: &Window,
        rule: (usize, usize),
        offset: Offset,
        leap_day: LeapDayRule,
        base: Date,
    ) -> bool {
        self.tables
            .get(window, rule, || YearlyDays::new(window, offset, leap_day))
            .may_be_due(base)
    }
}
