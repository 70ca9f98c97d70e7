//! The half-open window `[start, end)` of instants that one run covers.

use jiff::Timestamp;

use super::error::CalendarError;

/// A half-open window of instants `[start, end)`: an instant equal to
/// `start` is inside, one equal to `end` is not. Consecutive windows
/// `[a, b)`, `[b, c)` therefore cover `[a, c)` with no instant in both and
/// none in neither, which is what makes catch-up runs exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    start: Timestamp,
    end: Timestamp,
}

impl Window {
    /// The window `[start, end)`. `start == end` is an empty window.
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

    /// The first instant inside the window.
    pub fn start(&self) -> Timestamp {
        self.start
    }

    /// The first instant after the window (not inside it).
    pub fn end(&self) -> Timestamp {
        self.end
    }

    /// True when `instant` is in `[start, end)`.
    pub fn contains(&self, instant: Timestamp) -> bool {
        self.start <= instant && instant < self.end
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
    fn start_is_in_end_is_out() {
        let a: Timestamp = "2027-01-01T00:00:00Z".parse().unwrap();
        let b: Timestamp = "2027-01-01T00:01:00Z".parse().unwrap();
        let w = Window::new(a, b).unwrap();
        assert!(w.contains(a));
        assert!(!w.contains(b));
        assert!(!w.is_empty());
        assert!(Window::new(b, a).is_err());
        assert!(Window::new(a, a).unwrap().is_empty());
        assert!(!Window::new(a, a).unwrap().contains(a));
    }
}
