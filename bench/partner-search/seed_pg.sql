-- Appends :n directory rows, as orgd-bench writes them, to organization :org.
-- psql -v org=ID -v n=N -f seed_pg.sql
INSERT INTO organization_partners (uuid, organization_id, company_name, company_name_folded,
    sales_amount, partner_type, email, email_folded, frequency, payment_terms, country_code,
    created_at, updated_at)
SELECT gen_random_uuid(), :org, name, lower(name), (i::bigint * 7919) % 1000000,
       CASE WHEN i % 3 = 0 THEN 'supplier' ELSE 'customer' END,
       'buyer' || i || '@partner' || i || '.example', 'buyer' || i || '@partner' || i || '.example',
       (ARRAY['weekly','monthly','yearly'])[i % 3 + 1], (ARRAY['net30','net60','prepaid'])[i % 3 + 1],
       'DE', now(), now()
FROM (SELECT i, w[i % 8 + 1] || ' ' || w[(i / 8) % 8 + 1] || ' ' || i AS name
      FROM generate_series(0, :n - 1) AS i,
           (SELECT ARRAY['Alpha','Nordic','Trading','Logistics','Foods','Metal','Textiles','Digital'] AS w) AS words) AS s;
