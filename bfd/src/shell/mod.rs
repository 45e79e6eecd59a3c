//! The tokio shell (sockets, timers).
