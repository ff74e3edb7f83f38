#!/usr/bin/python3
"""An independent ext_authz v3 client: Python grpcio (Debian's python3-grpcio) with a hand-written protobuf codec.

It shares no code with the server (no protobufjs, no generated stubs): requests are encoded and responses decoded
here from the field numbers in Envoy's protos. The end-to-end tests drive the server with it; it is also handy by
hand:

  /usr/bin/python3 test/python/authz_client.py --target 127.0.0.1:9191 check --request examples/requests/allowed.json
  /usr/bin/python3 test/python/authz_client.py --target 127.0.0.1:9191 health

Every command prints JSON lines on stdout.
"""
import argparse
import json
import sys
import threading

import grpc

CHECK = "/envoy.service.auth.v3.Authorization/Check"
HEALTH_CHECK = "/grpc.health.v1.Health/Check"
HEALTH_WATCH = "/grpc.health.v1.Health/Watch"
SERVING = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}
GRPC_NAMES = {0: "OK", 7: "PERMISSION_DENIED", 14: "UNAVAILABLE", 16: "UNAUTHENTICATED"}


# --- protobuf wire format: just what the ext_authz messages need -------------------------------------------------

def varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_bytes(num, data):
    return varint(num << 3 | 2) + varint(len(data)) + data


def field_str(num, s):
    return field_bytes(num, s.encode("utf-8")) if s else b""


def field_varint(num, n):
    return varint(num << 3 | 0) + varint(n) if n else b""


def field_msg(num, data):
    return field_bytes(num, data) if data is not None else b""


def map_entries(num, mapping):
    return b"".join(field_bytes(num, field_str(1, k) + field_str(2, v)) for k, v in (mapping or {}).items())


def decode(buf):
    """bytes -> {field number: [values]} (varints as int, length-delimited as bytes)."""
    fields, i = {}, 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, i = read_varint(buf, i)
        elif wt == 2:
            n, i = read_varint(buf, i)
            val, i = buf[i:i + n], i + n
        elif wt == 1:
            val, i = buf[i:i + 8], i + 8
        elif wt == 5:
            val, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("unsupported wire type %d" % wt)
        fields.setdefault(num, []).append(val)
    return fields


def read_varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def first(fields, num, default=None):
    vals = fields.get(num)
    return vals[0] if vals else default


# --- CheckRequest from proto3 JSON (camelCase or snake_case) ---------------------------------------------------

def get(obj, camel):
    """Reads a field by its lowerCamelCase or snake_case name."""
    if not isinstance(obj, dict):
        return None
    if camel in obj:
        return obj[camel]
    snake = "".join("_" + c.lower() if c.isupper() else c for c in camel)
    return obj.get(snake)


def encode_address(addr):
    sock = get(addr, "socketAddress")
    if not sock:
        return None
    return field_msg(1, field_str(2, get(sock, "address") or "") + field_varint(3, int(get(sock, "portValue") or 0)))


def encode_peer(peer):
    if not peer:
        return None
    return (field_msg(1, encode_address(get(peer, "address") or {}))
            + field_str(2, get(peer, "service") or "")
            + map_entries(3, get(peer, "labels"))
            + field_str(4, get(peer, "principal") or "")
            + field_str(5, get(peer, "certificate") or ""))


def encode_check_request(req):
    attrs = get(req, "attributes") or {}
    http = get(get(attrs, "request") or {}, "http") or {}
    http_bytes = (field_str(1, get(http, "id") or "")
                  + field_str(2, get(http, "method") or "")
                  + map_entries(3, get(http, "headers"))
                  + field_str(4, get(http, "path") or "")
                  + field_str(5, get(http, "host") or "")
                  + field_str(6, get(http, "scheme") or "")
                  + field_str(10, get(http, "protocol") or ""))
    request_bytes = field_msg(2, http_bytes) if http else b""
    attr_bytes = (field_msg(1, encode_peer(get(attrs, "source")))
                  + field_msg(2, encode_peer(get(attrs, "destination")))
                  + (field_msg(4, request_bytes) if request_bytes else b"")
                  + map_entries(10, get(attrs, "contextExtensions")))
    return field_msg(1, attr_bytes)


def decode_check_response(buf):
    f = decode(buf)
    status = decode(first(f, 1, b""))
    code = first(status, 1, 0)
    out = {"code": code, "status": GRPC_NAMES.get(code, str(code)),
           "message": first(status, 2, b"").decode("utf-8")}
    if 2 in f:
        denied = decode(f[2][0])
        out["denied"] = True
        out["httpStatus"] = first(decode(first(denied, 1, b"")), 1, 0)
        out["headers"] = headers_of(denied.get(2, []))
        out["body"] = first(denied, 3, b"").decode("utf-8")
    if 3 in f:
        ok = decode(f[3][0])
        out["ok"] = True
        out["headers"] = headers_of(ok.get(2, []))
    out["hasDynamicMetadata"] = 4 in f
    return out


def headers_of(options):
    headers = {}
    for opt in options:
        hv = decode(first(decode(opt), 1, b""))
        headers[first(hv, 1, b"").decode("utf-8")] = first(hv, 2, b"").decode("utf-8")
    return headers


# --- commands -----------------------------------------------------------------------------------------------

def channel(args):
    if not args.ca:
        return grpc.insecure_channel(args.target)
    read = lambda p: open(p, "rb").read() if p else None
    creds = grpc.ssl_channel_credentials(read(args.ca), read(args.key), read(args.cert))
    options = [("grpc.ssl_target_name_override", args.server_name)] if args.server_name else []
    return grpc.secure_channel(args.target, creds, options=options)


def build_request(args):
    if args.request:
        with (sys.stdin if args.request == "-" else open(args.request)) as fh:
            return encode_check_request(json.load(fh))
    headers = {":authority": args.host, ":path": args.path, ":method": args.method}
    for h in args.header or []:
        k, _, v = h.partition(":")
        headers[k.strip().lower()] = v.strip()
    ext = dict(e.split("=", 1) for e in (args.ext or []))
    return encode_check_request({"attributes": {
        "request": {"http": {"method": args.method, "path": args.path, "host": args.host, "headers": headers}},
        "contextExtensions": ext,
    }})


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def cmd_check(ch, args):
    call = ch.unary_unary(CHECK)
    emit(decode_check_response(call(build_request(args), timeout=args.timeout)))


def cmd_burst(ch, args):
    """Sends --count checks concurrently, reports once all are on the wire, then each answer as it lands."""
    call = ch.unary_unary(CHECK)
    req = build_request(args)
    futures = [call.future(req, timeout=args.timeout) for _ in range(args.count)]
    emit({"sent": args.count})
    for fut in futures:
        try:
            emit(decode_check_response(fut.result()))
        except grpc.RpcError as err:
            emit({"rpcError": err.code().name, "details": err.details()})


def cmd_health(ch, args):
    call = ch.unary_unary(HEALTH_CHECK)
    try:
        res = decode(call(field_str(1, args.service), timeout=args.timeout))
        emit({"status": SERVING.get(first(res, 1, 0))})
    except grpc.RpcError as err:
        emit({"rpcError": err.code().name, "details": err.details()})


def cmd_watch(ch, args):
    call = ch.unary_stream(HEALTH_WATCH)
    try:
        for msg in call(field_str(1, args.service)):
            emit({"status": SERVING.get(first(decode(msg), 1, 0))})
        emit({"end": "OK"})
    except grpc.RpcError as err:
        emit({"end": err.code().name})


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", required=True)
    p.add_argument("--ca")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--server-name")
    p.add_argument("--timeout", type=float, default=5.0)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("check", "burst"):
        c = sub.add_parser(name)
        c.add_argument("--request")
        c.add_argument("--path", default="/")
        c.add_argument("--method", default="GET")
        c.add_argument("--host", default="localhost")
        c.add_argument("--header", action="append")
        c.add_argument("--ext", action="append", help="context extension key=value")
        if name == "burst":
            c.add_argument("--count", type=int, default=10)
    for name in ("health", "watch"):
        c = sub.add_parser(name)
        c.add_argument("--service", default="")
    args = p.parse_args()
    with channel(args) as ch:
        {"check": cmd_check, "burst": cmd_burst, "health": cmd_health, "watch": cmd_watch}[args.cmd](ch, args)


if __name__ == "__main__":
    main()
