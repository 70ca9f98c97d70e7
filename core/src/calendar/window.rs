//! The half-open window `(start, end]` of instants that one run covers.

use jiff::Timestamp;

use super::error::CalendarError;

/// A half-open window of instants `(start, end]`: an instant equal to
/// `end` is inside, one equal to `start` is not. Consecutive windows
/// `(a, b]`, `(b, c]` therefore cover `(a, c]` with no instant in both and
/// none in neither, which is what makes catch-up runs exact. The end is
/// inside because a run at instant T delivers what is due at T: a
/// scheduler firing at 08:00 sends the 08:00 mail at 08:00, not at its
/// next tick (guarantee 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    start: Timestamp,
    end: Timestamp,
}

impl Window {
    /// The window `(start, end]`. `start == end` is an empty window.
    ///
    /// # Errors
    ///
    /// [`CalendarError::InvalidWindow`] when `end` is before `start`.
    pub fn new(start: Timestamp, end: Timestamp) -> Result<Window, CalendarError> {
        if end < start {
            return Err(CalendarError::InvalidWindow {
                from: start,
                to: end,
            });
        }
        Ok(Window { start, end })
    }

    /// The last instant before the window (not inside it).
    pub fn start(&self) -> Timestamp {
        self.start
    }

    /// The last instant inside the window.
    pub fn end(&self) -> Timestamp {
        self.end
    }

    /// True when `instant` is in `(start, end]`.
    pub fn contains(&self, instant: Timestamp) -> bool {
        self.start < instant && instant <= self.end
    }

    /// The window `[start, end]`: `start` too is inside. A first run covers
    /// the instant it starts at (nothing before it covered that instant).
    pub fn closed(start: Timestamp, end: Timestamp) -> Result<Window, CalendarError> {
        let before = start
            .checked_sub(jiff::SignedDuration::from_nanos(1))
            .unwrap_or(start);
        Window::new(before, end)
    }

    /// True when no instant is inside the window.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_is_out_end_is_in() {
        let a: Timestamp = "2027-01-01T00:00:00Z".parse().unwrap();
        let b: Timestamp = "2027-01-01T00:01:00Z".parse().unwrap();
        let w = Window::new(a, b).unwrap();
        assert!(!w.contains(a));
        assert!(w.contains(b));
        assert!(Window::closed(a, b).unwrap().contains(a));
        assert!(Window::closed(a, a).unwrap().contains(a));
        assert!(!w.is_empty());
        assert!(Window::new(b, a).is_err());
        assert!(Window::new(a, a).unwrap().is_empty());
        assert!(!Window::new(a, a).unwrap().contains(a));
    }
}
