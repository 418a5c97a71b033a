//! A latency-adding relay: `caplet-bench relay --listen A --to B --delay-us D`
//! accepts Unix-socket connections on `A`, connects each to `B`, and
//! forwards every byte both ways, each chunk held back `D` µs after it was
//! read (a one-way link delay; a round trip costs `2 × D`). It runs as its
//! own process, so that the bench reads its CPU time apart from the client's
//! and the broker's.
//!
//! Each direction of each connection is two threads: one reads and stamps
//! the chunks, one writes each when its time has come. Blocking sleeps with
//! a 1 µs timer slack keep the delay within tens of µs of `D`; a tokio
//! timer would round it up to the millisecond.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The relay's options.
#[derive(Debug, clap::Parser)]
#[command(name = "caplet-bench relay")]
pub struct Args {
    /// The Unix socket to listen on.
    #[arg(long)]
    pub listen: PathBuf,
    /// The Unix socket each accepted connection is relayed to.
    #[arg(long)]
    pub to: PathBuf,
    /// The one-way delay added to every chunk, in microseconds.
    #[arg(long, default_value_t = 1000)]
    pub delay_us: u64,
}

/// Runs the relay until it is killed; prints `READY` once it listens.
pub fn main(args: Args) -> anyhow::Result<()> {
    // SAFETY: prctl(PR_SET_TIMERSLACK) takes an integer; it affects only
    // this process's sleeps.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
    let listener = UnixListener::bind(&args.listen)?;
    let delay = Duration::from_micros(args.delay_us);
    println!("READY {}", args.listen.display());
    for client in listener.incoming() {
        let client = client?;
        let broker = UnixStream::connect(&args.to)?;
        pipe(client.try_clone()?, broker.try_clone()?, delay);
        pipe(broker, client, delay);
    }
    Ok(())
}

/// Forwards `from` to `to`, each chunk `delay` after it was read; at end of
/// input, shuts down `to`'s writing side.
fn pipe(mut from: UnixStream, mut to: UnixStream, delay: Duration) {
    let (chunks, due) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if chunks
                        .send((Instant::now() + delay, buf[..n].to_vec()))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    });
    std::thread::spawn(move || {
        for (at, chunk) in due {
            let now = Instant::now();
            if at > now {
                std::thread::sleep(at - now);
            }
            if to.write_all(&chunk).is_err() {
                return;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes cross the relay unchanged, each way no sooner than the delay.
    #[test]
    fn delays_each_direction() {
        let delay = Duration::from_millis(20);
        let (mut client, client_side) = UnixStream::pair().unwrap();
        let (broker_side, mut broker) = UnixStream::pair().unwrap();
        pipe(
            client_side.try_clone().unwrap(),
            broker_side.try_clone().unwrap(),
            delay,
        );
        pipe(broker_side, client_side, delay);

        let start = Instant::now();
        client.write_all(b"ping").unwrap();
        let mut got = [0u8; 4];
        broker.read_exact(&mut got).unwrap();
        assert!(start.elapsed() >= delay, "{:?}", start.elapsed());
        assert_eq!(&got, b"ping");

        let start = Instant::now();
        broker.write_all(b"pong").unwrap();
        client.read_exact(&mut got).unwrap();
        assert!(start.elapsed() >= delay, "{:?}", start.elapsed());
        assert_eq!(&got, b"pong");

        // End of input on one side reaches the other.
        drop(client);
        assert_eq!(broker.read(&mut got).unwrap(), 0);
    }
}
