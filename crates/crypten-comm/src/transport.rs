//! The transport seam: what a link between two endpoints runs over.
//!
//! A link is driven by two threads at once, a reader and a writer, so that two parties sending
//! each other large payloads at the same time never deadlock. A [`Transport`] is a connected
//! byte stream that can be split into those two halves plus a handle that shuts it down. Plain
//! TCP splits by cloning the socket. A TLS session cannot be cloned: its transport will share
//! the session between the halves behind a lock and give each half its own clone of the
//! socket, which is why the trait hands out boxed halves rather than requiring `Clone`.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};

/// A connected, reliable, ordered byte stream to one peer.
///
/// # Design
/// `split` is called once, when the link starts. The reader half is read until it returns end
/// of stream or an error; the writer half is written and flushed by one thread; the
/// [`Closer`] may be called from any thread: `close_write` after the writer's last frame (the
/// peer then reads a clean end of stream), `close` to wake a reader blocked on a silent peer.
/// `TcpStream` is the trivially correct implementation.
pub trait Transport: Send + 'static {
    /// The two halves and the shutdown handle.
    ///
    /// # Errors
    /// The connection cannot be duplicated or configured.
    fn split(self: Box<Self>) -> io::Result<Halves>;
}

/// A transport split for its reader and writer threads.
pub struct Halves {
    /// What the reader thread reads frames from.
    pub reader: Box<dyn Read + Send>,
    /// What the writer thread writes frames to.
    pub writer: Box<dyn Write + Send>,
    /// Shuts the connection down.
    pub closer: Box<dyn Closer>,
}

/// Shuts a transport down, from any thread.
pub trait Closer: Send + Sync {
    /// Ends the writing direction: the peer reads end of stream after what was written.
    fn close_write(&self);
    /// Ends both directions: a blocked reader wakes with end of stream or an error.
    fn close(&self);
}

impl Transport for TcpStream {
    fn split(self: Box<Self>) -> io::Result<Halves> {
        // Set-up may have used socket timeouts; from now on `recv` enforces its own.
        self.set_read_timeout(None)?;
        self.set_write_timeout(None)?;
        self.set_nodelay(true)?;
        let reader = self.try_clone()?;
        let writer = self.try_clone()?;
        Ok(Halves {
            reader: Box::new(reader),
            writer: Box::new(writer),
            closer: Box::new(*self),
        })
    }
}

impl Closer for TcpStream {
    fn close_write(&self) {
        // Errors here only mean the connection is already gone.
        let _ = self.shutdown(Shutdown::Write);
    }

    fn close(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}
