LOCK "raw"."orders_latest";

DROP TABLE IF EXISTS landfall_job_rows;

CREATE TEMP TABLE landfall_job_rows AS SELECT * FROM (
SELECT order_id, status, updated_at FROM raw.orders
) AS q WHERE ((SELECT max("updated_at") FROM "raw"."orders_latest") IS NULL OR q."updated_at" > (SELECT max("updated_at") FROM "raw"."orders_latest"));

DELETE FROM "raw"."orders_latest" USING landfall_job_rows n WHERE "raw"."orders_latest"."order_id" = n."order_id";

INSERT INTO "raw"."orders_latest" SELECT * FROM landfall_job_rows;

UPDATE landfall.job_runs SET status = 'succeeded', finished = CAST('2026-12-01T00:00:05Z' AS timestamptz), rows_written = (SELECT count(*) FROM landfall_job_rows), watermark = (SELECT CAST(max("updated_at") AS varchar(256)) FROM "raw"."orders_latest"), after_mark = '2026-12-01 00:00:00+00' WHERE run_id = '20261201T000000Z-0000abcd';

DROP TABLE landfall_job_rows;

