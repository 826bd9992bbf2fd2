"""Appends N directory rows, as orgd-bench writes them, to one organization of an orgd SQLite
database: python3 seed_sqlite.py DB_PATH ORGANIZATION_ID N"""
import sqlite3, sys, uuid, datetime

path, org, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
WORDS = ["Alpha", "Nordic", "Trading", "Logistics", "Foods", "Metal", "Textiles", "Digital"]
now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")

def rows():
    for i in range(n):
        name = f"{WORDS[i % 8]} {WORDS[(i // 8) % 8]} {i}"
        email = f"buyer{i}@partner{i}.example"
        yield (uuid.uuid4().bytes, org, name, name.lower(), (i * 7919) % 1_000_000,
               "supplier" if i % 3 == 0 else "customer", email, email,
               ["weekly", "monthly", "yearly"][i % 3], ["net30", "net60", "prepaid"][i % 3],
               "DE", now, now)

c = sqlite3.connect(path)
c.execute("PRAGMA journal_mode=WAL")
c.executemany(
    "INSERT INTO organization_partners (uuid, organization_id, company_name, company_name_folded,"
    " sales_amount, partner_type, email, email_folded, frequency, payment_terms, country_code,"
    " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows())
c.commit()
c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
print(path, org, c.execute("SELECT count(*) FROM organization_partners WHERE organization_id=?", (org,)).fetchone()[0])
