//! The client side of a four-letter word: connect, send the 4 bytes, read the reply until the
//! server closes (as `nc` and ZooKeeper's `FourLetterWordMain` do). Blocking std I/O with every
//! step bounded by one overall deadline, and the reply capped in size.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Largest reply accepted; `dump`, `cons` and `wchp` of a busy server can be large, but not this.
const REPLY_SIZE_MAX: usize = 64 * 1024 * 1024;

/// Sends `word` to `server` (`host:port`) and returns the reply. `timeout` bounds the whole
/// exchange (name lookup excepted). A word is 4 bytes; anything else is rejected.
pub fn send_four_letter_word(server: &str, word: &str, timeout: Duration) -> io::Result<String> {
    if word.len() != 4 {
        let message = format!("'{word}' is not a four-letter word");
        return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
    }
    if timeout.is_zero() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "timeout must be positive",
        ));
    }
    let deadline = Instant::now() + timeout;
    let addresses: Vec<SocketAddr> = server.to_socket_addrs()?.collect();
    let mut stream = connect_any(server, &addresses, deadline)?;
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(remaining(deadline)?))?;
    stream.write_all(word.as_bytes())?;
    let mut reply = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        stream.set_read_timeout(Some(remaining(deadline)?))?;
        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            // A reset after the reply (the server closes with unread bytes) still leaves a reply.
            Err(error) if error.kind() == io::ErrorKind::ConnectionReset && !reply.is_empty() => 0,
            Err(error) => return Err(error),
        };
        if n == 0 {
            break;
        }
        if reply.len() + n > REPLY_SIZE_MAX {
            let message = format!("reply from {server} exceeds {REPLY_SIZE_MAX} bytes");
            return Err(io::Error::new(io::ErrorKind::InvalidData, message));
        }
        reply.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

fn remaining(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "four-letter word timed out",
        ));
    }
    Ok(left)
}

/// Connects to the first address that accepts before the deadline.
fn connect_any(server: &str, addresses: &[SocketAddr], deadline: Instant) -> io::Result<TcpStream> {
    let mut last_error = None;
    for address in addresses {
        match TcpStream::connect_timeout(address, remaining(deadline)?) {
            Ok(stream) => return Ok(stream),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{server}: no address found"),
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn reads_the_reply_until_the_server_closes() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("addr").to_string();
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().expect("accept");
            let mut word = [0u8; 4];
            socket.read_exact(&mut word).expect("word");
            assert_eq!(&word, b"ruok");
            socket.write_all(b"imok").expect("reply");
        });
        let reply = send_four_letter_word(&address, "ruok", Duration::from_secs(5)).expect("reply");
        assert_eq!(reply, "imok");
        server.join().expect("server thread");
    }

    #[test]
    fn rejects_words_that_are_not_four_bytes() {
        let err = send_four_letter_word("127.0.0.1:1", "ruokay", Duration::from_secs(1))
            .expect_err("bad word");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn times_out_when_the_server_never_answers() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("addr").to_string();
        let err = send_four_letter_word(&address, "ruok", Duration::from_millis(200))
            .expect_err("timeout");
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ),
            "{err}"
        );
        drop(listener);
    }
}
