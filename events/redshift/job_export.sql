UNLOAD ('SELECT partner_id, count(*) AS clicks FROM raw.partner_clicks WHERE dt = \'2026-11-30\' GROUP BY 1')
TO 's3://lf-curated/exports/clicks_report/dt=2026-12-01/20261201T000000Z-0000abcd_'
IAM_ROLE 'arn:aws:iam::123456789012:role/landfall-copy'
FORMAT AS CSV HEADER GZIP
MANIFEST VERBOSE
PARALLEL OFF;
