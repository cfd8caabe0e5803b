CREATE SCHEMA IF NOT EXISTS "landfall";

CREATE TABLE IF NOT EXISTS "landfall"."load_ledger" (
  table_name varchar(512) NOT NULL,
  file_id varchar(64) NOT NULL,
  feed varchar(256) NOT NULL,
  source_url varchar(2048) NOT NULL,
  etag varchar(256),
  manifest_key varchar(1024) NOT NULL,
  status varchar(32) NOT NULL,
  rows_loaded bigint NOT NULL,
  rows_rejected bigint NOT NULL,
  load_id varchar(64) NOT NULL,
  loaded_at timestamptz NOT NULL,
  detail varchar(65535)
);

CREATE TABLE IF NOT EXISTS "landfall"."load_rejects" (
  table_name varchar(512) NOT NULL,
  load_id varchar(64) NOT NULL,
  file_url varchar(2048) NOT NULL,
  line bigint,
  column_name varchar(256),
  reason varchar(1024) NOT NULL,
  rejected_at timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS "landfall"."feed_stats" (
  table_name varchar(512) NOT NULL,
  feed varchar(256) NOT NULL,
  dt date NOT NULL,
  dims varchar(65535) NOT NULL,
  rows_loaded bigint NOT NULL,
  files bigint NOT NULL,
  rows_rejected bigint NOT NULL,
  first_event timestamptz,
  last_event timestamptz,
  load_id varchar(64) NOT NULL,
  loaded_at timestamptz NOT NULL
)
COMPOUND SORTKEY(feed, loaded_at);

CREATE SCHEMA IF NOT EXISTS "analytics";

CREATE TABLE IF NOT EXISTS "analytics"."orders" (
  "customer_id" bigint,
  "ordered_at" timestamptz,
  "tags" super,
  "dt" date,
  "_landfall_file" varchar(1093),
  "_landfall_row" bigint,
  "_landfall_loaded_at" timestamptz
)
DISTSTYLE KEY DISTKEY("customer_id")
COMPOUND SORTKEY("dt", "ordered_at");

-- added coupon varchar(32)
ALTER TABLE "analytics"."orders" ADD COLUMN "coupon" varchar(32);

-- widened note varchar(64) -> varchar(256)
ALTER TABLE "analytics"."orders" ALTER COLUMN "note" TYPE varchar(256);

-- widened amount bigint -> numeric(38,2)
ALTER TABLE "analytics"."orders" ADD COLUMN "amount__landfall_widen" numeric(38,2);

UPDATE "analytics"."orders" SET "amount__landfall_widen" = CAST("amount" AS numeric(38,2));

ALTER TABLE "analytics"."orders" DROP COLUMN "amount";

ALTER TABLE "analytics"."orders" RENAME COLUMN "amount__landfall_widen" TO "amount";

