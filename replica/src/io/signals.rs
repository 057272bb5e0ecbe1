//! SIGTERM/SIGINT/SIGHUP set a flag that the event loop checks; the handler
//! is installed without SA_RESTART so a blocked poll(2) wakes with EINTR.
//!
//! The simulator that started us is our parent: when it dies we must go
//! too, whatever killed it. On Linux the kernel sends us SIGTERM then
//! (PR_SET_PDEATHSIG); everywhere, the shell also notices a new parent
//! (we were reparented) on its timer.

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

/// Asks for SIGTERM when our parent dies and remembers the parent. Returns
/// false if the parent is already gone (it died before the request could
/// take effect, so no signal will come). Call after [`install`].
pub fn watch_parent() -> bool {
    // SAFETY: getppid(2) cannot fail.
    let parent = unsafe { libc::getppid() };
    PARENT.store(parent, Ordering::SeqCst);
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_PDEATHSIG) only sets a flag of this process.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
    }
    !parent_gone()
}

/// Whether the parent seen by [`watch_parent`] is gone (we have another
/// parent now). One getppid(2): call it on a timer, not per packet.
pub fn parent_gone() -> bool {
    let parent = PARENT.load(Ordering::SeqCst);
    // SAFETY: getppid(2) cannot fail.
    parent != 0 && unsafe { libc::getppid() } != parent
}
