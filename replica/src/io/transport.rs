//! The two ways the simulator talks to a replica, behind one small trait:
//! a connected AF_UNIX SOCK_SEQPACKET socket (classic generation) or a
//! connected UDP socket on localhost (second generation). Both are
//! non-blocking; the shell polls the descriptor.

use std::ffi::CString;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// The result of one non-blocking read.
#[derive(Debug)]
pub enum Recv {
    Packet(usize),
    Empty,
    /// The simulator is gone: time to exit.
    Closed(String),
}

/// The result of one non-blocking write.
#[derive(Debug)]
pub enum Sent {
    Sent,
    WouldBlock,
    Closed(String),
}

pub trait Transport {
    fn fd(&self) -> RawFd;
    fn recv(&mut self, buf: &mut [u8]) -> Recv;
    fn send(&mut self, packet: &[u8]) -> Sent;
    fn name(&self) -> &'static str;
    /// The simulator is evidently gone even though nothing closed.
    fn peer_gone(&self) -> bool {
        false
    }
}

fn last_errno() -> io::Error {
    io::Error::last_os_error()
}

fn raw_recv(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: buf is valid for writes of buf.len() bytes.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
    if n < 0 {
        Err(last_errno())
    } else {
        Ok(n as usize)
    }
}

fn raw_send(fd: RawFd, packet: &[u8]) -> io::Result<usize> {
    // MSG_NOSIGNAL: a closed peer is an error to handle, not a SIGPIPE.
    let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
    // SAFETY: packet is valid for reads of packet.len() bytes.
    let n = unsafe { libc::send(fd, packet.as_ptr().cast(), packet.len(), flags) };
    if n < 0 {
        Err(last_errno())
    } else {
        Ok(n as usize)
    }
}

fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    ) || e.raw_os_error() == Some(libc::ENOBUFS)
}

/// Classic generation: one SEQPACKET connection to the socket named by our id.
pub struct SeqPacket {
    fd: OwnedFd,
}

impl SeqPacket {
    pub fn connect(path: &Path) -> io::Result<SeqPacket> {
        let bytes = path.as_os_str().as_bytes();
        // SAFETY: sockaddr_un is plain old data; zeroed is a valid value.
        let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        if bytes.len() >= addr.sun_path.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "socket path too long",
            ));
        }
        CString::new(bytes)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))?;
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (dst, src) in addr.sun_path.iter_mut().zip(bytes) {
            *dst = *src as libc::c_char;
        }
        // SAFETY: plain socket(2) call; the result is checked.
        let raw =
            unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(last_errno());
        }
        // SAFETY: raw is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
        // SAFETY: addr is a valid sockaddr_un of size len. Connecting while
        // still blocking: the simulator is already listening.
        let rc = unsafe { libc::connect(raw, (&addr as *const libc::sockaddr_un).cast(), len) };
        if rc < 0 {
            return Err(last_errno());
        }
        set_nonblocking(raw)?;
        Ok(SeqPacket { fd })
    }
}

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(last_errno());
        }
    }
    Ok(())
}

impl Transport for SeqPacket {
    fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn recv(&mut self, buf: &mut [u8]) -> Recv {
        match raw_recv(self.fd(), buf) {
            // A zero-length read on a stream-like connection is the peer closing.
            Ok(0) => Recv::Closed("the simulator closed the connection".into()),
            Ok(n) => Recv::Packet(n),
            Err(e) if would_block(&e) => Recv::Empty,
            Err(e) => Recv::Closed(format!("read failed: {e}")),
        }
    }

    fn send(&mut self, packet: &[u8]) -> Sent {
        match raw_send(self.fd(), packet) {
            Ok(_) => Sent::Sent,
            Err(e) if would_block(&e) => Sent::WouldBlock,
            Err(e) => Sent::Closed(format!("write failed: {e}")),
        }
    }

    fn name(&self) -> &'static str {
        "classic"
    }
}

/// How long the simulator's port must keep refusing (ICMP port
/// unreachable, with no packet from it in between) before the simulator is
/// taken to be gone: it never closes the port while a run lasts.
const REFUSED_FOR: Duration = Duration::from_secs(1);
/// And at least this many refusals, so that one stray error is not enough.
const REFUSALS_BEFORE_GIVING_UP: u64 = 2;

/// Second generation: a UDP socket connected to the simulator's port, so
/// that it hears from nobody else.
pub struct Udp {
    sock: UdpSocket,
    /// Refusals since the last packet received.
    pub refused_in_a_row: u64,
    /// When the first of them came (read from the clock only on a refusal).
    refused_since: Option<Instant>,
}

impl Udp {
    pub fn connect(port: u16) -> io::Result<Udp> {
        let sock = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))?;
        sock.connect(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))?;
        sock.set_nonblocking(true)?;
        Ok(Udp {
            sock,
            refused_in_a_row: 0,
            refused_since: None,
        })
    }

    fn refused(&mut self) {
        self.refused_in_a_row += 1;
        if self.refused_since.is_none() {
            self.refused_since = Some(Instant::now());
        }
    }
}

impl Transport for Udp {
    fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    fn recv(&mut self, buf: &mut [u8]) -> Recv {
        match raw_recv(self.fd(), buf) {
            Ok(n) => {
                if self.refused_in_a_row != 0 {
                    self.refused_in_a_row = 0;
                    self.refused_since = None;
                }
                Recv::Packet(n)
            }
            Err(e) if would_block(&e) => Recv::Empty,
            // The simulator's port is not open (yet, or any more): no packet.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                self.refused();
                Recv::Empty
            }
            Err(e) => Recv::Closed(format!("read failed: {e}")),
        }
    }

    fn send(&mut self, packet: &[u8]) -> Sent {
        match raw_send(self.fd(), packet) {
            Ok(_) => Sent::Sent,
            Err(e) if would_block(&e) => Sent::WouldBlock,
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                self.refused();
                Sent::Sent
            }
            Err(e) => Sent::Closed(format!("write failed: {e}")),
        }
    }

    fn name(&self) -> &'static str {
        "udp"
    }

    fn peer_gone(&self) -> bool {
        // No clock read unless something was refused.
        self.refused_in_a_row >= REFUSALS_BEFORE_GIVING_UP
            && self
                .refused_since
                .is_some_and(|t| t.elapsed() >= REFUSED_FOR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread::sleep;

    /// Sends until the closed port's refusals have been counted `n` times.
    fn refusals(t: &mut Udp, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while t.refused_in_a_row < n {
            assert!(Instant::now() < deadline, "no refusal counted");
            assert!(matches!(t.send(b"{}"), Sent::Sent));
            sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_port_refusing_for_a_second_is_a_gone_simulator_and_a_packet_resets_it() {
        let sim = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = sim.local_addr().unwrap().port();
        let mut t = Udp::connect(port).unwrap();
        assert!(matches!(t.send(b"{}"), Sent::Sent));
        assert!(!t.peer_gone());
        drop(sim);
        refusals(&mut t, 3);
        // Refused, but not for long enough yet.
        assert!(!t.peer_gone());
        sleep(REFUSED_FOR);
        let more = t.refused_in_a_row + 1;
        refusals(&mut t, more);
        assert!(t.peer_gone());

        // A simulator that answers again (its port reopened) is not gone.
        let again = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).unwrap();
        let mine = t.sock.local_addr().unwrap();
        again.send_to(b"{}", mine).unwrap();
        let mut buf = [0u8; 16];
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match t.recv(&mut buf) {
                Recv::Packet(_) => break,
                Recv::Empty => assert!(Instant::now() < deadline, "no packet"),
                Recv::Closed(e) => panic!("{e}"),
            }
            sleep(Duration::from_millis(5));
        }
        assert_eq!(t.refused_in_a_row, 0);
        assert!(!t.peer_gone());
    }
}
