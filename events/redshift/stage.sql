CREATE TEMP TABLE "landfall_staging" ("order_id" bigint, "amount" numeric(18,2), "note" varchar(64), "attrs" super, "ordered_at" timestamptz, "dt" date, "_landfall_file" varchar(1093), "_landfall_row" bigint, "_landfall_loaded_at" timestamptz, "_landfall_seq" bigint);

CREATE TEMP TABLE "landfall_files" ("file_id" varchar(64), "url" varchar(2048), "seq" bigint, "feed" varchar(256), "etag" varchar(256), "manifest_key" varchar(1024), "status" varchar(32), "rows_rejected" bigint, "detail" varchar(65535));

CREATE TEMP TABLE "landfall_bad_values" (file_url varchar(65535), line bigint, column_name varchar(256), reason varchar(1024));

INSERT INTO "landfall_files" VALUES ('0000000000000000000000000000000000000000000000000000000000000000', 's3://landing/partner/o''brien-0.csv', 0, 'orders', '"etag-0"', '_manifests/orders/0.json', 'loaded', 1, '{"changes":[],"reason":null,"parse_status":"parsed"}'), ('0000000000000000000000000000000000000000000000000000000000000001', 's3://landing/partner/o''brien-1.csv', 1, 'orders', '"etag-1"', '_manifests/orders/1.json', 'loaded', 1, '{"changes":[],"reason":null,"parse_status":"parsed"}');

CREATE TEMP TABLE "landfall_raw_0" ("order_id" bigint, "amount" bigint, "note" varchar(65535), "attrs" varchar(65535), "_landfall_file" varchar(65535), "_landfall_row" bigint);

COPY "landfall_raw_0" FROM 's3://curated/_copy/orders/L1/0.manifest' IAM_ROLE 'arn:aws:iam::123456789012:role/landfall-copy' FORMAT AS PARQUET MANIFEST;

INSERT INTO "landfall_bad_values" SELECT r."_landfall_file", r."_landfall_row", 'attrs', 'the value is not JSON' FROM "landfall_raw_0" r WHERE r."attrs" IS NOT NULL AND CAN_JSON_PARSE(r."attrs") IS NOT TRUE;

INSERT INTO "landfall_staging" ("order_id", "amount", "note", "attrs", "dt", "_landfall_file", "_landfall_row", "_landfall_loaded_at", "_landfall_seq") SELECT r."order_id", CAST(r."amount" AS numeric(18,2)), CAST(r."note" AS varchar(64)), JSON_PARSE(r."attrs"), CAST('2026-11-20' AS date), r."_landfall_file", r."_landfall_row", CAST('2026-11-22T10:00:00.000000Z' AS timestamptz), f.seq FROM "landfall_raw_0" r JOIN "landfall_files" f ON f.url = r."_landfall_file" WHERE (r."attrs" IS NULL OR CAN_JSON_PARSE(r."attrs"));

DROP TABLE "landfall_raw_0";

CREATE TEMP TABLE "landfall_raw_1" ("order_id" bigint, "amount" numeric(18,2), "note" varchar(65535), "attrs" varchar(65535), "ordered_at" timestamp, "_landfall_file" varchar(65535), "_landfall_row" bigint);

COPY "landfall_raw_1" FROM 's3://curated/_copy/orders/L1/1.manifest' IAM_ROLE 'arn:aws:iam::123456789012:role/landfall-copy' FORMAT AS PARQUET MANIFEST;

INSERT INTO "landfall_bad_values" SELECT r."_landfall_file", r."_landfall_row", 'attrs', 'the value is not JSON' FROM "landfall_raw_1" r WHERE r."attrs" IS NOT NULL AND CAN_JSON_PARSE(r."attrs") IS NOT TRUE;

INSERT INTO "landfall_staging" ("order_id", "amount", "note", "attrs", "ordered_at", "dt", "_landfall_file", "_landfall_row", "_landfall_loaded_at", "_landfall_seq") SELECT r."order_id", r."amount", CAST(r."note" AS varchar(64)), JSON_PARSE(r."attrs"), CAST(r."ordered_at" AS timestamptz), CAST('2026-11-21' AS date), r."_landfall_file", r."_landfall_row", CAST('2026-11-22T10:00:00.000000Z' AS timestamptz), f.seq FROM "landfall_raw_1" r JOIN "landfall_files" f ON f.url = r."_landfall_file" WHERE (r."attrs" IS NULL OR CAN_JSON_PARSE(r."attrs"));

DROP TABLE "landfall_raw_1";

