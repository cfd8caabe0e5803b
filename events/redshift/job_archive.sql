UNLOAD ('SELECT * FROM "raw"."partner_clicks" WHERE "dt" < \'2025-10-27\' AND "_landfall_loaded_at" <= CAST(\'2026-12-01T00:00:00.000Z\' AS timestamptz)')
TO 's3://lf-curated/archive/partner_clicks/20261201T000000Z-0000abcd/'
IAM_ROLE 'arn:aws:iam::123456789012:role/landfall-copy'
FORMAT AS PARQUET
PARTITION BY ("dt")
MANIFEST VERBOSE
CLEANPATH;

LOCK "raw"."partner_clicks";

SELECT 1 / CASE WHEN count(*) = 1200 THEN 1 ELSE 0 END FROM "raw"."partner_clicks" WHERE "dt" < '2025-10-27' AND "_landfall_loaded_at" <= CAST('2026-12-01T00:00:00.000Z' AS timestamptz);

DELETE FROM "raw"."partner_clicks" WHERE "dt" < '2025-10-27' AND "_landfall_loaded_at" <= CAST('2026-12-01T00:00:00.000Z' AS timestamptz);

UPDATE landfall.job_runs SET status = 'succeeded', finished = CAST('2026-12-01T00:00:05Z' AS timestamptz), rows_written = 1200, watermark = NULL, after_mark = '2026-12-01 00:00:00+00' WHERE run_id = '20261201T000000Z-0000abcd';

