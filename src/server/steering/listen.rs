//! The listening sockets: one per event loop where the system allows it, so that the
//! connections arriving on one CPU are all accepted by the same loop.
//!
//! On Linux the sockets form one `SO_REUSEPORT` group, and a classic BPF program attached to
//! the group picks the socket from the CPU that handled the connection's first packet
//! (`SKF_AD_CPU`): the client's own CPU over loopback (a reverse proxy or a poller on the
//! same machine), the receive queue's CPU behind a network card. The loops are not pinned;
//! a loop whose clients are all on one CPU is woken from that CPU, and the scheduler then
//! tends to keep the client thread and the loop together, switching between them per
//! request the way it does between two ends of a pipe. Before, each loop served clients on
//! every CPU, ran a whole time slice while the other CPU's client waited for it, and the tail
//! latency was the scheduler's (`bench/sched_probe.py` shows both patterns). With
//! `wrk -t2 -c64` on two cores, when its two threads open their connections from different
//! CPUs, gzip responses went from about 135k req/s at a 5–6 ms p99 to 165–195k req/s at
//! 0.6–1.0 ms.
//!
//! A client can open every connection from one CPU and then spread its threads out (wrk
//! does, about half the time); [`super::connection`] then moves each connection, between two
//! requests, to the loop running on its client's CPU.
//!
//! Where the group cannot be made (not Linux, `SO_REUSEPORT` refused) every loop shares one
//! socket, as before; where the program cannot be attached, the kernel spreads connections
//! over the group by a hash of their addresses. Either way [`super::loops::Loops`] hands a loop's
//! surplus to the others, so a client whose connections all arrive on one CPU is still
//! served by every loop.

use std::io;
use std::net::{SocketAddr, TcpListener};

/// Connections waiting to be accepted, per socket.
const BACKLOG: i32 = 1024;

/// Binds `addr` for `loops` event loops: one listening socket per loop (see the module
/// documentation). An address already in use is an error, as for a single socket: a second
/// server on the same port must not silently take half of the first one's clients.
pub fn bind(addr: SocketAddr, loops: usize) -> io::Result<Vec<TcpListener>> {
    if loops <= 1 {
        return Ok(vec![TcpListener::bind(addr)?]);
    }
    per_loop(addr, loops)
}

/// The group (see [`bind`]), or one shared socket if it cannot be made.
#[cfg(target_os = "linux")]
fn per_loop(addr: SocketAddr, loops: usize) -> io::Result<Vec<TcpListener>> {
    let addr = if addr.port() == 0 {
        // The kernel picks a port nothing uses, never one of an existing group's.
        addr
    } else {
        // A plain bind first: it fails if anything listens on the port, with or without
        // SO_REUSEPORT. Nothing can join it, so it is closed and the group bound right
        // after; in between (microseconds), another server of the same user starting with
        // SO_REUSEPORT on this port could still slip in, as it could with nginx's `reuseport`.
        TcpListener::bind(addr)?.local_addr()?
    };
    match group(addr, loops) {
        Ok(sockets) => Ok(sockets),
        Err(e) => {
            tracing::debug!("one listening socket for all event loops: {e}");
            shared(TcpListener::bind(addr)?, loops)
        }
    }
}

/// Without `SO_REUSEPORT` groups: one shared socket.
#[cfg(not(target_os = "linux"))]
fn per_loop(addr: SocketAddr, loops: usize) -> io::Result<Vec<TcpListener>> {
    shared(TcpListener::bind(addr)?, loops)
}

/// One socket that every loop waits on.
fn shared(socket: TcpListener, loops: usize) -> io::Result<Vec<TcpListener>> {
    let mut sockets = Vec::with_capacity(loops);
    for _ in 1..loops {
        sockets.push(socket.try_clone()?);
    }
    sockets.push(socket);
    Ok(sockets)
}

/// `loops` sockets in one `SO_REUSEPORT` group on `addr`, steered by CPU when the program
/// attaches (else the kernel's hash spreads the connections).
#[cfg(target_os = "linux")]
fn group(addr: SocketAddr, loops: usize) -> io::Result<Vec<TcpListener>> {
    let first = member(addr)?;
    let port = first.local_addr()?;
    let mut sockets = vec![first];
    for _ in 1..loops {
        sockets.push(member(port)?);
    }
    let cpus = allowed_cpus();
    match by_cpu(&cpus, sockets.len()) {
        Some(program) => {
            if let Err(e) = attach(&sockets[0], &program) {
                tracing::debug!("connections spread by hash, not by CPU: {e}");
            }
        }
        None => tracing::debug!("connections spread by hash: {} CPUs", cpus.len()),
    }
    Ok(sockets)
}

/// A listening socket that can share `addr` with the rest of its group.
#[cfg(target_os = "linux")]
fn member(addr: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// The CPUs this process may run on, in order.
#[cfg(target_os = "linux")]
pub fn allowed_cpus() -> Vec<u32> {
    // SAFETY: `set` is a plain bit set that sched_getaffinity fills in; its size is passed.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let got = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    if got != 0 {
        return Vec::new();
    }
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below CPU_SETSIZE, the size of the set.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .filter_map(|cpu| u32::try_from(cpu).ok())
        .collect()
}

/// Longest classic BPF program the kernel takes (`BPF_MAXINSNS`).
#[cfg(target_os = "linux")]
const MAX_INSTRUCTIONS: usize = 4096;

/// The classic BPF program that sends a connection to socket `i % sockets` of the group when
/// its first packet was handled by `cpus[i]`, and leaves any other CPU to the kernel's hash
/// (an index past the group does that). `None` when there is nothing to steer (fewer than two
/// CPUs or sockets) or the program would be too long.
#[cfg(target_os = "linux")]
fn by_cpu(cpus: &[u32], sockets: usize) -> Option<Vec<libc::sock_filter>> {
    if cpus.len() < 2 || sockets < 2 || 2 * cpus.len() + 2 > MAX_INSTRUCTIONS {
        return None;
    }
    let op = |code: u32, jt: u8, jf: u8, k: u32| libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    };
    let mut program = Vec::with_capacity(2 * cpus.len() + 2);
    // A = the CPU that handled the packet.
    program.push(op(
        libc::BPF_LD | libc::BPF_W | libc::BPF_ABS,
        0,
        0,
        (libc::SKF_AD_OFF + libc::SKF_AD_CPU) as u32,
    ));
    for (i, &cpu) in cpus.iter().enumerate() {
        // if A == cpu: return i % sockets; else skip that return.
        program.push(op(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, 0, 1, cpu));
        program.push(op(libc::BPF_RET | libc::BPF_K, 0, 0, (i % sockets) as u32));
    }
    program.push(op(libc::BPF_RET | libc::BPF_K, 0, 0, u32::MAX));
    Some(program)
}

/// How other loops see a loop's listening socket ([`waiting`]).
#[cfg(unix)]
pub type Fd = std::os::fd::RawFd;
/// How other loops see a loop's listening socket ([`waiting`]).
#[cfg(not(unix))]
pub type Fd = ();

/// `socket`'s [`Fd`].
#[cfg(unix)]
pub fn fd_of(socket: &impl std::os::fd::AsRawFd) -> Fd {
    socket.as_raw_fd()
}

/// `socket`'s [`Fd`].
#[cfg(not(unix))]
pub fn fd_of<S>(_socket: &S) -> Fd {}

/// The option `name` at `level` of the open socket `fd`, read into a copy of `empty`.
#[cfg(target_os = "linux")]
fn socket_option<T: Copy>(fd: Fd, level: libc::c_int, name: libc::c_int, empty: T) -> Option<T> {
    let mut value = empty;
    let mut len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` is plain data of `len` bytes, which getsockopt fills in at most.
    let got = unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
            std::ptr::from_mut(&mut value).cast(),
            &mut len,
        )
    };
    (got == 0).then_some(value)
}

/// The CPU the calling thread runs on, if the system tells.
pub fn current_cpu() -> Option<u32> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: no arguments; -1 on failure.
        let cpu = unsafe { libc::sched_getcpu() };
        u32::try_from(cpu).ok()
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// The CPU that handled the last packet that arrived on the connected socket `fd`
/// (`SO_INCOMING_CPU`: over loopback, the client's), if the system tells. `fd` must be open.
pub fn incoming_cpu(fd: Fd) -> Option<u32> {
    #[cfg(target_os = "linux")]
    return socket_option(
        fd,
        libc::SOL_SOCKET,
        libc::SO_INCOMING_CPU,
        -1 as libc::c_int,
    )
    .and_then(|cpu| u32::try_from(cpu).ok());
    #[cfg(not(target_os = "linux"))]
    {
        let _ = fd;
        None
    }
}

/// Connections waiting in the accept queue of the listening socket `fd` (0 where the system
/// does not tell). `fd` must be open: the caller holds the lock its loop leaves under.
pub fn waiting(fd: Fd) -> usize {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: tcp_info is plain data; all zeroes is a valid value.
        let empty: libc::tcp_info = unsafe { std::mem::zeroed() };
        // For a listening socket the kernel reports its accept queue in `tcpi_unacked`.
        // TCP_LISTEN in the kernel's `enum tcp_state` (include/net/tcp_states.h).
        const LISTEN: u8 = 10;
        if let Some(info) = socket_option(fd, libc::IPPROTO_TCP, libc::TCP_INFO, empty) {
            if info.tcpi_state == LISTEN {
                return info.tcpi_unacked as usize;
            }
        }
    }
    let _ = fd;
    0
}

/// Attaches `program` to the `SO_REUSEPORT` group of `socket`.
#[cfg(target_os = "linux")]
fn attach(socket: &TcpListener, program: &[libc::sock_filter]) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let len = u16::try_from(program.len()).map_err(io::Error::other)?;
    let fprog = libc::sock_fprog {
        len,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: `fprog` points at `program`, which outlives the call; the kernel copies it.
    let set = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_REUSEPORT_CBPF,
            std::ptr::from_ref(&fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if set == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(all(test, target_os = "linux"))]
pub(super) mod tests {
    use super::*;

    /// Runs the calling thread on `cpus` only.
    pub(crate) fn pin(cpus: &[u32]) {
        // SAFETY: a zeroed cpu_set_t is empty; CPU_SET stays within it for ids below
        // CPU_SETSIZE, which `allowed_cpus` guarantees.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            for &cpu in cpus {
                libc::CPU_SET(cpu as usize, &mut set);
            }
            assert_eq!(
                libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set),
                0
            );
        }
    }

    #[test]
    fn each_loop_gets_a_socket_on_one_port_and_a_taken_port_is_refused() {
        let sockets = bind("127.0.0.1:0".parse().unwrap(), 3).unwrap();
        assert_eq!(sockets.len(), 3);
        let addr = sockets[0].local_addr().unwrap();
        assert_ne!(addr.port(), 0);
        for s in &sockets {
            assert_eq!(s.local_addr().unwrap(), addr);
        }
        // Another server on the same port fails, as it would against a single socket,
        // instead of joining the group and taking some of the connections.
        let again = bind(addr, 2).expect_err("the port is taken");
        assert_eq!(again.kind(), io::ErrorKind::AddrInUse);
        let plain = TcpListener::bind("127.0.0.1:0").unwrap();
        let taken = bind(plain.local_addr().unwrap(), 2).expect_err("taken by a plain socket");
        assert_eq!(taken.kind(), io::ErrorKind::AddrInUse);
        assert_eq!(bind("127.0.0.1:0".parse().unwrap(), 1).unwrap().len(), 1);
    }

    #[test]
    fn a_connection_goes_to_the_socket_of_the_cpu_it_comes_from() {
        let cpus = allowed_cpus();
        if cpus.len() < 2 {
            eprintln!("skipped: steering by CPU needs two CPUs, this process has {cpus:?}");
            return;
        }
        for loops in [2, 3] {
            let sockets = bind("127.0.0.1:0".parse().unwrap(), loops).unwrap();
            for s in &sockets {
                s.set_nonblocking(true).unwrap();
            }
            let addr = sockets[0].local_addr().unwrap();
            for round in 0..3 {
                for (i, &cpu) in cpus.iter().enumerate() {
                    // Over loopback the client's CPU handles the handshake.
                    pin(&[cpu]);
                    let _client = std::net::TcpStream::connect(addr).unwrap();
                    pin(&cpus);
                    // Whichever socket has it, once the handshake is done (at once, unless
                    // the kernel left its last step to the softirq thread).
                    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
                    let took = loop {
                        let took: Vec<usize> = (0..loops)
                            .filter(|&k| sockets[k].accept().is_ok())
                            .collect();
                        if !took.is_empty() || std::time::Instant::now() > deadline {
                            break took;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(5));
                    };
                    assert_eq!(
                        took,
                        vec![i % loops],
                        "round {round}: a connection from CPU {cpu} of {cpus:?}, {loops} loops"
                    );
                }
            }
        }
    }

    #[test]
    fn the_program_maps_each_allowed_cpu_and_leaves_others_to_the_hash() {
        assert!(by_cpu(&[0], 2).is_none(), "one CPU: nothing to steer");
        assert!(by_cpu(&[0, 1], 1).is_none(), "one socket: nothing to steer");
        let program = by_cpu(&[1, 4, 6], 2).unwrap();
        // Runs the program the way the kernel would, for a packet handled by `cpu`.
        let run = |cpu: u32| -> u32 {
            let (mut pc, mut a) = (0usize, 0u32);
            loop {
                let op = program[pc];
                match u32::from(op.code) {
                    c if c == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS => a = cpu,
                    c if c == libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K => {
                        pc += usize::from(if a == op.k { op.jt } else { op.jf });
                    }
                    c if c == libc::BPF_RET | libc::BPF_K => return op.k,
                    other => panic!("unexpected instruction {other:#x}"),
                }
                pc += 1;
            }
        };
        assert_eq!([run(1), run(4), run(6)], [0, 1, 0]);
        assert_eq!(
            run(0),
            u32::MAX,
            "a CPU outside the set: past the group, so hashed"
        );
        assert_eq!(run(5), u32::MAX);
    }
}
