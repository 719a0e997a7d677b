//! Hostile inputs, each fed to its target in this one process under a
//! counting allocator: none may panic, and together they may never make the
//! process hold more than a few MiB, however much their lengths announce.
//! (Lengths used to be allocated as announced: a 16-byte greeting claiming
//! 60 MiB took 60 MiB.)

use std::alloc::System;

use cap::Cap;
use rdesk_fuzz::Target;
use rdesk_fuzz::targets::{Handshake, Intake, Outcome, Sexp};
use rserve_qap::protocol::{self, Header};

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// Far below any of the lengths the inputs announce.
const PEAK_LIMIT: usize = 8 << 20;

fn header(cmd: u32, len: u64) -> Vec<u8> {
    Header {
        cmd,
        len,
        msg_id: 0,
    }
    .to_bytes()
    .to_vec()
}

const BANNER: &[u8] = b"Rsrv0103QAP1\r\n\r\n--------------\r\n";

fn handshake_inputs() -> Vec<Vec<u8>> {
    let claim = 60 << 20;
    vec![
        // An OCAP greeting announcing 60 MiB and sending 8 bytes.
        [header(protocol::CMD_OC_INIT, claim), vec![0; 8]].concat(),
        // An answer announcing 60 MiB.
        [
            BANNER.to_vec(),
            header(protocol::RESP_OK, claim),
            vec![0; 8],
        ]
        .concat(),
        // An out-of-band message announcing 60 MiB (skipped, not kept).
        [
            BANNER.to_vec(),
            header(protocol::OOB_SEND, claim),
            vec![0; 8],
        ]
        .concat(),
        // A large-header SEXP parameter announcing 2^55 bytes.
        [
            BANNER.to_vec(),
            header(protocol::RESP_OK, 16),
            vec![0x4a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
            vec![0; 8],
        ]
        .concat(),
    ]
}

fn sexp_inputs() -> Vec<Vec<u8>> {
    vec![
        // XT_ARRAY_DOUBLE | XT_LARGE announcing 2^56 - 1 bytes.
        vec![0x61, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0],
        // A logical vector announcing 2^32 - 1 elements in 4 bytes.
        vec![0x24, 0x08, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 1, 1, 1],
        // 4 KiB of empty strings.
        [vec![0x22, 0x00, 0x10, 0x00], vec![0; 4096]].concat(),
    ]
}

/// A tar.gz holding one entry whose header declares 15 MiB, with 512 bytes.
fn intake_inputs() -> Vec<Vec<u8>> {
    let mut header = tar::Header::new_gnu();
    header
        .set_path("app.R")
        .unwrap_or_else(|e| panic!("app.R is a plain name: {e}"));
    header.set_size(15 << 20);
    header.set_mode(0o644);
    header.set_cksum();
    let tar = [header.as_bytes().to_vec(), vec![b'x'; 512]].concat();
    // Kind 2 of the intake target: a plain .tar.
    vec![[vec![2u8], tar].concat()]
}

fn feed_all(target: &mut dyn Target, inputs: Vec<Vec<u8>>) {
    for input in inputs {
        let outcome = target.feed(&input);
        assert!(
            !matches!(outcome, Outcome::Broken(_)),
            "{}: {outcome:?}",
            target.name()
        );
    }
}

#[test]
fn hostile_lengths_allocate_only_what_arrives() {
    feed_all(&mut Handshake::new().expect("seeds"), handshake_inputs());
    feed_all(&mut Sexp::new().expect("seeds"), sexp_inputs());
    feed_all(&mut Intake::new().expect("seeds"), intake_inputs());
    let peak = ALLOCATOR.max_allocated();
    assert!(peak < PEAK_LIMIT, "peak of {peak} bytes");
}
