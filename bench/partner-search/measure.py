"""p50/p90 of GET /v1/partners searches against a running orgd, one keep-alive connection:
python3 measure.py PORT TOKEN SMALL_ORG_UUID LARGE_ORG_UUID REPEAT"""
import http.client, json, statistics, sys, time, urllib.parse

port, token, small, large, repeat = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
CASES = [
    ("company_name", "alpha metal 424"),
    ("email", "buyer777@"),
    ("company_name", "dig"),
    ("company_name", "di"),
]
conn = http.client.HTTPConnection("127.0.0.1", int(port))
out = {}
for field, term in CASES:
    for label, org in (("1k", small), ("1M", large)):
        path = ("/v1/partners?partner_types=customer&partner_types=supplier"
                f"&search_field={field}&search_text={urllib.parse.quote(term)}"
                "&order_by=sales_amount&order_dir=desc&limit=25&offset=0")
        headers = {"Authorization": f"Bearer {token}", "Requester-Organization-ID": org,
                   "Target-Organization-ID": org}
        times, total = [], None
        for k in range(repeat + 3):
            t = time.perf_counter()
            conn.request("GET", path, headers=headers)
            r = conn.getresponse()
            body = r.read()
            dt = (time.perf_counter() - t) * 1000
            assert r.status == 200, (r.status, body[:300])
            total = json.loads(body)["total_items"]
            if k >= 3:  # warm-up
                times.append(dt)
        times.sort()
        p50 = statistics.median(times)
        p90 = times[int(len(times) * 0.9) - 1]
        out[(field, term, label)] = p50
        print(f"{field:>12} {term!r:>18} {label:>3}  total={total:>7}  p50={p50:8.2f} ms  p90={p90:8.2f} ms", flush=True)
for field, term in CASES:
    a, b = out[(field, term, "1k")], out[(field, term, "1M")]
    print(f"ratio 1M/1k {field:>12} {term!r:>18}: {b / a:6.2f}")
