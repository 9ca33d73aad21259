//! Child processes (a server under measurement, Janus, `gst-launch-1.0`) that die with the
//! process that started them, even when it is killed or crashes and runs no destructor.

use std::os::unix::process::CommandExt;

/// Makes the child started by `command` receive SIGKILL when the thread that spawns it exits
/// (Linux `PR_SET_PDEATHSIG`), so a killed or crashed benchmark leaves no server behind. Spawn
/// from a thread that lives as long as the child should (a runtime worker or the main thread,
/// not a short-lived blocking-pool thread).
pub fn die_with_parent(command: &mut std::process::Command) -> &mut std::process::Command {
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec and only makes async-signal-safe
    // system calls (prctl, getppid, _exit).
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl: then nobody would send the signal.
            if libc::getppid() as u32 != parent {
                libc::_exit(1);
            }
            Ok(())
        })
    }
}
