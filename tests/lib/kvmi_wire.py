"""The byte layouts of QEMU's introspection handshake and of KVMI v8.

Written straight from docs/kvmi.rst, independently of the C code of
vmi-tool and of the emulator, so that tests of either can check its bytes
field by field against the documented layouts. Stdlib only.

Byte order is host-native everywhere (struct's '=' prefix: native order,
standard sizes, no implicit alignment); every padding and hole of the C
structs is spelled out, and the sizes and offsets docs/kvmi.rst gives are
asserted at import time.
"""

import collections
import hashlib
import struct

# ---------------------------------------------------------------------------
# Handshake, QEMU -> tool (RFC layout, 104 + 24 * n bytes)
#
#   struct qemu_vmi_e820_entry { u64 address; u64 length; u32 type; u32 padding; };   /* 24 */
#   struct qemu_vmi_to_introspector_x86 { u8 e820_count; u8 padding[3];
#                                         /* 4-byte hole */ e820_entries[0]; };       /* 8 */
#   struct qemu_vmi_to_introspector {
#       u32 struct_size; /* 0 */  u8 uuid[16]; /* 4 */  u8 cpu_type; /* 20 */
#       u8 padding[3];  /* 21 */ s64 start_time; /* 24 */ char name[64]; /* 32 */
#       struct qemu_vmi_to_introspector_x86 arch; /* 96 */ };
# ---------------------------------------------------------------------------

E820_ENTRY = struct.Struct('=QQII')
E820_ENTRY_SIZE = 24

_HS_FIELDS = [           # (name, format, offset in docs/kvmi.rst)
    ('struct_size', 'I', 0),
    ('uuid', '16s', 4),
    ('cpu_type', 'B', 20),
    ('padding', '3s', 21),
    ('start_time', 'q', 24),
    ('name', '64s', 32),
    ('e820_count', 'B', 96),
    ('arch_padding', '3s', 97),
    ('arch_hole', '4s', 100),
]
HANDSHAKE = struct.Struct('=' + ''.join(f for _, f, _ in _HS_FIELDS))
HANDSHAKE_FIXED_SIZE = 104          # with the arch part, before the e820 entries
HANDSHAKE_E820_OFFSET = 104
HANDSHAKE_MIN_SIZE = 32             # what a tool must accept (libkvmi)
HANDSHAKE_NAME_END = 96
HANDSHAKE_MAX_E820 = 8              # QEMU sends at most 8 entries

CPU_TYPE_I386 = 0
CPU_TYPE_X86_64 = 1
CPU_TYPE_UNKNOWN = 255

QemuHandshake = collections.namedtuple('QemuHandshake', [n for n, _, _ in _HS_FIELDS] + ['e820'])
E820Entry = collections.namedtuple('E820Entry', 'address length type padding')


def handshake_size(e820_count):
    """struct_size of an RFC handshake with @e820_count entries."""
    return HANDSHAKE_FIXED_SIZE + E820_ENTRY_SIZE * e820_count


def pack_qemu_handshake(uuid=bytes(16), cpu_type=CPU_TYPE_X86_64, start_time=0, name=b'',
                        e820=(), struct_size=None, padding=bytes(3), e820_count=None):
    """The handshake QEMU sends. @name is str or bytes (NUL-padded to 64).
    @e820 holds (address, length, type) tuples. @struct_size and
    @e820_count override the computed values (to build inconsistent data)."""
    if isinstance(name, str):
        name = name.encode()
    assert len(uuid) == 16 and len(name) <= 64
    count = len(e820) if e820_count is None else e820_count
    size = handshake_size(len(e820)) if struct_size is None else struct_size
    data = HANDSHAKE.pack(size, bytes(uuid), cpu_type, padding, start_time, name,
                          count, bytes(3), bytes(4))
    for entry in e820:
        address, length, etype = entry[:3]
        data += E820_ENTRY.pack(address, length, etype, 0)
    return data


def unpack_qemu_handshake(data):
    """Parses a whole handshake (at least HANDSHAKE_FIXED_SIZE bytes)."""
    fields = list(HANDSHAKE.unpack_from(data))
    count = fields[6]
    entries = [E820Entry(*E820_ENTRY.unpack_from(data, HANDSHAKE_E820_OFFSET + i * E820_ENTRY_SIZE))
               for i in range(count)]
    return QemuHandshake(*fields, entries)


def handshake_name(raw):
    """The name field as QEMU means it: NUL-terminated."""
    return raw.split(b'\0', 1)[0].decode('utf-8', 'replace')


# ---------------------------------------------------------------------------
# Handshake, tool -> QEMU (24 bytes)
#   struct qemu_vmi_from_introspector { u32 struct_size; u8 cookie_hash[20]; };
# ---------------------------------------------------------------------------

TOOL_REPLY = struct.Struct('=I20s')
TOOL_REPLY_SIZE = 24
COOKIE_HASH_SIZE = 20
ToolReply = collections.namedtuple('ToolReply', 'struct_size cookie_hash')


def cookie_hash(key):
    """SHA-1 over all bytes of the secret's value (a file's newline included)."""
    return hashlib.sha1(key).digest()


def pack_tool_reply(cookie=bytes(COOKIE_HASH_SIZE), struct_size=TOOL_REPLY_SIZE):
    return TOOL_REPLY.pack(struct_size, cookie)


def unpack_tool_reply(data):
    return ToolReply(*TOOL_REPLY.unpack_from(data))


# ---------------------------------------------------------------------------
# KVMI v8
# ---------------------------------------------------------------------------

MSG_HDR = struct.Struct('=HHI')             # u16 id; u16 size; u32 seq
MSG_HDR_SIZE = 8
ERROR_CODE = struct.Struct('=iI')           # s32 err; u32 padding
ERROR_CODE_SIZE = 8
MAX_PAYLOAD = 8184
MsgHdr = collections.namedtuple('MsgHdr', 'id size seq')
ErrorCode = collections.namedtuple('ErrorCode', 'err padding')

KVM_EPERM = 1
KVM_ENOENT = 2
KVM_EBUSY = 16
KVM_EINVAL = 22
KVM_EOPNOTSUPP = 95
KVM_ENOSYS = 1000
ERROR_NAMES = {KVM_EPERM: 'EPERM', KVM_ENOENT: 'ENOENT', KVM_EBUSY: 'EBUSY',
               KVM_EINVAL: 'EINVAL', KVM_EOPNOTSUPP: 'EOPNOTSUPP', KVM_ENOSYS: 'ENOSYS'}

KVMI_EVENT = 1                              # the message id events arrive with
COMMANDS = {
    'get-version': 2, 'vm-check-command': 3, 'vm-check-event': 4, 'vm-get-info': 5,
    'vm-control-events': 6, 'vm-read-physical': 7, 'vm-write-physical': 8,
    'vcpu-get-info': 9, 'vcpu-pause': 10, 'vcpu-control-events': 11,
    'vcpu-get-registers': 12, 'vcpu-set-registers': 13, 'vcpu-get-cpuid': 14,
    'vcpu-control-cr': 15, 'vcpu-inject-exception': 16, 'vm-get-max-gfn': 17,
    'vcpu-get-xsave': 18, 'vcpu-get-mtrr-type': 19, 'vcpu-control-msr': 20,
    'vm-set-page-access': 21, 'vcpu-control-singlestep': 22, 'vcpu-translate-gva': 23,
}
EVENTS = {
    'unhook': 0, 'pause-vcpu': 1, 'hypercall': 2, 'breakpoint': 3, 'cr': 4, 'trap': 5,
    'xsetbv': 6, 'descriptor': 7, 'msr': 8, 'pf': 9, 'singlestep': 10,
}
GET_VERSION = COMMANDS['get-version']
VM_CHECK_COMMAND = COMMANDS['vm-check-command']
VM_CHECK_EVENT = COMMANDS['vm-check-event']
VM_GET_INFO = COMMANDS['vm-get-info']
VM_CONTROL_EVENTS = COMMANDS['vm-control-events']
EVENT_UNHOOK = EVENTS['unhook']
ALWAYS_ALLOWED = (GET_VERSION, VM_CHECK_COMMAND, VM_CHECK_EVENT)

# struct kvmi_get_version_reply { u32 version; u32 padding; struct { u8 singlestep; u8 padding[7]; } features; };
GET_VERSION_REPLY = struct.Struct('=II B7s')
GetVersionReply = collections.namedtuple('GetVersionReply', 'version padding singlestep features_padding')
KVMI_VERSION = 1
# struct kvmi_vm_check_command / _event { u16 id; u16 padding1; u32 padding2; };
VM_CHECK = struct.Struct('=HHI')
VmCheck = collections.namedtuple('VmCheck', 'id padding1 padding2')
# struct kvmi_vm_get_info_reply { u32 vcpu_count; u32 padding[3]; };
VM_GET_INFO_REPLY = struct.Struct('=I12s')
VmGetInfoReply = collections.namedtuple('VmGetInfoReply', 'vcpu_count padding')
# struct kvmi_vm_control_events { u16 event_id; u8 enable; u8 padding1; u32 padding2; };
VM_CONTROL_EVENTS_REQ = struct.Struct('=HBBI')
VmControlEvents = collections.namedtuple('VmControlEvents', 'event_id enable padding1 padding2')
# struct kvmi_event { u16 size; u16 vcpu; u8 event; u8 padding[3]; u8 arch[536]; };
EVENT = struct.Struct('=HHB3s536s')
EVENT_SIZE = 544
Event = collections.namedtuple('Event', 'size vcpu event padding arch')


def pack_hdr(msg_id, size, seq):
    return MSG_HDR.pack(msg_id, size, seq)


def unpack_hdr(data):
    return MsgHdr(*MSG_HDR.unpack_from(data))


def pack_message(msg_id, seq, payload=b''):
    """A whole message: header and payload, to go out in one send."""
    return pack_hdr(msg_id, len(payload), seq) + payload


def pack_reply(request, err=0, payload=b''):
    """The kernel's reply to @request (a MsgHdr): error code, then the
    payload only if err == 0. @err is given positive (KVM_E*) or 0."""
    body = ERROR_CODE.pack(-err, 0) + (payload if err == 0 else b'')
    return pack_message(request.id, request.seq, body)


def unpack_error_code(data):
    return ErrorCode(*ERROR_CODE.unpack_from(data))


def pack_get_version_reply(version=KVMI_VERSION, singlestep=0):
    return GET_VERSION_REPLY.pack(version, 0, singlestep, bytes(7))


def unpack_get_version_reply(data):
    return GetVersionReply(*GET_VERSION_REPLY.unpack_from(data))


def pack_vm_check(ident, padding1=0, padding2=0):
    return VM_CHECK.pack(ident, padding1, padding2)


def unpack_vm_check(data):
    return VmCheck(*VM_CHECK.unpack_from(data))


def pack_vm_get_info_reply(vcpu_count):
    return VM_GET_INFO_REPLY.pack(vcpu_count, bytes(12))


def unpack_vm_get_info_reply(data):
    return VmGetInfoReply(*VM_GET_INFO_REPLY.unpack_from(data))


def pack_vm_control_events(event_id, enable, padding1=0, padding2=0):
    return VM_CONTROL_EVENTS_REQ.pack(event_id, enable, padding1, padding2)


def unpack_vm_control_events(data):
    return VmControlEvents(*VM_CONTROL_EVENTS_REQ.unpack_from(data))


def pack_event(event, vcpu=0, size=EVENT_SIZE, arch=b''):
    return EVENT.pack(size, vcpu, event, bytes(3), arch)


def unpack_event(data):
    return Event(*EVENT.unpack_from(data))


def pack_event_message(seq, event=EVENT_UNHOOK, vcpu=0):
    """An event as the kernel sends it: hdr{KVMI_EVENT, 544, seq} + kvmi_event."""
    return pack_message(KVMI_EVENT, seq, pack_event(event, vcpu))


# ---------------------------------------------------------------------------
# Socket helpers
# ---------------------------------------------------------------------------

def recv_exact(sock, n):
    """Exactly @n bytes; raises EOFError if the peer closes first."""
    buf = b''
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError(f'peer closed after {len(buf)} of {n} bytes')
        buf += chunk
    return buf


def recv_message(sock):
    """One KVMI message: (MsgHdr, payload bytes)."""
    hdr = unpack_hdr(recv_exact(sock, MSG_HDR_SIZE))
    return hdr, recv_exact(sock, hdr.size)


def recv_tool_reply(sock):
    """The tool's handshake reply, read as QEMU does: 4 bytes, then the rest."""
    head = recv_exact(sock, 4)
    (size,) = struct.unpack('=I', head)
    rest = recv_exact(sock, size - 4) if size > 4 else b''
    return unpack_tool_reply(head + rest), head + rest


# ---------------------------------------------------------------------------
# The documented sizes and offsets (docs/kvmi.rst)
# ---------------------------------------------------------------------------

def _offsets(fields):
    off, out = 0, {}
    for name, fmt, _ in fields:
        out[name] = off
        off += struct.calcsize('=' + fmt)
    return out


assert E820_ENTRY.size == E820_ENTRY_SIZE == 24
assert HANDSHAKE.size == HANDSHAKE_FIXED_SIZE == 104
assert all(_offsets(_HS_FIELDS)[name] == off for name, _, off in _HS_FIELDS)
assert _offsets(_HS_FIELDS)['start_time'] + 8 == HANDSHAKE_MIN_SIZE == 32
assert _offsets(_HS_FIELDS)['name'] + 64 == HANDSHAKE_NAME_END == 96
assert handshake_size(HANDSHAKE_MAX_E820) == 104 + 24 * 8
assert TOOL_REPLY.size == TOOL_REPLY_SIZE == 24
assert MSG_HDR.size == MSG_HDR_SIZE == 8
assert ERROR_CODE.size == ERROR_CODE_SIZE == 8
assert GET_VERSION_REPLY.size == 16
assert VM_CHECK.size == 8
assert VM_GET_INFO_REPLY.size == 16
assert VM_CONTROL_EVENTS_REQ.size == 8
assert EVENT.size == EVENT_SIZE == 544
assert struct.calcsize('=HHB3s') == 8       # arch starts at 8
assert MSG_HDR_SIZE + MAX_PAYLOAD == 8192
assert sorted(COMMANDS.values()) == list(range(2, 24))
assert sorted(EVENTS.values()) == list(range(0, 11))
