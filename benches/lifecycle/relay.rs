//! The delay relay: an emulated wide-area link for SSH, used as its `ProxyCommand`.
//!
//! `lifecycle relay HOST PORT DELAY_MS` connects to `HOST:PORT` and copies bytes both ways
//! between its stdin/stdout (the ssh client) and the TCP connection (the sshd), holding each
//! chunk for `DELAY_MS` after it arrived: 25 ms each way makes a 50 ms round trip. Delivery is
//! pipelined (a reader thread stamps each chunk on arrival, a writer thread releases it at
//! arrival + delay), so the delay adds latency without capping bandwidth. The kernel here has
//! no `netem`, hence this.
//!
//! Bounds: only addresses of the test bed (loopback, or an address the test bed's env file
//! names) are reached; at most [`MAX_CHUNKS_IN_FLIGHT`] chunks of [`CHUNK`] bytes wait per
//! direction (the reader blocks beyond that); the relay ends when the ssh client closes its
//! side and the server has closed too, when either side fails, or after [`MAX_LIFETIME`].

use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread;
use std::time::{Duration, Instant};

/// Largest chunk read at once.
const CHUNK: usize = 64 * 1024;
/// Chunks that may wait per direction (4 MiB of chunks at most CHUNK bytes).
const MAX_CHUNKS_IN_FLIGHT: usize = 64;
/// The relay exits after this long whatever happens (the bench never runs that long).
const MAX_LIFETIME: Duration = Duration::from_secs(4 * 3600);
/// Longest delay accepted.
const MAX_DELAY_MS: u64 = 1000;

type Chunk = (Instant, Vec<u8>);

/// Runs the relay for `args` (`HOST PORT DELAY_MS`); returns the process exit code.
pub fn main(args: &[String], allowed: &[IpAddr]) -> i32 {
    let [host, port, delay] = args else {
        eprintln!("usage: lifecycle relay HOST PORT DELAY_MS");
        return 2;
    };
    let Ok(ip) = host.parse::<IpAddr>() else {
        eprintln!("relay: {host:?} is not an IP address (the test bed's ssh_config gives them)");
        return 2;
    };
    if !(ip.is_loopback() || allowed.contains(&ip)) {
        eprintln!("relay: {ip} is not an address of the test bed; refusing");
        return 2;
    }
    let (Ok(port), Ok(delay_ms)) = (port.parse::<u16>(), delay.parse::<u64>()) else {
        eprintln!("relay: bad port {port:?} or delay {delay:?}");
        return 2;
    };
    if delay_ms > MAX_DELAY_MS {
        eprintln!("relay: delay {delay_ms} ms is above {MAX_DELAY_MS} ms");
        return 2;
    }
    let delay = Duration::from_millis(delay_ms);
    let tcp = match TcpStream::connect_timeout(&SocketAddr::new(ip, port), Duration::from_secs(5)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("relay: connecting to {ip}:{port}: {e}");
            return 1;
        }
    };
    let _ = tcp.set_nodelay(true);
    let (Ok(tcp_read), Ok(tcp_write)) = (tcp.try_clone(), tcp.try_clone()) else {
        eprintln!("relay: cannot clone the socket");
        return 1;
    };
    let (Ok(stdin), Ok(stdout)) = (
        std::io::stdin().as_fd().try_clone_to_owned(),
        std::io::stdout().as_fd().try_clone_to_owned(),
    ) else {
        eprintln!("relay: cannot take stdin/stdout");
        return 1;
    };
    let stdin = std::fs::File::from(stdin);
    let stdout = std::fs::File::from(stdout);

    thread::spawn(|| {
        thread::sleep(MAX_LIFETIME);
        std::process::exit(3);
    });
    // Client -> server: at the client's EOF, half-close towards the server.
    let (up_tx, up_rx) = sync_channel(MAX_CHUNKS_IN_FLIGHT);
    thread::spawn(move || reader(stdin, up_tx));
    let up = thread::spawn(move || {
        let mut tcp_write = tcp_write;
        let ok = writer(up_rx, &mut tcp_write, delay);
        let _ = tcp_write.shutdown(Shutdown::Write);
        ok
    });
    // Server -> client: the relay's life ends with the server's side.
    let (down_tx, down_rx) = sync_channel(MAX_CHUNKS_IN_FLIGHT);
    thread::spawn(move || reader(tcp_read, down_tx));
    let mut stdout = stdout;
    let down_ok = writer(down_rx, &mut stdout, delay);
    drop(stdout);
    if !down_ok {
        return 1;
    }
    // The server closed; the client side has nothing left to say either (or never will).
    let _ = tcp.shutdown(Shutdown::Both);
    let _ = up.join();
    0
}

/// Reads chunks from `input` and stamps them with their arrival time, until EOF or an error.
fn reader(mut input: impl Read, tx: SyncSender<Chunk>) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        match input.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                    return;
                }
            }
        }
    }
}

/// Writes each chunk at its arrival time + `delay`. Returns false when writing failed.
fn writer(rx: Receiver<Chunk>, output: &mut impl Write, delay: Duration) -> bool {
    for (arrived, bytes) in rx {
        let due = arrived + delay;
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        }
        if output
            .write_all(&bytes)
            .and_then(|()| output.flush())
            .is_err()
        {
            return false;
        }
    }
    true
}
