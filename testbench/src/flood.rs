//! `vtcq-testbench flood`: hostile traffic for the flood test. Writes Ethernet frames
//! straight onto an interface (a packet socket, so source addresses can be anything): UDP
//! to one destination address and a port range, from random sources in 198.18.0.0/15
//! (RFC 2544's benchmarking block) with random ports, carrying RTP with random SSRCs,
//! malformed RTCP and random bytes. A test tool, meant for a test's own veth pair.
//!
//! The destination MAC is, by default, one nobody owns: the receiving kernel marks the
//! frames "for another host" and drops them before IP, so nothing answers the random
//! sources (no ICMP leaves the test's veth) and no socket receives them, while a packet
//! socket (the agent's capture) still sees every one, as a promiscuous capture would.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use vtcq_collector::capture::LinkType;
use vtcq_collector::wire::link::write_udp_frame;
use vtcq_livecap::FrameSender;
use vtcq_sim::Rng;

/// `vtcq-testbench flood`.
#[derive(Debug, Args)]
pub struct FloodArgs {
    /// Interface to write the frames on (the test's veth end).
    #[arg(long)]
    pub interface: String,
    /// Destination MAC, `aa:bb:cc:dd:ee:ff` (default: a locally administered one that no
    /// interface owns; see the module documentation).
    #[arg(long, value_parser = parse_mac, default_value = "02:00:5e:00:53:01")]
    pub dst_mac: [u8; 6],
    /// Destination IPv4 address.
    #[arg(long)]
    pub dst: Ipv4Addr,
    /// Destination ports, `FIRST-LAST`.
    #[arg(long, value_parser = parse_range)]
    pub dst_ports: (u16, u16),
    /// Frames to send.
    #[arg(long, default_value_t = 1_000_000)]
    pub packets: u64,
    /// Frames per second (0: as fast as the socket takes them).
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Seed of the random choices (the same seed sends the same frames).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

fn parse_mac(text: &str) -> Result<[u8; 6], String> {
    let bytes: Vec<u8> = text
        .split(':')
        .map(|b| u8::from_str_radix(b, 16))
        .collect::<Result<_, _>>()
        .map_err(|_| format!("{text:?} is not a MAC address"))?;
    bytes
        .try_into()
        .map_err(|_| format!("{text:?} is not a MAC address"))
}

fn parse_range(text: &str) -> Result<(u16, u16), String> {
    let bad = || format!("{text:?} is not FIRST-LAST");
    let (a, b) = text.split_once('-').ok_or_else(bad)?;
    let (a, b): (u16, u16) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a > b {
        return Err(bad());
    }
    Ok((a, b))
}

/// What one frame carries.
fn payload(rng: &mut Rng, out: &mut Vec<u8>) {
    out.clear();
    let below = |rng: &mut Rng, n: u64| rng.next_u64() % n;
    match below(rng, 100) {
        // RTP from a random SSRC: never two in sequence, so it never validates.
        0..=59 => {
            out.push(0x80);
            out.push(below(rng, 128) as u8);
            out.extend_from_slice(&rng.next_u64().to_be_bytes()[..2]); // sequence
            out.extend_from_slice(&rng.next_u64().to_be_bytes()[..4]); // timestamp
            out.extend_from_slice(&rng.next_u64().to_be_bytes()[..4]); // SSRC
            let len = below(rng, 200) as usize;
            out.resize(out.len() + len, 0);
        }
        // RTCP-shaped with hostile counts and lengths (SR, RR, SDES, BYE, APP, FB, XR).
        60..=84 => {
            let count = below(rng, 32) as u8;
            let pt = 200 + below(rng, 8) as u8;
            out.push(0x80 | count | if below(rng, 4) == 0 { 0x20 } else { 0 });
            out.push(pt);
            out.extend_from_slice(&(rng.next_u64() as u16).to_be_bytes()); // length in words
            let len = below(rng, 120) as usize;
            random_bytes(rng, out, len);
        }
        // Anything at all.
        _ => {
            let len = below(rng, 300) as usize;
            random_bytes(rng, out, len);
        }
    }
}

/// Appends `len` random bytes to `out`.
fn random_bytes(rng: &mut Rng, out: &mut Vec<u8>, len: usize) {
    let end = out.len() + len;
    while out.len() < end {
        out.extend_from_slice(&rng.next_u64().to_be_bytes());
    }
    out.truncate(end);
}

/// Sends the frames; prints `sent N frames in T s`.
pub fn run(args: &FloodArgs) -> Result<ExitCode> {
    let sender = FrameSender::open(&args.interface)
        .with_context(|| format!("cannot send on {}", args.interface))?;
    let mut rng = Rng(args.seed);
    let (first, last) = args.dst_ports;
    let span = u64::from(last - first) + 1;
    let mut body = Vec::with_capacity(512);
    let mut frame = Vec::with_capacity(600);
    let started = Instant::now();
    let mut sent = 0u64;
    let mut busy = 0u64;
    while sent < args.packets {
        payload(&mut rng, &mut body);
        let r = rng.next_u64();
        let src_ip = Ipv4Addr::new(198, 18 + (r & 1) as u8, (r >> 8) as u8, (r >> 16) as u8);
        let src = SocketAddr::new(IpAddr::V4(src_ip), 1024 + ((r >> 24) % 64_512) as u16);
        let dst = SocketAddr::new(IpAddr::V4(args.dst), first + ((r >> 40) % span) as u16);
        frame.clear();
        write_udp_frame(&mut frame, LinkType::Ethernet, src, dst, &body)
            .context("cannot build a frame")?;
        frame[..6].copy_from_slice(&args.dst_mac);
        // A locally administered, unicast source MAC.
        frame[6..12].copy_from_slice(&[0x02, 0x00, 0x5e, 0x10, (r >> 48) as u8, (r >> 56) as u8]);
        match sender.send(&frame) {
            Ok(()) => sent += 1,
            // The device queue is full: wait for it rather than count a frame not sent.
            Err(vtcq_livecap::CaptureError::Io { cause, .. })
                if busy < 1_000_000 && cause.raw_os_error() == Some(libc::ENOBUFS) =>
            {
                busy += 1;
                std::thread::sleep(Duration::from_micros(50));
            }
            Err(e) => bail!("sending frame {sent}: {e}"),
        }
        if args.rate > 0 && sent.is_multiple_of(1000) {
            let due = Duration::from_secs_f64(sent as f64 / args.rate as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }
    println!(
        "sent {sent} frames in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
