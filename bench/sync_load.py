#!/usr/bin/env python3
"""Load and latency driver for bench/sync.sh (stdlib only).

  sync_load.py load --base URL --tenant T --school S --count N [--concurrency C] [--prefix P]
      POSTs N incidents to URL/v1/incidents over C keep-alive connections
      (asyncio, raw HTTP/1.1) and prints one JSON line:
      {"requests","ok","non2xx","seconds","rps","first_error"}.
      Exits 1 if any request failed: a failed write is never part of a number.

  sync_load.py fresh --central URL --edge URL,SCHOOL [--edge URL,SCHOOL ...]
                     --tenant T --count N [--poll-ms MS] [--think-ms THINK]
      Per edge (one thread each, all at once): N times, POST one incident at
      the edge, then poll central's GET /v1/incidents/{id} every MS ms until
      it answers 200, then pause a random 0..THINK ms (--think-ms, seeded per
      school) so writes do not fall in step with the edge's publish loop.
      The latency is from just before the POST is sent to the first 200
      centrally (so it includes the edge's own write).
      Prints one JSON line: {"samples","p50_ms","p90_ms","p99_ms","max_ms",
      "write_p50_ms","per_edge":[...]}.

  sync_load.py wait --url EDGE --tenant T --school S --t0-ns NS --until drained|down|ok
                    [--min-last Q] [--cursor C] [--from-cursor C0] [--pid PID] [--poll-ms MS]
      Polls the edge's GET /v1/sync/status until: "drained" (outboxDepth 0,
      confirmedSeq == lastSeq >= Q, state ok), "down" (downCursor >= C) or
      "ok" (state ok). Times are seconds since NS (epoch ns, taken by the
      caller just before it started the edge). Prints one JSON line:
      {"seconds","first_progress_s","ready_s","central_first_s","central_done_s",
       "polls","status","vm_hwm_kib"}.
      first_progress_s: first poll that saw confirmedSeq > 0 (drained) or
      downCursor > C0 (down); ready_s: first poll that got an answer. With
      --central (drained), central's GET /v1/sync/edges is watched until its
      appliedSeq reaches Q (central_first_s: first > 0, central_done_s: >= Q;
      central_stalls: [start s, length s] of every pause >= 2 s in its
      progress) before the edge is polled again: the edge's status counts its whole
      outbox on every call, which would load the edge being measured.
"""

import argparse
import asyncio
import http.client
import json
import random
import sys
import threading
import time
import urllib.parse


def body_for(prefix, n):
    return json.dumps(
        {
            "deviceId": f"dev_{prefix}_{n}",
            "title": "Sync bench incident",
            "severity": "medium",
            "category": "hardware",
        }
    ).encode()


async def read_response(reader):
    line = await reader.readline()
    if not line:
        raise ConnectionError("connection closed")
    status = int(line.split()[1])
    length, chunked, close = 0, False, False
    while True:
        h = await reader.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode("latin-1").partition(":")
        k, v = k.strip().lower(), v.strip().lower()
        if k == "content-length":
            length = int(v)
        elif k == "transfer-encoding" and "chunked" in v:
            chunked = True
        elif k == "connection" and v == "close":
            close = True
    if chunked:
        body = b""
        while True:
            size = int((await reader.readline()).strip(), 16)
            if size == 0:
                await reader.readline()
                break
            body += await reader.readexactly(size)
            await reader.readline()
    else:
        body = await reader.readexactly(length) if length else b""
    return status, body, close


async def load(args):
    u = urllib.parse.urlparse(args.base)
    host, port = u.hostname, u.port or 80
    counter = iter(range(args.count))
    stats = {"ok": 0, "non2xx": 0, "first_error": ""}

    async def worker():
        reader = writer = None
        for n in counter:
            body = body_for(args.prefix, n)
            req = (
                f"POST /v1/incidents HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Content-Type: application/json\r\nX-Tenant-ID: {args.tenant}\r\n"
                f"X-School-ID: {args.school}\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            for attempt in (1, 2):
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                try:
                    writer.write(req)
                    await writer.drain()
                    status, rbody, close = await read_response(reader)
                    break
                except (ConnectionError, asyncio.IncompleteReadError):
                    # A keep-alive connection the server closed before we
                    # sent: nothing was written; retry once on a new one.
                    writer.close()
                    writer = None
                    if attempt == 2:
                        raise
            if 200 <= status < 300:
                stats["ok"] += 1
            else:
                stats["non2xx"] += 1
                if not stats["first_error"]:
                    stats["first_error"] = f"{status} {rbody[:200].decode('utf-8', 'replace')}"
            if close:
                writer.close()
                writer = None
        if writer is not None:
            writer.close()

    t0 = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    secs = time.monotonic() - t0
    out = {
        "requests": args.count,
        "ok": stats["ok"],
        "non2xx": stats["non2xx"],
        "seconds": round(secs, 3),
        "rps": round(stats["ok"] / secs, 1) if secs > 0 else 0,
        "first_error": stats["first_error"],
    }
    print(json.dumps(out), flush=True)
    return 0 if stats["non2xx"] == 0 and stats["ok"] == args.count else 1


def pct(sorted_ms, q):
    if not sorted_ms:
        return None
    i = max(1, min(len(sorted_ms), int(-(-q * len(sorted_ms) // 1)))) - 1
    return round(sorted_ms[i], 1)


def fresh_one(central, edge, school, tenant, count, poll_s, think_s, result):
    rnd = random.Random(school)
    eu, cu = urllib.parse.urlparse(edge), urllib.parse.urlparse(central)
    ec = http.client.HTTPConnection(eu.hostname, eu.port, timeout=30)
    cc = http.client.HTTPConnection(cu.hostname, cu.port, timeout=30)
    hdr = {"X-Tenant-ID": tenant, "X-School-ID": school}
    lat, writes = [], []
    try:
        for n in range(count):
            body = body_for(f"fresh_{school}", n)
            t0 = time.monotonic()
            ec.request("POST", "/v1/incidents", body, {**hdr, "Content-Type": "application/json"})
            r = ec.getresponse()
            data = r.read()
            if r.status != 201:
                raise RuntimeError(f"edge {school}: POST answered {r.status}: {data[:200]!r}")
            t1 = time.monotonic()
            iid = json.loads(data)["id"]
            deadline = t1 + 60
            while True:
                cc.request("GET", f"/v1/incidents/{iid}", headers=hdr)
                r = cc.getresponse()
                r.read()
                if r.status == 200:
                    break
                if r.status != 404:
                    raise RuntimeError(f"central: GET {iid} answered {r.status}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{iid} not visible centrally after 60 s")
                time.sleep(poll_s)
            t2 = time.monotonic()
            lat.append((t2 - t0) * 1000)
            writes.append((t1 - t0) * 1000)
            # A school writes at random moments, not in step with the
            # edge's publish loop: a seeded random pause before the next.
            time.sleep(rnd.uniform(0, think_s))
        result.update(school=school, latencies=lat, writes=writes)
    except Exception as e:  # reported by the main thread
        result.update(school=school, error=str(e))


def fresh(args):
    threads, results = [], []
    for spec in args.edge:
        url, _, school = spec.partition(",")
        res = {}
        results.append(res)
        threads.append(
            threading.Thread(
                target=fresh_one,
                args=(args.central, url, school, args.tenant, args.count, args.poll_ms / 1000,
                      args.think_ms / 1000, res),
            )
        )
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        print(json.dumps({"error": errors}), flush=True)
        return 1
    allv = sorted(v for r in results for v in r["latencies"])
    w = sorted(v for r in results for v in r["writes"])
    per_edge = []
    for r in results:
        s = sorted(r["latencies"])
        per_edge.append({"school": r["school"], "p50_ms": pct(s, 0.5), "p99_ms": pct(s, 0.99)})
    print(
        json.dumps(
            {
                "samples": len(allv),
                "p50_ms": pct(allv, 0.5),
                "p90_ms": pct(allv, 0.9),
                "p99_ms": pct(allv, 0.99),
                "max_ms": round(allv[-1], 1),
                "write_p50_ms": pct(w, 0.5),
                "per_edge": per_edge,
            }
        ),
        flush=True,
    )
    return 0


def proc_kib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def wait(args):
    hdr = {"X-Tenant-ID": args.tenant, "X-School-ID": args.school}
    since = lambda: (time.time_ns() - args.t0_ns) / 1e9
    deadline = time.monotonic() + args.timeout
    conns = {}
    hwm = None

    def get(url, path):
        """(status, body) or None while the server does not answer yet."""
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {args.timeout} s")
        u = urllib.parse.urlparse(url)
        try:
            c = conns.get(url) or http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            conns[url] = c
            c.request("GET", path, headers=hdr)
            r = c.getresponse()
            return r.status, r.read()
        except (OSError, http.client.HTTPException):
            conns.pop(url, None)
            return None

    def status():
        nonlocal hwm
        while True:
            got = get(args.url, "/v1/sync/status")
            if got is None:
                time.sleep(0.005)
                continue
            if got[0] != 200:
                raise RuntimeError(f"status answered {got[0]}: {got[1][:200]!r}")
            if args.pid:
                hwm = proc_kib(args.pid, "VmHWM") or hwm
            return since(), json.loads(got[1])

    out = {"first_progress_s": None, "central_first_s": None, "central_done_s": None}
    try:
        out["ready_s"], s = status()
        polls = 1
        # While central has not applied everything yet, watch its fleet view
        # (cheap) instead of the edge's status (whose outbox count scans the
        # whole outbox: tens of ms per call at 100,000 queued changes).
        if args.until == "drained" and args.central:
            path = f"/v1/sync/edges?schoolId={urllib.parse.quote(args.school)}"
            last_applied, moved_at, stalls = -1, 0.0, []
            out["central_stalls"] = stalls
            while True:
                got = get(args.central, path)
                if got is None or got[0] != 200:
                    raise RuntimeError(f"central's /v1/sync/edges: {got}")
                items = json.loads(got[1])["items"]
                applied = items[0]["appliedSeq"] if items else -1
                t = since()
                if args.pid:
                    hwm = proc_kib(args.pid, "VmHWM") or hwm
                if applied > 0 and out["central_first_s"] is None:
                    out["central_first_s"] = round(t, 3)
                if applied != last_applied:
                    # A pause of 2 s or more in central's progress.
                    if last_applied > 0 and t - moved_at >= 2:
                        stalls.append([round(moved_at, 1), round(t - moved_at, 1)])
                    last_applied, moved_at = applied, t
                if applied >= args.min_last:
                    out["central_done_s"] = round(t, 3)
                    break
                time.sleep(args.poll_ms / 1000)
        while True:
            t, s = status()
            polls += 1
            if out["first_progress_s"] is None:
                if args.until == "drained" and s.get("confirmedSeq", 0) > 0:
                    out["first_progress_s"] = round(t, 3)
                if args.until == "down" and s.get("downCursor", 0) > args.from_cursor:
                    out["first_progress_s"] = round(t, 3)
            if args.until == "drained":
                done = (
                    s.get("state") == "ok"
                    and s.get("outboxDepth") == 0
                    and s.get("confirmedSeq") == s.get("lastSeq")
                    and s.get("lastSeq", 0) >= args.min_last
                )
            elif args.until == "down":
                done = s.get("downCursor", 0) >= args.cursor
            else:
                done = s.get("state") == "ok"
            if done:
                break
            time.sleep(args.poll_ms / 1000)
    except (TimeoutError, RuntimeError) as e:
        print(json.dumps({"error": str(e)}), flush=True)
        return 1
    out.update(seconds=round(t, 3), ready_s=round(out["ready_s"], 3), polls=polls, status=s, vm_hwm_kib=hwm)
    print(json.dumps(out), flush=True)
    return 0


def js_api(port, subject):
    """One JetStream API request over a raw NATS connection (no client
    library needed): returns the decoded JSON answer."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        f = sock.makefile("rb")
        f.readline()  # INFO
        sock.sendall(
            b'CONNECT {"verbose":false,"pedantic":false,"headers":false}\r\n'
            b"SUB _INBOX.essp_bench 1\r\n"
            + f"PUB {subject} _INBOX.essp_bench 0\r\n\r\n".encode()
        )
        while True:
            line = f.readline()
            if not line or line.startswith(b"-ERR"):
                raise RuntimeError(f"NATS: {line!r}")
            if line.startswith(b"PING"):
                sock.sendall(b"PONG\r\n")
            if line.startswith(b"MSG"):
                n = int(line.split()[-1])
                return json.loads(f.read(n + 2)[:-2])


def jsinfo(args):
    out = {}
    for name in ("ESSP_SYNC_UP", "ESSP_SYNC_DOWN"):
        st = js_api(args.port, f"$JS.API.STREAM.INFO.{name}").get("state", {})
        out[name] = {"messages": st.get("messages"), "bytes": st.get("bytes")}
    c = js_api(args.port, "$JS.API.CONSUMER.INFO.ESSP_SYNC_UP.essp-sync-up")
    out["up_consumer"] = {
        "delivered": c.get("delivered", {}).get("consumer_seq"),
        "ack_floor_stream_seq": c.get("ack_floor", {}).get("stream_seq"),
        "num_redelivered": c.get("num_redelivered"),
    }
    print(json.dumps(out), flush=True)
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    lp = sub.add_parser("load")
    lp.add_argument("--base", required=True)
    lp.add_argument("--tenant", required=True)
    lp.add_argument("--school", required=True)
    lp.add_argument("--count", type=int, required=True)
    lp.add_argument("--concurrency", type=int, default=16)
    lp.add_argument("--prefix", default="load")
    fp = sub.add_parser("fresh")
    fp.add_argument("--central", required=True)
    fp.add_argument("--edge", action="append", required=True, help="URL,SCHOOL")
    fp.add_argument("--tenant", required=True)
    fp.add_argument("--count", type=int, default=200)
    fp.add_argument("--poll-ms", type=float, default=5)
    fp.add_argument("--think-ms", type=float, default=300, help="random pause 0..MS after each visible write")
    wp = sub.add_parser("wait")
    wp.add_argument("--url", required=True)
    wp.add_argument("--tenant", required=True)
    wp.add_argument("--school", required=True)
    wp.add_argument("--t0-ns", type=int, required=True)
    wp.add_argument("--until", choices=["drained", "down", "ok"], required=True)
    wp.add_argument("--min-last", type=int, default=0)
    wp.add_argument("--cursor", type=int, default=0)
    wp.add_argument("--from-cursor", type=int, default=0)
    wp.add_argument("--pid", type=int, default=0)
    wp.add_argument("--central", default="", help="central's URL: watch its appliedSeq first (drained)")
    wp.add_argument("--poll-ms", type=float, default=100)
    wp.add_argument("--timeout", type=float, default=1800)
    jp = sub.add_parser("jsinfo")
    jp.add_argument("--port", type=int, required=True)
    args = p.parse_args()
    if args.cmd == "jsinfo":
        return jsinfo(args)
    if args.cmd == "load":
        return asyncio.run(load(args))
    if args.cmd == "wait":
        return wait(args)
    return fresh(args)


if __name__ == "__main__":
    sys.exit(main())
