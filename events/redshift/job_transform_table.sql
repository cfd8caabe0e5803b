DROP TABLE IF EXISTS "raw"."clicks_daily__landfall_new";

CREATE TABLE "raw"."clicks_daily__landfall_new" AS SELECT * FROM (
SELECT partner_id, dt, count(*) AS clicks FROM raw.partner_clicks GROUP BY 1, 2
) AS q;

DROP TABLE IF EXISTS "raw"."clicks_daily__landfall_old";

ALTER TABLE "raw"."clicks_daily" RENAME TO "clicks_daily__landfall_old";

ALTER TABLE "raw"."clicks_daily__landfall_new" RENAME TO "clicks_daily";

GRANT SELECT ON "raw"."clicks_daily" TO GROUP "analysts";

DROP TABLE "raw"."clicks_daily__landfall_old";

UPDATE landfall.job_runs SET status = 'succeeded', finished = CAST('2026-12-01T00:00:05Z' AS timestamptz), rows_written = (SELECT count(*) FROM "raw"."clicks_daily"), watermark = NULL, after_mark = '2026-12-01 00:00:00+00' WHERE run_id = '20261201T000000Z-0000abcd';

