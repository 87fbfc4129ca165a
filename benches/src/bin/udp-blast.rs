//! A UDP load generator for `live-load.sh`: RTP-shaped datagrams (12-byte RTP header,
//! sequence and timestamp advancing per flow) at a fixed rate, from several threads, one
//! plain `send_to` per datagram (no sendmmsg). Destinations are restricted to the load
//! test's own veth subnet, 10.215.0.0/30.
//!
//! `udp-blast --dst 10.215.0.1 --rate PPS --seconds S [--threads 2] [--flows 600]
//!  [--port-base 20000] [--payload 160]`
//!
//! Prints one line: `sent N in T s = R pps, errors E`.
#![deny(unsafe_code)]

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

struct Args {
    dst: Ipv4Addr,
    rate: u64,
    seconds: f64,
    threads: usize,
    flows: usize,
    port_base: u16,
    payload: usize,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        dst: Ipv4Addr::UNSPECIFIED,
        rate: 0,
        seconds: 5.0,
        threads: 2,
        flows: 600,
        port_base: 20_000,
        payload: 160,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |_| format!("bad value for {flag}: {v}");
        match flag.as_str() {
            "--dst" => a.dst = v.parse().map_err(|_| format!("bad address {v}"))?,
            "--rate" => a.rate = v.parse().map_err(bad)?,
            "--seconds" => a.seconds = v.parse().map_err(|_| format!("bad seconds {v}"))?,
            "--threads" => a.threads = v.parse().map_err(bad)?,
            "--flows" => a.flows = v.parse().map_err(bad)?,
            "--port-base" => a.port_base = v.parse().map_err(|_| format!("bad port {v}"))?,
            "--payload" => a.payload = v.parse().map_err(bad)?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    // Only the load test's own veth pair: never anything else.
    let o = a.dst.octets();
    if o[0] != 10 || o[1] != 215 || o[2] != 0 || !(1..=2).contains(&o[3]) {
        return Err(format!("--dst {} is outside 10.215.0.0/30", a.dst));
    }
    if a.rate == 0 || a.threads == 0 || a.flows == 0 || a.payload > 1400 {
        return Err("need --rate > 0, --threads > 0, --flows > 0, --payload <= 1400".into());
    }
    if usize::from(a.port_base) + 2 * a.flows > 65_535 {
        return Err("--port-base + 2 x --flows must stay below 65536".into());
    }
    Ok(a)
}

/// One RTP flow: destination port, SSRC, next sequence number and timestamp.
struct Flow {
    dst: SocketAddr,
    ssrc: u32,
    seq: u16,
    ts: u32,
}

fn blast(a: &Args, thread: usize) -> (u64, u64) {
    let Ok(socket) = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)) else {
        return (0, 1);
    };
    let mut flows: Vec<Flow> = (0..a.flows)
        .filter(|f| f % a.threads == thread)
        .map(|f| Flow {
            dst: SocketAddr::from((a.dst, a.port_base + 2 * f as u16)),
            ssrc: 0x5EED_0000 ^ f as u32,
            seq: (f as u16).wrapping_mul(977),
            ts: 0,
        })
        .collect();
    if flows.is_empty() {
        return (0, 0);
    }
    let rate = a.rate as f64 / a.threads as f64;
    let total = (rate * a.seconds) as u64;
    let mut packet = vec![0u8; 12 + a.payload];
    packet[0] = 0x80;
    packet[1] = 0; // PCMU
    let (mut sent, mut errors) = (0u64, 0u64);
    let started = Instant::now();
    let mut next_flow = 0usize;
    let n_flows = flows.len();
    // Send in 1 ms slices: each slice catches up to where the schedule says we should be.
    while sent + errors < total {
        let due = ((started.elapsed().as_secs_f64() * rate) as u64 + 1).min(total);
        while sent + errors < due {
            let flow = &mut flows[next_flow];
            next_flow = (next_flow + 1) % n_flows;
            packet[2..4].copy_from_slice(&flow.seq.to_be_bytes());
            packet[4..8].copy_from_slice(&flow.ts.to_be_bytes());
            packet[8..12].copy_from_slice(&flow.ssrc.to_be_bytes());
            flow.seq = flow.seq.wrapping_add(1);
            flow.ts = flow.ts.wrapping_add(160);
            match socket.send_to(&packet, flow.dst) {
                Ok(_) => sent += 1,
                Err(_) => errors += 1,
            }
        }
        let ahead = (sent + errors) as f64 / rate - started.elapsed().as_secs_f64();
        if ahead > 0.0 {
            std::thread::sleep(Duration::from_secs_f64(ahead.min(0.001)));
        }
    }
    (sent, errors)
}

fn main() -> ExitCode {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let results: Vec<(u64, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..a.threads)
            .map(|t| {
                let a = &a;
                s.spawn(move || blast(a, t))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or((0, 1)))
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let sent: u64 = results.iter().map(|r| r.0).sum();
    let errors: u64 = results.iter().map(|r| r.1).sum();
    println!(
        "sent {sent} in {elapsed:.2} s = {:.0} pps, errors {errors}",
        sent as f64 / elapsed
    );
    ExitCode::SUCCESS
}
