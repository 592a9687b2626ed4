#!/usr/bin/env python3
"""Deterministic generator of Amazon CloudFront *standard* access log files.

Each output file is gzip-compressed, named the way CloudFront names them
(`<DistributionID>.<YYYY-MM-DD-HH>.<unique-id>.gz`), starts with the two
header lines `#Version: 1.0` and `#Fields: ...`, and holds one TAB-separated
line of 33 fields per request, `\\n` line ends. Fields without a value hold
CloudFront's placeholder `-` (read as NULL by numeric columns).

    python3 gen_cloudfront_logs.py OUT_DIR [--lines N] [--files F] [--seed S]
                                           [--target-bytes B] [--compresslevel L]
                                           [--stats FILE]

Default: 3000 lines in 3 files, seed 42. With --target-bytes, files of
--lines-per-file lines are written until the uncompressed total reaches about
B bytes (compresslevel 1 unless given). The same arguments always produce the
same bytes. Standard library only.

To stay fast (about a second per 50 MB on one core) every line is assembled
from precomputed pools: request "profiles" (method, path, status, sizes,
result types, timings, ...) and clients (edge location + IP); per line only
the time, request id and client port are drawn fresh.
"""

import argparse
import base64
import datetime as dt
import gzip
import json
import os
import random
import sys
from urllib.parse import quote

DISTRIBUTION_ID = "E2EXAMPLE1234"
CF_DOMAIN = "d111111abcdef8.cloudfront.net"
START = dt.datetime(2026, 11, 1, 13, 0, 0)
FILES_PER_HOUR = 2  # CloudFront delivers several files per distribution and hour

FIELDS = (
    "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status "
    "cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id "
    "x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher "
    "x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port "
    "time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len "
    "sc-range-start sc-range-end"
)
HEADER = "#Version: 1.0\n#Fields: " + FIELDS + "\n"
assert len(FIELDS.split()) == 33

EDGE_LOCATIONS = [
    # (location, weight)
    ("IAD89-C1", 9), ("IAD55-P2", 6), ("IAD12-P1", 4), ("JFK50-P3", 5), ("EWR53-C2", 3),
    ("ORD52-C2", 4), ("ATL56-C3", 3), ("DFW56-P1", 3), ("SFO53-P7", 4), ("LAX50-P4", 4),
    ("SEA19-C3", 2), ("YTO50-C1", 2), ("FRA56-P5", 6), ("FRA60-P7", 3), ("LHR61-P4", 5),
    ("AMS58-P2", 3), ("CDG52-P1", 3), ("MAD56-C1", 1), ("ARN54-C1", 1), ("NRT57-P3", 3),
    ("SIN2-P1", 2), ("BOM78-P1", 2), ("SYD62-P2", 2), ("GRU3-P2", 2),
]

USER_AGENTS = [
    # (raw user agent, weight); written URL-encoded the way CloudFront logs them
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/130.0.0.0 Safari/537.36", 22),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/129.0.0.0 Safari/537.36 Edg/129.0.0.0", 6),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.1 Safari/605.1.15", 10),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/130.0.0.0 Safari/537.36", 8),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0", 6),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/130.0.0.0 Safari/537.36", 3),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", 14),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/130.0.6723.86 Mobile Safari/537.36", 9),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 3),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", 1),
    ("curl/8.5.0", 2),
    ("python-requests/2.32.3", 2),
    ("Amazon CloudFront", 1),
    ("okhttp/4.12.0", 2),
    ('Mozilla/5.0 "quoted" test\\agent', 0.2),  # exercises %22 / %5C encoding
]

REFERERS = [
    ("-", 55),
    ("https://" + CF_DOMAIN + "/", 15),
    ("https://www.example.com/", 10),
    ("https://www.example.com/products/", 6),
    ("https://www.google.com/", 8),
    ("https://www.bing.com/", 2),
    ("https://t.co/abc123XYZ", 1),
    ("https://www.example.com/search?q=blue%20widget", 1),
]

QUERIES = [
    ("-", 80), ("a=1&b=2", 6), ("page=2&sort=price", 3), ("v=3", 4),
    ("utm_source=newsletter&utm_medium=email&utm_campaign=nov", 2),
    ("q=blue%20widget", 1), ("id=42", 2), ("format=webp&w=640", 2),
]

# Resources: (kind, weight, [paths], content type)
STATIC = [
    ("html", 20, ["/", "/index.html", "/about.html", "/contact.html", "/products/index.html",
                  "/blog/2026/10/launch.html", "/blog/index.html", "/pricing.html"], "text/html"),
    ("css", 10, ["/css/site.css", "/css/vendor.min.css", "/css/print.css"], "text/css"),
    ("js", 14, ["/js/app.js", "/js/vendor.min.js", "/js/analytics.js", "/js/chunk-3f9a1c.js"],
     "application/javascript"),
    ("png", 12, ["/images/logo.png", "/images/hero.png", "/images/icons/cart.png",
                 "/images/banner-nov.png"], "image/png"),
    ("jpg", 10, ["/images/products/widget-%d.jpg" % i for i in range(1, 41)], "image/jpeg"),
    ("svg", 4, ["/images/icons/search.svg", "/images/icons/menu.svg"], "image/svg+xml"),
    ("font", 3, ["/fonts/inter-regular.woff2", "/fonts/inter-bold.woff2"], "font/woff2"),
    ("ico", 3, ["/favicon.ico"], "image/x-icon"),
    ("txt", 1, ["/robots.txt"], "text/plain"),
    ("video", 2, ["/videos/intro.mp4", "/videos/product-demo.mp4"], "video/mp4"),
]
API_WEIGHT = 16

BODY_SIZES = {  # kind -> (min, max) of the object size in bytes
    "html": (4_000, 90_000), "css": (8_000, 160_000), "js": (20_000, 900_000),
    "png": (2_000, 400_000), "jpg": (30_000, 1_500_000), "svg": (300, 6_000),
    "font": (20_000, 120_000), "ico": (1_150, 15_086), "txt": (60, 400),
    "video": (8_000_000, 80_000_000), "api": (2, 8_000),
}

TLS13_CIPHERS = [("TLS_AES_128_GCM_SHA256", 70), ("TLS_AES_256_GCM_SHA384", 20),
                 ("TLS_CHACHA20_POLY1305_SHA256", 10)]
TLS12_CIPHERS = [("ECDHE-RSA-AES128-GCM-SHA256", 80), ("ECDHE-RSA-AES256-GCM-SHA384", 20)]

ERROR_DETAIL = {
    403: [("Error", 80), ("ClientGeoBlocked", 15), ("InvalidRequestBlocked", 5)],
    404: [("Error", 100)],
    500: [("OriginError", 70), ("OriginInvalidResponseError", 20), ("Error", 10)],
    503: [("OriginConnectError", 50), ("OriginDnsError", 10), ("OriginReadError", 25),
          ("CapacityExceeded", 15)],
}


def cf_encode(value):
    """URL-encode a header value the way CloudFront writes it in standard logs:
    spaces become %20; quotes, backslashes, tabs and non-ASCII are %-escaped;
    the punctuation of a typical User-Agent stays as it is."""
    return quote(value, safe="/;:,()=+&?!*'@$[]~.-_")


def pick(rng, weighted):
    values = [v for v, _ in weighted]
    weights = [w for _, w in weighted]
    return rng.choices(values, weights=weights)[0]


def secs(x):
    return "%.3f" % x


def make_profile(rng):
    """One request shape: everything about a line except when it happened, who asked
    (location, client IP, port) and the request id. Returned as pre-joined segments."""
    if rng.random() < API_WEIGHT / (API_WEIGHT + sum(s[1] for s in STATIC)):
        kind, ctype = "api", "application/json"
        n = rng.randint(1, 99999)
        method, path = pick(rng, [
            (("GET", "/api/orders/%d" % n), 40), (("GET", "/api/products/%d" % (n % 500)), 25),
            (("POST", "/api/orders"), 14), (("PUT", "/api/orders/%d" % n), 4),
            (("DELETE", "/api/orders/%d" % n), 2), (("GET", "/api/cart"), 8),
            (("OPTIONS", "/api/orders"), 4), (("POST", "/api/session"), 3),
        ])
        cacheable = False
    else:
        kind, _, paths, ctype = pick(rng, [((k, w, p, c), w) for k, w, p, c in STATIC])
        path = rng.choice(paths)
        method = pick(rng, [("GET", 96), ("HEAD", 4)])
        cacheable = True

    protocol = pick(rng, [("https", 96), ("http", 4)])
    if protocol == "http":
        status = pick(rng, [(301, 70), (200, 25), (404, 5)])
    elif kind == "video" and method == "GET":
        status = pick(rng, [(206, 85), (200, 10), (304, 3), (403, 2)])
    else:
        status = pick(rng, [(200, 847), (304, 60 if cacheable else 0), (404, 40), (403, 15),
                            (500, 7), (503, 5)])

    # Result types: x-edge-result-type / x-edge-response-result-type / detailed.
    if status == 301:
        result = detailed = "Redirect"
    elif status >= 400:
        result = "Error"
        detailed = pick(rng, ERROR_DETAIL[status])
        if detailed == "CapacityExceeded":
            result = "CapacityExceeded"
    elif cacheable:
        result = pick(rng, [("Hit", 72), ("RefreshHit", 6), ("Miss", 22)])
        detailed = result
    else:
        result = detailed = "Miss"
    response_result = result
    if result in ("Hit", "Miss") and rng.random() < 0.004:
        # The viewer went away mid-response: served result stays, the response is an Error.
        response_result = "Error"
        detailed = "ClientHungUpRequest" if rng.random() < 0.5 else "ClientCommError"

    lo, hi = BODY_SIZES[kind]
    body = int(lo * (hi / lo) ** rng.random())  # log-uniform object size
    range_start = range_end = "-"
    if status == 206:
        chunk = rng.choice([65_536, 1_048_576, 2_097_152])
        start = rng.randrange(0, max(1, body - chunk), 65_536) if rng.random() < 0.8 else 0
        end = min(body - 1, start + chunk - 1)
        range_start, range_end = str(start), str(end)
        content_len = str(end - start + 1)
        out_body = end - start + 1
    elif status == 304 or method == "HEAD" or method == "OPTIONS":
        content_len, out_body = ("0" if method == "OPTIONS" else "-"), 0
        if status == 304:
            ctype = "-"
    elif status == 301:
        ctype, content_len, out_body = "text/html", "167", 167
    elif status >= 400:
        ctype = "text/html" if kind != "api" else "application/json"
        out_body = rng.choice([915, 919, 1_053]) if kind != "api" else rng.randint(40, 180)
        content_len = str(out_body)
    else:
        out_body = body
        # Chunked responses (no Content-Length) are logged with the placeholder.
        content_len = "-" if (kind == "api" and rng.random() < 0.3) else str(body)
    sc_bytes = out_body + rng.randint(180, 620)  # body plus response headers

    cs_bytes = rng.randint(90, 900)
    if method in ("POST", "PUT"):
        cs_bytes += rng.randint(60, 6_000)

    if protocol == "https":
        if rng.random() < 0.86:
            ssl_protocol, cipher = "TLSv1.3", pick(rng, TLS13_CIPHERS)
        else:
            ssl_protocol, cipher = "TLSv1.2", pick(rng, TLS12_CIPHERS)
        http_version = pick(rng, [("HTTP/2.0", 70), ("HTTP/1.1", 22), ("HTTP/3.0", 8)])
    else:
        ssl_protocol = cipher = "-"
        http_version = pick(rng, [("HTTP/1.1", 97), ("HTTP/1.0", 3)])

    # Timings (seconds): a cache hit is served in milliseconds; misses wait for the origin.
    if result in ("Hit", "RefreshHit", "Redirect") or status == 304:
        ttfb = rng.uniform(0.0004, 0.012)
    elif status == 503 and detailed == "OriginReadError":
        ttfb = rng.uniform(10.0, 30.0)
    else:
        ttfb = rng.uniform(0.015, 0.35) * (3 if rng.random() < 0.05 else 1)
    transfer = out_body / rng.uniform(2e6, 60e6)
    time_taken = max(0.001, round(ttfb + transfer, 3))
    ttfb = max(0.001, round(min(ttfb, time_taken), 3))

    user_agent = cf_encode(pick(rng, USER_AGENTS))
    referer = pick(rng, REFERERS) if kind != "api" or rng.random() < 0.5 else "-"
    query = pick(rng, QUERIES) if method in ("GET", "HEAD") else "-"
    host_header = CF_DOMAIN if rng.random() < 0.7 else "www.example.com"
    xff = "-" if rng.random() < 0.98 else "%d.%d.%d.%d" % (
        rng.randint(11, 99), rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254))

    # Segments between the per-line fields, each ending in TAB where a field follows.
    seg_a = "%d\t" % sc_bytes  # sc-bytes, then c-ip follows
    seg_b = "\t".join([method, CF_DOMAIN, path, str(status), referer, user_agent, query, "-",
                       result]) + "\t"  # ... x-edge-result-type, then x-edge-request-id
    seg_c = "\t".join([host_header, protocol, str(cs_bytes), secs(time_taken), xff,
                       ssl_protocol, cipher, response_result, http_version, "-", "-"]) + "\t"
    # ... fle-encrypted-fields, then c-port
    seg_d = "\t".join([secs(ttfb), detailed, ctype, content_len, range_start, range_end]) + "\n"
    return (seg_a, seg_b, seg_c, seg_d, str(status), sc_bytes)


def make_client(rng):
    location = pick(rng, EDGE_LOCATIONS)
    if rng.random() < 0.22:
        ip = "2%03x:%x:%x:%x:%x:%x:%x:%x" % (
            rng.choice([0x001, 0x003, 0x400, 0x600, 0xa00]), rng.randrange(0x10000),
            rng.randrange(0x10000), rng.randrange(0x10000), rng.randrange(0x10000),
            rng.randrange(0x10000), rng.randrange(0x10000), rng.randrange(1, 0x10000))
    else:
        first = rng.choice([3, 13, 18, 24, 31, 34, 44, 52, 54, 63, 66, 71, 73, 77, 81, 86, 89,
                            98, 104, 108, 151, 172, 176, 185, 192, 203, 212])
        ip = "%d.%d.%d.%d" % (first, rng.randrange(256), rng.randrange(256), rng.randint(1, 254))
    return location + "\t", ip + "\t"


def build_pools(rng, n_profiles=20_000, n_clients=4_000):
    profiles = [make_profile(rng) for _ in range(n_profiles)]
    clients = [make_client(rng) for _ in range(n_clients)]
    # Zipf-like popularity for clients: a few heavy clients, a long tail.
    weights = [1.0 / (i + 1) ** 0.8 for i in range(n_clients)]
    acc, cum = 0.0, []
    for w in weights:
        acc += w
        cum.append(acc)
    return profiles, clients, cum


class Stats:
    def __init__(self):
        self.by_status = {}

    def add(self, chosen):
        counts = {}
        for p in chosen:
            counts[id(p)] = counts.get(id(p), 0) + 1
        by_id = {id(p): p for p in chosen}
        for key, n in counts.items():
            p = by_id[key]
            s = self.by_status.setdefault(p[4], [0, 0])
            s[0] += n
            s[1] += n * p[5]


def write_file(path, hour, n_lines, rng, pools, compresslevel, stats, budget=None):
    """Write one log file for `hour` with up to n_lines lines; stop early once the
    uncompressed byte budget (if any) is used up. Returns (lines, uncompressed bytes)."""
    profiles, clients, client_cum = pools
    day = hour.strftime("%Y-%m-%d")
    prefixes = ["%s\t%02d:%02d:%02d\t" % (day, hour.hour, s // 60, s % 60) for s in range(3600)]
    header = HEADER.encode()
    written_lines, written_bytes = 0, len(header)
    b64 = base64.urlsafe_b64encode
    randbytes, getrandbits = rng.randbytes, rng.getrandbits
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                                compresslevel=compresslevel, mtime=0) as gz:
        gz.write(header)
        # Times within the hour, in order; lines are produced in chunks to bound memory.
        times = sorted(rng.randrange(3600) for _ in range(n_lines))
        chunk = 20_000
        for off in range(0, n_lines, chunk):
            k = min(chunk, n_lines - off)
            chosen = rng.choices(profiles, k=k)
            who = rng.choices(clients, cum_weights=client_cum, k=k)
            ids = b64(randbytes(42 * k)).decode()  # 56 characters per request id
            lines = []
            append = lines.append
            for i in range(k):
                p = chosen[i]
                c = who[i]
                # A 40-byte id in URL-safe base64 is 54 characters and "==", the last
                # character carrying 2 bits: one of A, Q, g, w (like CloudFront's).
                j = 56 * i
                rid = ids[j:j + 53] + "AQgw"[ord(ids[j + 53]) & 3] + "=="
                append(prefixes[times[off + i]] + c[0] + p[0] + c[1] + p[1] + rid + "\t" + p[2]
                       + str(1024 + getrandbits(16) % 64512) + "\t" + p[3])
                # (exactly 33 TAB-separated fields; see FIELDS)
            data = "".join(lines).encode()
            if budget is not None and written_bytes + len(data) > budget:
                # Keep lines while under budget, including the one that reaches it, so the
                # running total ends at or just past the target.
                cut, total = 0, written_bytes
                for line in lines:
                    if total >= budget:
                        break
                    total += len(line)
                    cut += 1
                lines, chosen = lines[:cut], chosen[:cut]
                data = "".join(lines).encode()
                gz.write(data)
                written_lines += cut
                written_bytes += len(data)
                if stats:
                    stats.add(chosen)
                break
            gz.write(data)
            written_lines += k
            written_bytes += len(data)
            if stats:
                stats.add(chosen)
    return written_lines, written_bytes


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--lines", type=int, default=3000, help="total lines (default 3000)")
    ap.add_argument("--files", type=int, default=3, help="number of files (default 3)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--target-bytes", type=int, default=None,
                    help="write files until the uncompressed total reaches about B bytes "
                         "(ignores --lines/--files)")
    ap.add_argument("--lines-per-file", type=int, default=50_000,
                    help="lines per file with --target-bytes (default 50000)")
    ap.add_argument("--compresslevel", type=int, default=None,
                    help="gzip level (default 6, or 1 with --target-bytes)")
    ap.add_argument("--stats", default=None,
                    help="also write a JSON file with totals and per-status requests/bytes")
    args = ap.parse_args(argv)
    if args.files < 1 or args.lines < 0 or args.lines_per_file < 1:
        ap.error("--files must be >= 1, --lines >= 0, --lines-per-file >= 1")

    level = args.compresslevel if args.compresslevel is not None else (
        1 if args.target_bytes else 6)
    rng = random.Random(args.seed)
    pools = build_pools(rng)
    os.makedirs(args.out_dir, exist_ok=True)
    stats = Stats() if args.stats else None

    def name_for(i):
        hour = START + dt.timedelta(hours=i // FILES_PER_HOUR)
        uid = "%08x" % rng.getrandbits(32)
        return hour, "%s.%s.%s.gz" % (DISTRIBUTION_ID, hour.strftime("%Y-%m-%d-%H"), uid)

    total_lines = total_bytes = n_files = 0
    if args.target_bytes:
        while total_bytes < args.target_bytes:
            hour, name = name_for(n_files)
            lines, size = write_file(os.path.join(args.out_dir, name), hour, args.lines_per_file,
                                     rng, pools, level, stats,
                                     budget=args.target_bytes - total_bytes)
            n_files += 1
            total_lines += lines
            total_bytes += size
    else:
        base, extra = divmod(args.lines, args.files)
        for i in range(args.files):
            hour, name = name_for(i)
            lines, size = write_file(os.path.join(args.out_dir, name), hour,
                                     base + (1 if i < extra else 0), rng, pools, level, stats)
            n_files += 1
            total_lines += lines
            total_bytes += size

    if stats:
        with open(args.stats, "w") as f:
            json.dump({"files": n_files, "lines": total_lines, "uncompressed_bytes": total_bytes,
                       "seed": args.seed,
                       "by_status": {k: {"requests": v[0], "bytes": v[1]}
                                     for k, v in sorted(stats.by_status.items())}}, f, indent=1)
            f.write("\n")
    print("gen_cloudfront_logs: %d files, %d lines, %d uncompressed bytes -> %s"
          % (n_files, total_lines, total_bytes, args.out_dir), file=sys.stderr)


if __name__ == "__main__":
    main()
