//! The run lease: one run at a time per state, however the state is
//! reached (another path, a symlink, another working directory, another
//! machine; a hard-linked state is refused when it is opened). The
//! exclusion is a row in the state itself, taken in a write transaction,
//! not a file beside it that a path can miss or an operator can delete.
//!
//! A lease names its holder (host, process id, the process's start time,
//! and a random part) and expires [`LEASE_FOR`] after its last renewal. A
//! run's commits renew it, in their own transaction, at most every 15
//! seconds (`sqlite::RENEW_EVERY`), and check that it is still the holder,
//! so a run presumed dead stops before it delivers anything more. A holder on this host whose process is gone
//! (killed) is known dead at once; one on another host is presumed dead
//! only when its lease expires. The same row carries over to a state shared
//! by several machines (PostgreSQL), where the lease becomes one per claim.

use jiff::{SignedDuration, Timestamp};

/// How long a lease holds without renewal. A working run renews it every
/// 15 seconds of commits, so only a run that stopped, or hangs longer than
/// this on one server answer, loses it.
pub const LEASE_FOR: SignedDuration = SignedDuration::from_mins(5);

/// Who holds (or asks for) a lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder(pub String);

impl Holder {
    /// This process: `host/pid/start/random`.
    pub fn this_process() -> Holder {
        let pid = std::process::id();
        let random: u64 = {
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(Timestamp::now().as_nanosecond() as u128);
            h.finish()
        };
        Holder(format!(
            "{}/{pid}/{}/{random:016x}",
            host_name(),
            start_time(pid).unwrap_or_default()
        ))
    }

    /// Whether the holder is a process of this host that no longer runs
    /// (its pid is gone, or now belongs to a process started later).
    /// Unknown (another host, no `/proc`): false, and the lease's expiry
    /// decides.
    pub fn is_gone(&self) -> bool {
        let mut parts = self.0.split('/');
        let (Some(host), Some(pid), Some(start)) = (parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        if host != host_name() || !std::path::Path::new("/proc/self/stat").exists() {
            return false;
        }
        let Ok(pid) = pid.parse::<u32>() else {
            return false;
        };
        match start_time(pid) {
            None => true,
            Some(now) => now != start,
        }
    }

    /// The process, for messages: `pid 1234 on host`.
    pub fn describe(&self) -> String {
        let mut parts = self.0.split('/');
        match (parts.next(), parts.next()) {
            (Some(host), Some(pid)) => format!("pid {pid} on {host}"),
            _ => self.0.clone(),
        }
    }
}

/// A lease found held by another run.
#[derive(Clone, Debug, PartialEq)]
pub struct HeldBy {
    pub holder: Holder,
    pub taken_at: Timestamp,
    pub expires_at: Timestamp,
}

/// What taking the lease did.
#[derive(Clone, Debug, PartialEq)]
pub enum Taken {
    /// Free: now ours.
    Free,
    /// Held by a run that is gone or whose lease expired: now ours.
    TakenOver(HeldBy),
    /// Held by a live run: not ours.
    Refused(HeldBy),
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().replace('/', "_"))
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// The start time of process `pid` (field 22 of `/proc/PID/stat`, in
/// clock ticks since boot): with the pid, it names one process, even after
/// the pid is reused.
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_finished_one_is_gone() {
        let me = Holder::this_process();
        assert!(!me.is_gone(), "{me:?}");
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("true runs");
        let pid = child.id();
        let start = start_time(pid);
        child.wait().expect("ends");
        let finished = Holder(format!(
            "{}/{pid}/{}/0",
            host_name(),
            start.unwrap_or_default()
        ));
        assert!(finished.is_gone());
        // Another host: unknown, left to the expiry.
        let elsewhere = Holder(format!("elsewhere.example/{pid}/1/0"));
        assert!(!elsewhere.is_gone());
        assert_eq!(
            elsewhere.describe(),
            format!("pid {pid} on elsewhere.example")
        );
    }
}
