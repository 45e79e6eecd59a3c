//! One TCP connection to the peer: a reader task that cuts the byte stream
//! into BGP messages, and the write half the driver sends on.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::fsm::{ConnectionId, HoldTime};
use crate::transport::canonical_ip;
use crate::wire::{self, Codec, DecodeError, take_frame};

/// What connections report to the driver.
#[derive(Debug)]
pub(super) enum Input {
    /// An outbound connection attempt finished.
    Connected {
        conn: ConnectionId,
        result: io::Result<TcpStream>,
    },
    /// A whole message arrived.
    Frame { conn: ConnectionId, frame: Bytes },
    /// The byte stream is not BGP: the header is broken.
    BadFrame {
        conn: ConnectionId,
        error: DecodeError,
    },
    /// The peer closed the connection, or it failed.
    Closed {
        conn: ConnectionId,
        error: Option<io::Error>,
    },
}

/// A live connection.
pub(super) struct Connection {
    writer: OwnedWriteHalf,
    reader: JoinHandle<()>,
    /// Our end of the connection.
    pub local: SocketAddr,
    /// Codecs negotiated once the peer's OPEN arrived on this connection.
    pub negotiated: Option<wire::Negotiated>,
    /// How long a write may wait without the peer taking a single byte.
    stall_limit: Option<Duration>,
}

impl Connection {
    /// Starts reading `stream`; messages arrive on `inputs`.
    pub fn start(
        conn: ConnectionId,
        stream: TcpStream,
        inputs: mpsc::Sender<Input>,
    ) -> io::Result<Connection> {
        // On a dual-stack listener an IPv4 peer's connection is an IPv6
        // socket whose addresses are IPv4-mapped: the session's IPv4 next
        // hop is the IPv4 address inside.
        let local = stream.local_addr()?;
        let local = SocketAddr::new(canonical_ip(local.ip()), local.port());
        let (reader, writer) = stream.into_split();
        let reader = tokio::spawn(read_frames(conn, reader, inputs));
        Ok(Connection {
            writer,
            reader,
            local,
            negotiated: None,
            stall_limit: HoldTime::OPEN_SENT.duration(),
        })
    }

    /// The codec for messages from the peer: the negotiated one once OPENs
    /// are exchanged; before that only OPEN, KEEPALIVE and NOTIFICATION
    /// are valid, and they do not depend on it.
    pub fn receive_codec(&self) -> Codec {
        self.negotiated
            .as_ref()
            .map(|n| n.receive)
            .unwrap_or_default()
    }

    /// The codec for messages to the peer.
    pub fn send_codec(&self) -> Codec {
        self.negotiated.as_ref().map(|n| n.send).unwrap_or_default()
    }

    /// Sets how long a write may wait without progress: the session's
    /// negotiated hold time once it is up (`None` when the hold time is
    /// disabled: TCP's own timeout then). Before that, the 240 s the FSM
    /// gives a peer to answer our OPEN.
    pub fn set_stall_limit(&mut self, limit: Option<Duration>) {
        self.stall_limit = limit;
    }

    /// Writes `bytes`, failing with `TimedOut` when the peer takes nothing
    /// for the stall limit. The driver awaits this, timers included: a peer
    /// that stopped reading (its link cut, its process frozen) with a large
    /// table in flight would otherwise hold the session Established, and
    /// its hold timer unfired, until TCP itself gives up (about 15 minutes
    /// of retransmissions).
    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        let Some(limit) = self.stall_limit else {
            return self.writer.write_all(bytes).await;
        };
        let mut written = 0;
        while written < bytes.len() {
            match tokio::time::timeout(limit, self.writer.write(&bytes[written..])).await {
                Ok(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(Ok(n)) => written += n,
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "the peer took no data for {limit:?} ({} of {} bytes written)",
                            written,
                            bytes.len()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Flushes what was written and closes both directions.
    pub async fn close(mut self) {
        let _ = self.writer.shutdown().await;
        self.reader.abort();
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn read_frames(conn: ConnectionId, mut reader: OwnedReadHalf, inputs: mpsc::Sender<Input>) {
    // Frames are cut at the largest size any session allows; whether this
    // session allows it is checked when the message is decoded.
    let framing = Codec {
        extended_message: true,
        ..Codec::default()
    };
    let mut buf = BytesMut::with_capacity(wire::MAX_EXTENDED_MESSAGE_LEN);
    loop {
        match take_frame(&mut buf, &framing) {
            Ok(Some(frame)) => {
                // A full channel holds the reader back: the peer's TCP
                // window closes instead of our memory growing.
                if inputs.send(Input::Frame { conn, frame }).await.is_err() {
                    return;
                }
                continue;
            }
            Ok(None) => {}
            Err(error) => {
                let _ = inputs.send(Input::BadFrame { conn, error }).await;
                return;
            }
        }
        let error = match reader.read_buf(&mut buf).await {
            Ok(0) => None,
            Ok(_) => continue,
            Err(e) => Some(e),
        };
        let _ = inputs.send(Input::Closed { conn, error }).await;
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Listener;

    #[tokio::test]
    async fn an_ipv4_connection_to_a_dual_stack_listener_has_an_ipv4_local_address() {
        let listener = Listener::bind("[::]:0".parse().unwrap()).unwrap();
        let port = listener.local_addr().unwrap().port();
        let _client = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        assert!(stream.local_addr().unwrap().is_ipv6(), "the kernel's view");
        let (inputs, _rx) = mpsc::channel(1);
        let conn = Connection::start(ConnectionId::inbound(0), stream, inputs).unwrap();
        assert_eq!(conn.local, SocketAddr::new([127, 0, 0, 1].into(), port));
    }
}
