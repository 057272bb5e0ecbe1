//! SIGTERM/SIGINT/SIGHUP set a flag that the event loop checks; the handler
//! is installed without SA_RESTART so a blocked poll(2) wakes with EINTR.
//!
//! The simulator that started us is our parent: when it dies we must go
//! too, whatever killed it. The shell notices a new parent (we were
//! reparented) on its timer. A simulator that says so
//! (`KV_PARENT_DEATH_SIGNAL=1`, as run.py does) also gets us SIGTERM from
//! the kernel at once (PR_SET_PDEATHSIG on Linux). That signal comes when
//! the *thread* that started us ends, so it is not asked for unbidden: a
//! simulator that starts replicas from a short-lived thread would lose
//! them all.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);
/// The parent we started with (0: not watched).
static PARENT: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

pub fn install() -> std::io::Result<()> {
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction with a handler that only stores an atomic.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    // SAFETY: ignoring SIGPIPE; sends use MSG_NOSIGNAL anyway.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    Ok(())
}

pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Remembers the parent and, with `death_signal`, asks for SIGTERM when
/// it dies. Returns false if the parent is already gone (it died before
/// we looked, so no signal will come). Call after [`install`].
pub fn watch_parent(death_signal: bool) -> bool {
    // SAFETY: getppid(2) cannot fail.
    let parent = unsafe { libc::getppid() };
    PARENT.store(parent, Ordering::SeqCst);
    #[cfg(target_os = "linux")]
    if death_signal {
        // SAFETY: prctl(PR_SET_PDEATHSIG) only sets a flag of this process.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = death_signal;
    !parent_gone()
}

/// Whether the simulator asked for a parent-death signal.
pub fn death_signal_requested() -> bool {
    std::env::var(PARENT_DEATH_ENV).is_ok_and(|v| v == "1")
}

/// The environment variable by which a simulator asks for
/// [`watch_parent`]'s death signal.
pub const PARENT_DEATH_ENV: &str = "KV_PARENT_DEATH_SIGNAL";

/// Whether the parent seen by [`watch_parent`] is gone (we have another
/// parent now). One getppid(2): call it on a timer, not per packet.
pub fn parent_gone() -> bool {
    let parent = PARENT.load(Ordering::SeqCst);
    // SAFETY: getppid(2) cannot fail.
    parent != 0 && unsafe { libc::getppid() } != parent
}
