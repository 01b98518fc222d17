#!/usr/bin/env python3
"""The end-to-end repair flow of bench/ims.sh, from THREADS clients at once.

One flow is what a school and its repair shop do for one fault:

  POST  /v1/incidents                         (auto-routed: a triage work order opens)
  GET   /v1/work-orders?incidentId=…          (the routed work order)
  PATCH /v1/work-orders/{wo}/status           in_repair
  POST  /v1/work-orders/{wo}/bom/items        reserve one part at the shop
  PATCH …/bom/items/{item}/consume            use it
  PATCH /v1/work-orders/{wo}/status           completed
  PATCH /v1/work-orders/{wo}/status           approved (resolves the incident)
  GET   /v1/incidents/{id}                    checks it is resolved

Prints one JSON line: flows, flows_per_s, p50/p99 of a whole flow in ms,
requests, errors (a failed flow is an error, never a number), and exits
non-zero if any flow failed.

  bench/ims_flow.py --base http://127.0.0.1:8080 --schools schools.txt --threads 16 --seconds 20
"""

import argparse
import http.client
import json
import random
import sys
import threading
import time
import urllib.parse

TENANT = "demo-tenant"


class Api:
    def __init__(self, base):
        u = urllib.parse.urlparse(base)
        self.host, self.port = u.hostname, u.port or 80
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        self.requests = 0

    def call(self, method, path, school=None, body=None, expect=(200, 201)):
        headers = {"X-Tenant-ID": TENANT}
        if school:
            headers["X-School-ID"] = school
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                break
            except (http.client.HTTPException, OSError):
                # A keep-alive connection the server closed: reconnect once.
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt == 2:
                    raise
        self.requests += 1
        if resp.status not in expect:
            raise RuntimeError(f"{method} {path}: {resp.status} {raw[:300]!r}")
        return json.loads(raw) if raw else None


def prepare(base, schools, part_name):
    """Devices of a sample of schools, and a part stocked at every shop."""
    api = Api(base)
    devices = {}
    for school in schools:
        page = api.call("GET", f"/v1/ssot/devices?schoolId={school}&limit=20")
        ids = [d["id"] for d in page["items"]]
        if ids:
            devices[school] = ids
    if not devices:
        sys.exit("ims_flow.py: no devices found for the sample schools")
    q = urllib.parse.quote(part_name)
    parts = api.call("GET", f"/v1/ssot/parts?q={q}&limit=1")["items"]
    if not parts:
        sys.exit(f"ims_flow.py: no part named {part_name!r}")
    part = parts[0]["id"]
    shops, cursor = [], None
    while True:
        path = "/v1/service-shops?limit=200" + (f"&cursor={cursor}" if cursor else "")
        page = api.call("GET", path)
        shops += [s["id"] for s in page["items"]]
        cursor = page.get("nextCursor")
        if not cursor:
            break
    for shop in shops:
        api.call(
            "POST",
            "/v1/inventory/upsert",
            body={"serviceShopId": shop, "partId": part, "qtyAvailable": 1_000_000, "reorderThreshold": 10},
        )
    return devices, part


def flow(api, school, device, part):
    inc = api.call(
        "POST",
        "/v1/incidents",
        school,
        {"deviceId": device, "title": "Cracked screen (bench flow)", "severity": "high", "category": "hardware"},
    )
    wos = api.call("GET", f"/v1/work-orders?incidentId={inc['id']}", school)["items"]
    if not wos:
        raise RuntimeError(f"incident {inc['id']} was not auto-routed")
    wo = wos[0]["id"]
    status = f"/v1/work-orders/{wo}/status"
    api.call("PATCH", status, school, {"status": "in_repair"})
    item = api.call("POST", f"/v1/work-orders/{wo}/bom/items", school, {"partId": part, "qtyPlanned": 1})
    api.call("PATCH", f"/v1/work-orders/{wo}/bom/items/{item['id']}/consume", school, {"qtyUsed": 1})
    api.call("PATCH", status, school, {"status": "completed"})
    api.call("PATCH", status, school, {"status": "approved"})
    after = api.call("GET", f"/v1/incidents/{inc['id']}", school)
    if after["status"] != "resolved":
        raise RuntimeError(f"incident {inc['id']} is {after['status']} after approval, not resolved")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--schools", required=True, help="file of school ids, one per line")
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--sample", type=int, default=200, help="schools to draw devices from")
    ap.add_argument("--part", default="Thermal paste 4g", help="a part that fits any model")
    a = ap.parse_args()

    with open(a.schools) as f:
        schools = [line.strip() for line in f if line.strip()]
    rnd = random.Random(2026)
    sample = rnd.sample(schools, min(a.sample, len(schools)))
    devices, part = prepare(a.base, sample, a.part)
    pool = [(s, d) for s, ds in devices.items() for d in ds]

    times, errors, requests = [], [], [0]
    lock = threading.Lock()
    start = time.monotonic()
    deadline = start + a.seconds

    def worker(n):
        api = Api(a.base)
        r = random.Random(n)
        mine = []
        while time.monotonic() < deadline:
            school, device = r.choice(pool)
            t0 = time.monotonic()
            try:
                flow(api, school, device, part)
            except Exception as e:  # noqa: BLE001 - every failure is reported
                with lock:
                    errors.append(str(e))
                break
            mine.append(time.monotonic() - t0)
        with lock:
            times.extend(mine)
            requests[0] += api.requests

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(a.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    times.sort()

    def pct(p):
        return 1000 * times[min(len(times) - 1, int(p / 100 * len(times)))] if times else 0

    print(
        json.dumps(
            {
                "flows": len(times),
                "seconds": round(elapsed, 3),
                "flows_per_s": round(len(times) / elapsed, 2),
                "p50_ms": round(pct(50), 2),
                "p99_ms": round(pct(99), 2),
                "requests": requests[0],
                "errors": len(errors),
                "first_error": errors[0] if errors else "",
            }
        )
    )
    if errors or not times:
        sys.exit(1)


if __name__ == "__main__":
    main()
