//! Waking a source blocked in `wait` from another thread (an eventfd), and
//! the one `poll(2)` both sources sleep in.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

/// Makes a blocked `wait` of a [`FileSource`](crate::FileSource) or
/// [`JournalSource`](crate::journal::JournalSource) return at once (for
/// shutdown or reconfiguration). Cheap to clone, usable from any thread.
#[derive(Debug, Clone)]
pub struct Waker {
    fd: Arc<OwnedFd>,
}

impl Waker {
    /// Makes the current or next `wait` return at once.
    pub fn wake(&self) {
        let one = 1u64;
        // SAFETY: writing 8 bytes to an eventfd we own.
        unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }
}

/// The eventfd behind a source's wakers, made on first use.
#[derive(Debug, Default)]
pub(crate) struct WakeSlot(Option<Arc<OwnedFd>>);

impl WakeSlot {
    pub(crate) fn waker(&mut self) -> io::Result<Waker> {
        if let Some(fd) = &self.0 {
            return Ok(Waker { fd: fd.clone() });
        }
        // SAFETY: eventfd returns a new descriptor or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor owned by nobody else.
        let fd = Arc::new(unsafe { OwnedFd::from_raw_fd(fd) });
        self.0 = Some(fd.clone());
        Ok(Waker { fd })
    }

    fn raw(&self) -> RawFd {
        self.0.as_ref().map_or(-1, |f| f.as_raw_fd())
    }

    /// Sleeps up to `nap` or until `fd` is readable or a waker fires.
    /// Returns (`fd` readable, woken). A negative `fd` is not watched.
    pub(crate) fn sleep(&self, fd: RawFd, nap: Duration) -> (bool, bool) {
        let mut fds = [
            libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: self.raw(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let ms = nap.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int;
        // SAFETY: two valid pollfd entries (negative fds are ignored by poll).
        let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
        if r <= 0 {
            return (false, false);
        }
        let woken = fds[1].revents & libc::POLLIN != 0;
        if woken {
            let mut v = 0u64;
            // SAFETY: reading 8 bytes from an eventfd into a u64.
            unsafe { libc::read(fds[1].fd, (&mut v as *mut u64).cast(), 8) };
        }
        (fds[0].revents & libc::POLLIN != 0, woken)
    }
}
