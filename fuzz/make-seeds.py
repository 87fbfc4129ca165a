#!/usr/bin/env python3
"""Regenerates fuzz/seeds/ from the repository's own sample capture and config files.

Usage: python3 fuzz/make-seeds.py   (from anywhere; writes fuzz/seeds/<target>/)

Frames come from samples/three-channel-call.pcap (synthetic traffic made by
`vtcq generate`); pcapng seeds are written here by hand; JSON bodies follow the OpenAPI
example; TOML seeds are deploy/config/vtcq.example.toml and small variations.
"""
import os
import shutil
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEEDS = os.path.join(ROOT, "fuzz", "seeds")
SAMPLE = os.path.join(ROOT, "samples", "three-channel-call.pcap")


def write(target, name, data):
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def read_pcap(path):
    with open(path, "rb") as f:
        raw = f.read()
    magic = struct.unpack("<I", raw[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(endian + "I", raw[20:24])[0]
    frames, off = [], 24
    while off + 16 <= len(raw):
        sec, frac, incl, orig = struct.unpack(endian + "IIII", raw[off:off + 16])
        frames.append((sec, frac, raw[off + 16:off + 16 + incl]))
        off += 16 + incl
    return raw, linktype, frames


def udp_payload(frame):
    """Ethernet/IPv4/UDP only (what the sample holds)."""
    if len(frame) < 42 or frame[12:14] != b"\x08\x00":
        return None
    ihl = (frame[14] & 0x0F) * 4
    if frame[23] != 17:
        return None
    return frame[14 + ihl + 8:]


def is_rtcp(p):
    return len(p) >= 4 and p[0] >> 6 == 2 and 192 <= p[1] <= 223


def main():
    shutil.rmtree(SEEDS, ignore_errors=True)
    raw, linktype, frames = read_pcap(SAMPLE)
    payloads = [(i, udp_payload(f)) for i, (_, _, f) in enumerate(frames)]
    rtp = [p for _, p in payloads if p and not is_rtcp(p)]
    rtcp = [p for _, p in payloads if p and is_rtcp(p)]

    # link_decode: selector 1 = Ethernet (index into the target's LINKTYPES).
    for n, (_, _, f) in enumerate(frames[:6]):
        write("link_decode", f"eth-{n}", bytes([1]) + f)
    # The same datagram on the other link types, headers built here.
    eth = frames[0][2]
    ip = eth[14:]
    write("link_decode", "raw-ipv4", bytes([4]) + ip)
    write("link_decode", "ipv4", bytes([7]) + ip)
    write("link_decode", "null-le", bytes([0]) + struct.pack("<I", 2) + ip)
    write("link_decode", "loop", bytes([5]) + struct.pack(">I", 2) + ip)
    sll = struct.pack(">HHH8sH", 0, 1, 6, b"\x02\0\0\0\0\x01\0\0", 0x0800)
    write("link_decode", "sll", bytes([6]) + sll + ip)
    sll2 = struct.pack(">HHIHBB8s", 0x0800, 0, 1, 1, 0, 6, b"\x02\0\0\0\0\x01\0\0")
    write("link_decode", "sll2", bytes([9]) + sll2 + ip)
    vlan = eth[:12] + b"\x88\xa8\x00\x0a\x81\x00\x00\x14\x08\x00" + ip
    write("link_decode", "qinq", bytes([1]) + vlan)
    pppoe = eth[:12] + b"\x88\x64" + b"\x11\x00\x00\x01" + struct.pack(">H", len(ip) + 2) + b"\x00\x21" + ip
    write("link_decode", "pppoe", bytes([1]) + pppoe)
    # IPv6 with a hop-by-hop header and an atomic fragment header before UDP.
    udp = ip[20:]
    ext = bytes([44, 0]) + b"\x01\x04\x00\x00\x00\x00" + bytes([17, 0, 0, 0, 0, 0, 0, 1])
    v6 = struct.pack(">IHBB", 0x60000000, len(ext) + len(udp), 0, 64) + b"\x20\x01\x0d\xb8" + bytes(11) + b"\x01" + b"\x20\x01\x0d\xb8" + bytes(11) + b"\x02"
    write("link_decode", "ipv6-ext", bytes([8]) + v6 + ext + udp)

    # rtp: a few payloads of different streams (distinct PT/SSRC), one padded + extension.
    seen = set()
    for p in rtp:
        key = (p[1] & 0x7F, p[8:12])
        if key not in seen:
            seen.add(key)
            write("rtp", f"rtp-{len(seen)}", p)
        if len(seen) >= 8:
            break
    ext_hdr = b"\xbe\xde\x00\x02" + b"\x10\xff\x22\xaa\xbb\xcc\x00\x00"
    p = rtp[0]
    write("rtp", "rtp-ext-pad", bytes([p[0] | 0x30]) + p[1:12] + ext_hdr + p[12:] + b"\x00\x00\x03")
    write("rtp", "rtp-csrc", bytes([(p[0] & 0xF0) | 2]) + p[1:12] + b"\x00\x00\x00\x01\x00\x00\x00\x02" + p[12:])

    # rtcp_compound: every distinct sequence of packet types in the sample.
    shapes = {}
    for p in rtcp:
        types, off = [], 0
        while off + 4 <= len(p):
            types.append(p[off + 1])
            off += (struct.unpack(">H", p[off + 2:off + 4])[0] + 1) * 4
        shapes.setdefault(tuple(types), p)
    for n, p in enumerate(list(shapes.values())[:16]):
        write("rtcp_compound", f"compound-{n}", p)
    # BYE with a reason, APP, PLI feedback, an XR with RRTR + DLRR, an SRTCP-looking tail.
    write("rtcp_compound", "bye-reason", b"\x81\xcb\x00\x03" + b"\x11\x22\x33\x44" + b"\x04done\x00\x00\x00")
    write("rtcp_compound", "app", b"\x81\xcc\x00\x03" + b"\x11\x22\x33\x44" + b"NAME" + b"data")
    write("rtcp_compound", "pli", b"\x81\xce\x00\x02" + b"\x11\x22\x33\x44" + b"\x55\x66\x77\x88")
    xr = b"\x04\x00\x00\x02" + bytes(range(8)) + b"\x05\x00\x00\x03" + b"\x11\x22\x33\x44" + bytes(range(8))
    write("rtcp_compound", "xr", b"\x80\xcf" + struct.pack(">H", (8 + len(xr)) // 4 - 1) + b"\xaa\xbb\xcc\xdd" + xr)
    if rtcp:
        write("rtcp_compound", "srtcp", rtcp[0][:8] + bytes(range(40)) + b"\x80\x00\x00\x07" + bytes(10))

    # analyzer: [selector 0 = Ethernet] then [len u16][step i32 us][frame] records.
    def seq(chosen):
        out, prev = bytearray([0]), None
        for sec, frac, f in chosen:
            t = sec * 1_000_000 + frac // 1000  # the sample is nanosecond pcap
            step = 0 if prev is None else max(-2**31, min(2**31 - 1, t - prev))
            prev = t
            out += struct.pack("<Hi", len(f), step) + f
        return bytes(out)
    rtcp_idx = [i for i, p in payloads if p and is_rtcp(p)]
    write("analyzer", "start", seq(frames[:60]))
    for n, i in enumerate(rtcp_idx[:6]):
        write("analyzer", f"around-rtcp-{n}", seq(frames[max(0, i - 30):i + 10]))

    # capture_reader: the sample's header and first frames (pcap), the same frames in
    # big-endian microsecond pcap, and pcapng with two sections and every packet block.
    write("capture_reader", "pcap-ns-le", raw[:24] + b"".join(
        struct.pack("<IIII", s, fr, len(f), len(f)) + f for s, fr, f in frames[:20]))
    hdr = struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)
    write("capture_reader", "pcap-us-be", hdr + b"".join(
        struct.pack(">IIII", s, fr // 1000, len(f), len(f)) + f for s, fr, f in frames[:20]))
    write("capture_reader", "pcap-cut", raw[:24 + 16 + 40])

    def block(btype, body):
        body += bytes(-len(body) % 4)
        n = 12 + len(body)
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)

    def opt(code, value):
        return struct.pack("<HH", code, len(value)) + value + bytes(-len(value) % 4)

    shb = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + opt(0, b""))
    idb = block(1, struct.pack("<HHI", linktype, 0, 0) + opt(2, b"eth0") + opt(9, b"\x09")
                + opt(8, struct.pack("<Q", 1_000_000_000)) + opt(14, struct.pack("<q", 10)) + opt(0, b""))
    epbs = b""
    for s, fr, f in frames[:10]:
        ts = s * 1_000_000_000 + fr
        epbs += block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(f), len(f)) + f)
    spb = block(3, struct.pack("<I", len(frames[10][2])) + frames[10][2])
    isb = block(5, struct.pack("<III", 0, 0, 0))
    write("capture_reader", "pcapng", shb + idb + epbs + spb + isb + shb + idb + epbs[:200])

    # control_api: [method][flags][body]; flags 0x01 = application/json, path mode 0
    # (PUT /v1/calls/{id}), 0x20 = Content-Length.
    body = """{"callChainId":"0622673d-9f69-49b3-9d4f-5ec64f42ecce","participantId":"ea078c64-5b6b-4ce0-8bd1-8e4b6a1c2f37","deviceName":"Cisco SX80","deviceDescription":"VTC Bldg 30/21","mediaSessions":[{"kind":"audio","localPort":50000,"remoteAddress":"192.0.2.10","remotePort":6000,"payloadTypes":[{"payloadType":111,"clockRate":48000}]},{"kind":"video","localPort":50002,"remoteAddress":"192.0.2.10","remotePort":6002,"payloadTypes":[{"payloadType":96,"clockRate":90000}]},{"kind":"screenSharing","localPort":50004,"remoteAddress":null,"remotePort":null}]}"""
    write("control_api", "put-example", bytes([0, 0x21]) + body.encode())
    write("control_api", "put-example-token", bytes([0, 0x2D]) + body.encode())
    write("control_api", "put-minimal", bytes([0, 0x01]) + b'{"callChainId":"0622673d-9f69-49b3-9d4f-5ec64f42ecce","participantId":"ea078c64-5b6b-4ce0-8bd1-8e4b6a1c2f37","deviceName":"x","deviceDescription":"y","mediaSessions":[{"kind":"audio","localPort":1}]}')
    write("control_api", "put-bad-port", bytes([0, 0x01]) + body.replace("50002", "70000").encode())
    write("control_api", "put-merge-json", bytes([0, 0x02]) + body.encode())
    write("control_api", "delete", bytes([2, 0x00]))
    write("control_api", "list", bytes([1, 0x80]))
    write("control_api", "probes", bytes([1, 0xC1]))
    write("control_api", "path-from-input", bytes([0, 0x41]) + b"/v1/calls/0622673D-9F69-49B3-9D4F-5EC64F42ECCE?x=1\n" + body.encode())

    # srtcp: [suite][flags][46 bytes key||salt][index/ROC][packet]. Packets libsrtp
    # protected (collector/tests/fixtures/srtp_crosscheck.txt, no MKI) with their keys, so
    # the fuzzer starts on the authentic path; a clear compound and an RTP packet from the
    # sample for the round trips.
    suites = ["AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AES_256_CM_HMAC_SHA1_80",
              "AES_256_CM_HMAC_SHA1_32", "AEAD_AES_128_GCM", "AEAD_AES_256_GCM"]
    with open(os.path.join(ROOT, "collector", "tests", "fixtures", "srtp_crosscheck.txt")) as f:
        fixture = [line.split() for line in f if line.startswith("srtcp ")]
    for suite in ("AES_CM_128_HMAC_SHA1_80", "AES_256_CM_HMAC_SHA1_32", "AEAD_AES_128_GCM"):
        line = next(l for l in fixture if l[1] == suite and l[3] == "-")
        key = bytes.fromhex(line[2]).ljust(46, b"\0")
        write("srtcp", f"libsrtp-{suite.lower()}", bytes([suites.index(suite), 0x02]) + key
              + b"\0\0\0\0" + bytes.fromhex(line[5]))
    key = bytes(range(1, 47))
    write("srtcp", "compound-gcm-mki", bytes([5, 0x07]) + key + b"\x7f\xff\xff\xfe" + rtcp[0])
    write("srtcp", "rtp-cm32", bytes([1, 0x00]) + key + b"\xff\xff\xff\xff" + rtp[0])

    # config_file: the example and variations.
    with open(os.path.join(ROOT, "deploy", "config", "vtcq.example.toml")) as f:
        example = f.read()
    write("config_file", "example", example)
    write("config_file", "minimal", '[capture]\ninterface = "eth0"\n')
    write("config_file", "graph-secret", '[graph]\ntenant_id = "contoso.onmicrosoft.com"\nclient_id = "00000000-0000-0000-0000-000000000000"\nclient_secret_file = "/run/secret"\n[capture]\ninterface = "eth0"\nport_ranges = ["10000-20000", "5004"]\nlocal_addresses = ["192.0.2.1", "2001:db8::1"]\n')
    write("config_file", "cert", '[graph]\ncloud = "usgov"\ntenant_id = "t"\nclient_id = "c"\ncertificate_file = "/etc/vtcq/cert.pem"\ncertificate_algorithm = "rs256"\n[capture]\ninterface = "eth0"\n[api]\nlisten = "unix:/run/vtcq.sock"\nbearer_token_file = "/etc/vtcq/token"\n[log]\nformat = "json"\nlevel = "vtcq=debug,info"\n')
    write("config_file", "custom-cloud", '[graph]\ncloud = "custom"\ngraph_root = "https://graph.example"\nlogin_root = "https://login.example"\napi_version = "beta"\n[sink]\nkind = "stdout"\n[capture]\ninterface = "eth0"\nring_block_size = 4096\nring_block_count = 1\n[calls]\nidle_timeout = "1ms"\nmax_duration = "1y"\n[retry]\ninitial_backoff = "10ms"\nmax_backoff = "1h"\n')
    for name in ("container", "kubernetes", "systemd"):
        src = os.path.join(ROOT, "deploy", name, "vtcq.toml")
        if os.path.exists(src):
            with open(src) as f:
                write("config_file", f"deploy-{name}", f.read())

    sip_sdp_seeds()


# sip_sdp: a VTC call's signalling as records [len u16 le][op u8][bytes] (op 0 = UDP
# datagram, 1/2 = TCP from client/server, op >> 4 = seconds to advance).
OFFER = (
    "v=0\r\no=bot 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
    "m=audio 50000 RTP/SAVP 9 96 101\r\na=rtpmap:9 G722/8000\r\na=rtpmap:96 opus/48000/2\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4\r\n"
    "m=video 50002 RTP/AVP 100\r\na=rtpmap:100 H264/90000\r\na=content:main\r\na=label:11\r\n"
    "m=video 50004 RTP/AVP 100\r\na=rtpmap:100 H264/90000\r\na=label:12\r\na=rtcp-mux\r\n"
    "m=application 50006 TCP/BFCP *\r\na=floorctrl:c-s\r\na=floorid:1 mstrm:12\r\n"
)
ANSWER = (
    "v=0\r\no=room 7 7 IN IP4 198.51.100.20\r\ns=-\r\nc=IN IP4 198.51.100.20\r\nt=0 0\r\n"
    "m=audio 40000 RTP/SAVP 9 101\r\na=rtpmap:9 G722/8000\r\na=rtcp:40011\r\n"
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk\r\n"
    "m=video 40002 RTP/AVP 100\r\nc=IN IP6 2001:db8::20\r\na=rtpmap:100 H264/90000\r\n"
    "m=video 40004 RTP/AVP 100\r\na=rtpmap:100 H264/90000\r\na=content:slides\r\na=rtcp-mux\r\n"
    "m=application 40006 TCP/BFCP *\r\na=floorid:1 mstrm:22\r\n"
)


def sip(start, cseq, to_tag, from_callee, body, compact=False):
    caller = '"Bot" <sip:bot@example.com>;tag=c1'
    callee = "Room <sip:room@example.com>" + (";tag=" + to_tag if to_tag else "")
    frm, to = (callee, caller) if from_callee else (caller, callee)
    names = ("v", "f", "t", "i", "CSeq", "c", "l") if compact else (
        "Via", "From", "To", "Call-ID", "CSeq", "Content-Type", "Content-Length")
    head = [start, f"{names[0]}: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1",
            f"{names[1]}: {frm}", f"{names[2]}: {to}", f"{names[3]}: call-1@example.com",
            f"{names[4]}: {cseq}"]
    if body:
        head.append(f"{names[5]}: application/sdp")
    head.append(f"{names[6]}: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n" + body).encode()


def records(items):
    return b"".join(struct.pack("<HB", len(b), op) + b for op, b in items)


def sip_sdp_seeds():
    invite = sip("INVITE sip:room@example.com SIP/2.0", "1 INVITE", None, False, OFFER)
    ok = sip("SIP/2.0 200 OK", "1 INVITE", "r7", False, ANSWER)
    early = sip("SIP/2.0 183 Session Progress", "1 INVITE", "r7", False, ANSWER, compact=True)
    ack = sip("ACK sip:room@example.com SIP/2.0", "1 ACK", "r7", False, "")
    reinvite = sip("INVITE sip:bot@example.com SIP/2.0", "2 INVITE", "r7", True,
                   ANSWER.replace("m=video 40002", "m=video 41002"))
    reok = sip("SIP/2.0 200 OK", "2 INVITE", "r7", True, OFFER)
    bye = sip("BYE sip:bot@example.com SIP/2.0", "3 BYE", "r7", True, "")
    write("sip_sdp", "udp-call", records([(0, invite), (0x10, early), (0x20, ok), (0, ack),
                                          (0x30, reinvite), (0, reok), (0x58, bye)]))
    write("sip_sdp", "late-offer", records([
        (0, sip("INVITE sip:room@example.com SIP/2.0", "1 INVITE", None, False, "")),
        (0x10, sip("SIP/2.0 200 OK", "1 INVITE", "r7", False, ANSWER)),
        (0, sip("ACK sip:room@example.com SIP/2.0", "1 ACK", "r7", False, OFFER))]))
    half = len(invite) // 2
    write("sip_sdp", "tcp-split", records([(1, invite[:half]), (1, invite[half:]), (2, ok + b"\r\n\r\n" + bye)]))
    multipart = ("--b1\r\nContent-Type: application/isup\r\n\r\nxx\r\n--b1\r\n"
                 "Content-Type: application/sdp\r\n\r\n" + OFFER + "\r\n--b1--\r\n")
    mp = sip("INVITE sip:room@example.com SIP/2.0", "1 INVITE", None, False, multipart)
    mp = mp.replace(b"Content-Type: application/sdp\r\nContent-Length",
                    b'Content-Type: multipart/mixed;boundary="b1"\r\nContent-Length', 1)
    write("sip_sdp", "multipart", records([(0, mp), (0x10, ok)]))
    write("sip_sdp", "tcp-gap", records([(3, struct.pack("<I", 1000) + b"\x02"), (3, struct.pack("<I", 1001) + b"\x00" + invite[:100]),
                                         (3, struct.pack("<I", 1301) + b"\x00" + invite[300:] + ok)]))


if __name__ == "__main__":
    main()
