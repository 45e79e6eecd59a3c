//! A session fed an arbitrary history: each record is a time step (two
//! bytes, in 100 µs), an operation byte and, for packets, 24 payload bytes.
//! Whatever arrives, every packet the session sends must be one our own
//! decoder accepts, and after the timers are polled nothing is left overdue.
#![no_main]

use std::num::NonZeroU32;

use ferrolb_bfd::fsm::{Action, Micros, Session, SessionConfig, Timers};
use ferrolb_bfd::wire::decode;
use libfuzzer_sys::fuzz_target;

fn check(actions: &[Action]) {
    for action in actions {
        if let Action::Send(p) = action {
            assert_eq!(decode(&p.encode()), Ok(*p));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(discr) = NonZeroU32::new(7) else {
        return;
    };
    let config = SessionConfig {
        timers: Timers::default(),
        passive: data.first().is_some_and(|b| b & 1 == 1),
    };
    let mut now = Micros(0);
    let mut session = Session::new(config, discr, 1, now);
    let mut rest = data.get(1..).unwrap_or_default();
    while rest.len() >= 3 {
        now = now.plus(u64::from(u16::from_be_bytes([rest[0], rest[1]])) * 100);
        let op = rest[2];
        rest = &rest[3..];
        let actions = match op % 5 {
            0 => {
                let actions = session.poll_timers(now);
                // Whatever was due has fired.
                assert!(session.next_deadline().is_none_or(|d| d > now));
                actions
            }
            1 => session.admin_down(now),
            2 => session.admin_up(now),
            3 => session.set_timers(
                now,
                Timers::new(
                    std::time::Duration::from_millis(u64::from(op) * 7 + 10),
                    std::time::Duration::from_millis(u64::from(op) * 3 + 10),
                    op % 9 + 1,
                ),
            ),
            _ => {
                let Some(bytes) = rest.get(..24) else {
                    break;
                };
                rest = &rest[24..];
                match decode(bytes) {
                    Ok(packet) => session.receive(now, &packet),
                    Err(_) => Vec::new(),
                }
            }
        };
        check(&actions);
    }
});
