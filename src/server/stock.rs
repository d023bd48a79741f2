//! The stock server: one multi-thread tokio runtime, hyper-util's builder serving HTTP/1.1
//! (keep-alive) or HTTP/2 (prior knowledge) by the first bytes of each connection, and
//! hyper-util's graceful shutdown.
//!
//! Its protections: hyper's header read timeout and head size limit for HTTP/1, a header
//! list limit and a stream limit for HTTP/2, and — since hyper's timeout only starts once
//! the protocol is known and HTTP/2 has none — a connection whose first request has not
//! arrived within [`HEADER_READ_TIMEOUT`] is closed; [`State::connections`] bounds the open
//! connections (further ones wait in the accept queue); on shutdown, accepting stops and
//! in-flight requests get [`SHUTDOWN_GRACE`] to finish.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use super::service::Service;
use super::{
    shutdown_signal, State, HEADER_READ_TIMEOUT, MAX_CONCURRENT_STREAMS, MAX_HEAD_BYTES,
    SHUTDOWN_GRACE,
};

/// The name of the runtime's worker threads.
pub const WORKER_THREADS: &str = "http-worker";

/// Serves `state` on `socket` with a multi-thread runtime until SIGINT or SIGTERM.
pub fn run(socket: std::net::TcpListener, state: Arc<State>) -> std::io::Result<()> {
    socket.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name(WORKER_THREADS)
        .enable_all()
        .build()?;
    let served = runtime.block_on(async move {
        let listener = TcpListener::from_std(socket)?;
        serve(listener, state, async {
            shutdown_signal().await;
            tracing::info!("shutting down: finishing requests in flight");
        })
        .await
    });
    // Work still running on blocking threads past the grace (a page being rendered for a
    // client that is gone) ends with the process, not before it.
    runtime.shutdown_background();
    served
}

/// Serves `state` on `listener` until `shutdown` resolves, then lets in-flight requests
/// finish, for at most [`SHUTDOWN_GRACE`].
pub async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .max_header_list_size(MAX_HEAD_BYTES as u32);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        // A permit first: past the bound, connections wait in the kernel's accept queue.
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = Arc::clone(&state.connections).acquire_owned() => match permit {
                Ok(permit) => permit,
                // The connection semaphore is closed: nothing more is served.
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = Service::new(Arc::clone(&state));
        let asked = service.clone();
        let conn = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            tokio::pin!(conn);
            match tokio::time::timeout(HEADER_READ_TIMEOUT, &mut conn).await {
                Ok(_) => {}
                Err(_) if !asked.asked() => {
                    tracing::debug!("closing a connection that sent no request in time");
                }
                Err(_) => {
                    let _ = conn.await;
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("shutdown: connections still open after {SHUTDOWN_GRACE:?}, closing");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use super::*;
    use crate::store::Store;

    const IO_TIMEOUT: Duration = Duration::from_secs(10);

    /// The stock server, in process, on a loopback port: its address, the runtime it runs on,
    /// the way to stop it and its task.
    fn start() -> (
        String,
        tokio::runtime::Runtime,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<std::io::Result<()>>,
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let state = Arc::new(State::new(Store::default(), 300, false));
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = rt.spawn(serve(listener, state, async {
            let _ = stop_rx.await;
        }));
        (addr, rt, stop_tx, server)
    }

    /// One HTTP/2 frame.
    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let mut f = u32::try_from(payload.len()).unwrap().to_be_bytes()[1..].to_vec();
        f.extend_from_slice(&[kind, flags]);
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    /// One port serves HTTP/1.1 and HTTP/2 with prior knowledge (hyper-util's auto builder
    /// tells them apart), and a connection that sends nothing does not hold the shutdown up.
    #[test]
    fn serves_http1_and_http2_on_one_port_and_stops() {
        let (addr, rt, stop_tx, server) = start();

        let mut h1 = TcpStream::connect(&addr).unwrap();
        h1.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        write!(h1, "GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut head = [0u8; 12];
        h1.read_exact(&mut head).unwrap();
        assert_eq!(&head, b"HTTP/1.1 404");

        // HTTP/2: the preface, empty SETTINGS, then a GET of `/` on stream 1 (HPACK: `:method
        // GET`, `:path /`, `:scheme http` from the static table).
        const HEADERS: u8 = 0x1;
        const SETTINGS: u8 = 0x4;
        let mut h2 = TcpStream::connect(&addr).unwrap();
        h2.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        out.extend(frame(SETTINGS, 0, 0, &[]));
        out.extend(frame(HEADERS, 0x1 | 0x4, 1, &[0x82, 0x84, 0x86]));
        h2.write_all(&out).unwrap();
        let status = loop {
            let mut head = [0u8; 9];
            h2.read_exact(&mut head).expect("an HTTP/2 frame");
            let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
            let mut payload = vec![0u8; len];
            h2.read_exact(&mut payload).unwrap();
            match head[3] {
                SETTINGS if head[4] & 0x1 == 0 => {
                    h2.write_all(&frame(SETTINGS, 0x1, 0, &[])).unwrap();
                }
                // `:status 404` is entry 13 of HPACK's static table.
                HEADERS => break payload[0],
                _ => {}
            }
        };
        assert_eq!(status, 0x80 | 13, "an HTTP/2 404");

        let _silent = TcpStream::connect(&addr).unwrap();
        drop((h1, h2));
        let _ = stop_tx.send(());
        let served = rt.block_on(async { tokio::time::timeout(IO_TIMEOUT, server).await });
        assert!(
            matches!(served, Ok(Ok(Ok(())))),
            "no clean stop: {served:?}"
        );
    }
}
