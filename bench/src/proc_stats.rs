//! The broker's CPU time and peak memory, read from `/proc/<pid>`.

use std::fs;
use std::io;
use std::time::Duration;

/// Clock ticks per second of the times in `/proc/<pid>/stat` (Linux's
/// `USER_HZ`, 100 on every architecture Linux exposes to user space).
const TICKS_PER_SECOND: u64 = 100;

/// One reading of a process's counters.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// User plus system CPU time used so far.
    pub cpu: Duration,
    /// Peak resident memory (`VmHWM`) in KiB.
    pub peak_rss_kib: u64,
}

/// Reads the counters of process `pid`.
pub fn sample(pid: u32) -> io::Result<Sample> {
    let bad =
        |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("{what} of pid {pid}"));
    let read = |file: &str| {
        let path = format!("/proc/{pid}/{file}");
        fs::read_to_string(&path).map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))
    };
    let stat = read("stat")?;
    let status = read("status")?;
    let ticks = cpu_ticks(&stat).ok_or_else(|| bad("unreadable /proc stat"))?;
    Ok(Sample {
        cpu: Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND),
        peak_rss_kib: vm_hwm_kib(&status).ok_or_else(|| bad("no VmHWM in /proc status"))?,
    })
}

/// `utime + stime` from the text of `/proc/<pid>/stat`. The command name
/// (field 2) is in parentheses and may hold spaces, so fields are counted
/// from the last `)`: utime and stime are fields 14 and 15.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// `VmHWM` in KiB from the text of `/proc/<pid>/status`.
fn vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    line.trim().trim_end_matches("kB").trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_command_name() {
        let stat =
            "1234 (my (odd) broker) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 3 0 99 \
                    123456 789 18446744073709551615";
        assert_eq!(cpu_ticks(stat), Some(325));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn parses_status() {
        let status =
            "Name:\tbroker\nVmPeak:\t  20000 kB\nVmHWM:\t    5120 kB\nVmRSS:\t    4000 kB\n";
        assert_eq!(vm_hwm_kib(status), Some(5120));
        assert_eq!(vm_hwm_kib("Name:\tx\n"), None);
    }

    #[test]
    fn samples_this_process() {
        let sample = sample(std::process::id());
        assert!(matches!(sample, Ok(s) if s.peak_rss_kib > 0));
    }
}
