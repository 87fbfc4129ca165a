#!/usr/bin/env python3
"""Cross-checks vtcq's SRTP/SRTCP against libsrtp, an independent implementation.

libsrtp comes from the `pylibsrtp` package (PyPI; it bundles libsrtp 2.x built with
OpenSSL): `pip install pylibsrtp`. pylibsrtp's Python API offers four profiles, no MKI and
no unencrypted SRTCP, so this script calls the libsrtp functions inside pylibsrtp's own
shared object through ctypes, with the policy structure laid out as libsrtp 2 declares it
(checked against pylibsrtp's cffi declaration at start-up). That reaches all six suites:
the AES-256 counter-mode suites through libsrtp's crypto policy setters, the four others
through libsrtp's own profile tables (which give the `_32` profile an 80-bit SRTCP tag);
for AES_256_CM_HMAC_SHA1_32, which has no libsrtp profile, SRTCP is set to the 80-bit tag
here, as RFC 3711 section 5.2 requires.

    srtp_crosscheck.py generate         write the fixture (libsrtp protects known packets)
    srtp_crosscheck.py unprotect        read packets on stdin, unprotect them with libsrtp

`generate` is deterministic (keys are hashes of the case name; libsrtp's output depends
only on keys, indices and packets). Its output is committed as
`tests/fixtures/srtp_crosscheck.txt`; `tests/srtp_crosscheck.rs` checks that vtcq
authenticates and decrypts every packet in it, reproduces every protected packet byte for
byte, and, when pylibsrtp is installed, that a fresh run still prints the same file and
that libsrtp accepts packets vtcq protected.

Line formats (hex, `-` for no MKI):
    srtcp SUITE KEY||SALT MKI PLAIN PROTECTED
    srtp  SUITE KEY||SALT MKI ROC PLAIN PROTECTED
`unprotect` reads the same lines without PLAIN and prints `ok PLAIN` or `error MESSAGE`.
"""

import ctypes
import hashlib
import struct
import sys

import pylibsrtp
from pylibsrtp import _binding

lib = ctypes.CDLL(_binding.__file__)


class SsrcT(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("value", ctypes.c_uint)]


class CryptoPolicyT(ctypes.Structure):
    _fields_ = [
        ("cipher_type", ctypes.c_uint32),
        ("cipher_key_len", ctypes.c_int),
        ("auth_type", ctypes.c_uint32),
        ("auth_key_len", ctypes.c_int),
        ("auth_tag_len", ctypes.c_int),
        ("sec_serv", ctypes.c_int),
    ]


class MasterKeyT(ctypes.Structure):
    _fields_ = [
        ("key", ctypes.c_void_p),
        ("mki_id", ctypes.c_void_p),
        ("mki_size", ctypes.c_uint),
    ]


class PolicyT(ctypes.Structure):
    _fields_ = [
        ("ssrc", SsrcT),
        ("rtp", CryptoPolicyT),
        ("rtcp", CryptoPolicyT),
        ("key", ctypes.c_void_p),
        ("keys", ctypes.POINTER(ctypes.POINTER(MasterKeyT))),
        ("num_master_keys", ctypes.c_ulong),
        ("deprecated_ekt", ctypes.c_void_p),
        ("window_size", ctypes.c_ulong),
        ("allow_repeat_tx", ctypes.c_int),
        ("enc_xtn_hdr", ctypes.POINTER(ctypes.c_int)),
        ("enc_xtn_hdr_count", ctypes.c_int),
        ("next", ctypes.c_void_p),
    ]


def check_layout():
    ffi = pylibsrtp.ffi
    assert ctypes.sizeof(PolicyT) == ffi.sizeof("srtp_policy_t"), "srtp_policy_t size"
    for field in ("ssrc", "rtp", "rtcp", "key", "window_size", "allow_repeat_tx"):
        ours = getattr(PolicyT, field).offset
        assert ours == ffi.offsetof("srtp_policy_t", field), f"srtp_policy_t.{field}"
    assert ctypes.sizeof(CryptoPolicyT) == ffi.sizeof("srtp_crypto_policy_t")
    lib.srtp_get_version_string.restype = ctypes.c_char_p
    version = lib.srtp_get_version_string().decode()
    assert version.startswith("libsrtp2 2."), version
    return version


SSRC_SPECIFIC = 1
SEC_SERV_CONF_AND_AUTH = 3
SEC_SERV_AUTH = 2
PROFILES = {
    "AES_CM_128_HMAC_SHA1_80": 1,
    "AES_CM_128_HMAC_SHA1_32": 2,
    "AEAD_AES_128_GCM": 7,
    "AEAD_AES_256_GCM": 8,
}
LENGTHS = {  # master key, master salt
    "AES_CM_128_HMAC_SHA1_80": (16, 14),
    "AES_CM_128_HMAC_SHA1_32": (16, 14),
    "AES_256_CM_HMAC_SHA1_80": (32, 14),
    "AES_256_CM_HMAC_SHA1_32": (32, 14),
    "AEAD_AES_128_GCM": (16, 12),
    "AEAD_AES_256_GCM": (32, 12),
}
ERRORS = pylibsrtp.ERRORS


class Session:
    """One libsrtp session with one stream (SSRC-specific), one master key, maybe an MKI."""

    def __init__(self, suite, key, mki, ssrc, rtcp_encrypted=True):
        self.policy = PolicyT()
        rtp, rtcp = ctypes.byref(self.policy.rtp), ctypes.byref(self.policy.rtcp)
        if suite in PROFILES:
            check(lib.srtp_crypto_policy_set_from_profile_for_rtp(rtp, PROFILES[suite]))
            check(lib.srtp_crypto_policy_set_from_profile_for_rtcp(rtcp, PROFILES[suite]))
        elif suite == "AES_256_CM_HMAC_SHA1_80":
            lib.srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(rtp)
            lib.srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(rtcp)
        elif suite == "AES_256_CM_HMAC_SHA1_32":
            lib.srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32(rtp)
            lib.srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(rtcp)
        else:
            raise ValueError(suite)
        self.policy.rtcp.sec_serv = SEC_SERV_CONF_AND_AUTH if rtcp_encrypted else SEC_SERV_AUTH
        self.policy.ssrc = SsrcT(SSRC_SPECIFIC, ssrc)
        self.policy.window_size = 1024
        self.policy.allow_repeat_tx = 1
        # Keep every buffer referenced for the session's life.
        self.key = ctypes.create_string_buffer(key, len(key))
        self.use_mki = 1 if mki else 0
        if mki:
            self.mki = ctypes.create_string_buffer(mki, len(mki))
            self.master = MasterKeyT(
                ctypes.cast(self.key, ctypes.c_void_p).value,
                ctypes.cast(self.mki, ctypes.c_void_p).value,
                len(mki),
            )
            self.keys = (ctypes.POINTER(MasterKeyT) * 1)(ctypes.pointer(self.master))
            self.policy.keys = self.keys
            self.policy.num_master_keys = 1
        else:
            self.policy.key = ctypes.cast(self.key, ctypes.c_void_p).value
        self.ctx = ctypes.c_void_p()
        check(lib.srtp_create(ctypes.byref(self.ctx), ctypes.byref(self.policy)))
        self.ssrc = ssrc

    def __del__(self):
        if getattr(self, "ctx", None):
            lib.srtp_dealloc(self.ctx)

    def set_roc(self, roc):
        check(lib.srtp_set_stream_roc(self.ctx, ctypes.c_uint32(self.ssrc), ctypes.c_uint32(roc)))

    def _run(self, func, packet, *args):
        buf = ctypes.create_string_buffer(bytes(packet), len(packet) + 200)
        length = ctypes.c_int(len(packet))
        status = func(self.ctx, buf, ctypes.byref(length), *args)
        if status:
            raise LibsrtpError(ERRORS[status] if status < len(ERRORS) else str(status))
        return buf.raw[: length.value]

    def protect_rtcp(self, packet):
        return self._run(lib.srtp_protect_rtcp_mki, packet, self.use_mki, 0)

    def unprotect_rtcp(self, packet):
        return self._run(lib.srtp_unprotect_rtcp_mki, packet, self.use_mki)

    def protect_rtp(self, packet):
        return self._run(lib.srtp_protect_mki, packet, self.use_mki, 0)

    def unprotect_rtp(self, packet):
        return self._run(lib.srtp_unprotect_mki, packet, self.use_mki)


class LibsrtpError(Exception):
    pass


def check(status):
    if status:
        raise LibsrtpError(ERRORS[status] if status < len(ERRORS) else str(status))


def case_key(suite, label):
    """Deterministic key||salt for a case: a hash of its name, as long as the suite needs."""
    key_len, salt_len = LENGTHS[suite]
    return hashlib.sha512(f"vtcq srtp crosscheck/{suite}/{label}".encode()).digest()[: key_len + salt_len]


def rtcp_compounds(ssrc):
    """An SR + RR + SDES compound (~100 bytes) and an RR + BYE compound."""
    block = struct.pack("!IB3sIIII", 0x0BADCAFE, 12, (345).to_bytes(3, "big"), 0x0001_2345, 77, 0x1234_5678, 0x0002_0000)
    sr = struct.pack("!BBHIQIII", 0x81, 200, 12, ssrc, 0xE8_12_34_56_78_9A_BC_DE, 160_000, 500, 80_000) + block
    rr = struct.pack("!BBHI", 0x81, 201, 7, ssrc) + block
    cname = b"vtcq@example.invalid"
    item = bytes([1, len(cname)]) + cname
    chunk = struct.pack("!I", ssrc) + item
    chunk += bytes(4 - len(chunk) % 4)
    sdes = struct.pack("!BBH", 0x81, 202, len(chunk) // 4) + chunk
    reason = b"call ended"
    bye_body = struct.pack("!I", ssrc) + bytes([len(reason)]) + reason
    bye_body += bytes(-len(bye_body) % 4)
    bye = struct.pack("!BBH", 0x81, 203, len(bye_body) // 4) + bye_body
    return [sr + rr + sdes, rr + bye]


def rtp_packet(ssrc, seq, extended):
    """RTP with a 160-byte payload; `extended` adds a CSRC and a one-word header extension."""
    if extended:
        header = struct.pack("!BBHII", 0x91, 0x60, seq, 0x0102_0304 + seq, ssrc)
        header += struct.pack("!I", 0xCAFEBABE) + struct.pack("!HH", 0xBEDE, 1) + bytes([0x10, 0xAA, 0, 0])
    else:
        header = struct.pack("!BBHII", 0x80, 0x6F, seq, 0x0102_0304 + seq, ssrc)
    return header + bytes((seq * 7 + i) % 256 for i in range(160))


def hexs(data):
    return data.hex() if data else "-"


def generate(out):
    version = check_layout()
    out.write(f"# Generated by `python3 collector/tests/srtp_crosscheck.py generate` with {version}\n")
    out.write(f"# (pylibsrtp {pylibsrtp.__version__}). libsrtp protected every packet; vtcq must read and reproduce them.\n")
    ssrc = 0x5EC0DE01
    for suite in LENGTHS:
        for mki in (b"", b"\x00\x00\x00\x07"):
            label = f"mki={mki.hex() or 'none'}"
            key = case_key(suite, label)
            for encrypted in (True, False):
                session = Session(suite, key, mki, ssrc, rtcp_encrypted=encrypted)
                for plain in rtcp_compounds(ssrc):
                    protected = session.protect_rtcp(plain)
                    out.write(f"srtcp {suite} {key.hex()} {hexs(mki)} {plain.hex()} {protected.hex()}\n")
            # ROC 0 from the start, then a session whose ROC is set near 2^32 and wraps.
            session = Session(suite, key, mki, ssrc)
            for seq, extended in ((1, False), (2, True)):
                plain = rtp_packet(ssrc, seq, extended)
                out.write(f"srtp {suite} {key.hex()} {hexs(mki)} 0 {plain.hex()} {session.protect_rtp(plain).hex()}\n")
            session = Session(suite, key, mki, ssrc)
            roc = 0xFFFF_FFFE
            session.set_roc(roc)
            for seq in (65534, 65535, 0, 1):
                if seq == 0:
                    roc += 1
                plain = rtp_packet(ssrc, seq, seq == 65535)
                out.write(f"srtp {suite} {key.hex()} {hexs(mki)} {roc} {plain.hex()} {session.protect_rtp(plain).hex()}\n")


def unprotect(lines, out):
    check_layout()
    for line in lines:
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        kind, suite, key = fields[0], fields[1], bytes.fromhex(fields[2])
        mki = b"" if fields[3] == "-" else bytes.fromhex(fields[3])
        try:
            if kind == "srtcp":
                packet = bytes.fromhex(fields[4])
                ssrc = struct.unpack("!I", packet[4:8])[0]
                # libsrtp as a receiver enforces its policy's E flag (RFC 4568 section
                # 6.3.2: UNENCRYPTED_SRTCP means E = 0 on every packet), so the session is
                # told what the sender declared; vtcq honours each packet's E flag.
                trailer = len(mki) + (0 if suite.startswith("AEAD") else 10)
                word_at = len(packet) - trailer - 4
                encrypted = packet[word_at] & 0x80 != 0
                session = Session(suite, key, mki, ssrc, rtcp_encrypted=encrypted)
                plain = session.unprotect_rtcp(packet)
            else:
                roc, packet = int(fields[4]), bytes.fromhex(fields[5])
                ssrc = struct.unpack("!I", packet[8:12])[0]
                session = Session(suite, key, mki, ssrc)
                if roc:
                    # A pending ROC makes libsrtp take ROC || SEQ as the index as it is.
                    session.set_roc(roc)
                plain = session.unprotect_rtp(packet)
            out.write(f"ok {plain.hex()}\n")
        except LibsrtpError as e:
            out.write(f"error {e}\n")


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "generate":
        generate(sys.stdout)
    elif mode == "unprotect":
        unprotect(sys.stdin, sys.stdout)
    else:
        sys.exit(__doc__)
