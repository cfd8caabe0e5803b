LOCK "analytics"."orders";

DELETE FROM "landfall_staging" USING "landfall_files" f, "landfall"."load_ledger" l WHERE "landfall_staging"."_landfall_file" = f.url AND l.table_name = 'analytics.orders' AND l.file_id = f.file_id AND l.status IN ('loaded', 'partial');

DELETE FROM "landfall_files" USING "landfall"."load_ledger" l WHERE l.table_name = 'analytics.orders' AND l.file_id = "landfall_files".file_id AND l.status IN ('loaded', 'partial');

INSERT INTO "landfall"."load_rejects" (table_name, load_id, file_url, line, column_name, reason, rejected_at) SELECT 'analytics.orders', '0123456789abcdef0123', b.file_url, b.line, b.column_name, b.reason, CAST('2026-11-22T10:00:00.000000Z' AS timestamptz) FROM "landfall_bad_values" b JOIN "landfall_files" f ON f.url = b.file_url;

DELETE FROM "landfall"."load_ledger" USING "landfall_files" f WHERE "landfall"."load_ledger".table_name = 'analytics.orders' AND "landfall"."load_ledger".file_id = f.file_id;

INSERT INTO "analytics"."orders" ("order_id", "amount", "note", "attrs", "ordered_at", "dt", "_landfall_file", "_landfall_row", "_landfall_loaded_at") SELECT "order_id", "amount", "note", "attrs", "ordered_at", "dt", "_landfall_file", "_landfall_row", "_landfall_loaded_at" FROM "landfall_staging";

INSERT INTO "landfall"."load_ledger" (table_name, file_id, feed, source_url, etag, manifest_key, status, rows_loaded, rows_rejected, load_id, loaded_at, detail)
SELECT 'analytics.orders', f.file_id, f.feed, f.url, f.etag, f.manifest_key, f.status, COALESCE(c.n, 0), f.rows_rejected + COALESCE(r.n, 0), '0123456789abcdef0123', CAST('2026-11-22T10:00:00.000000Z' AS timestamptz), f.detail
FROM "landfall_files" f
LEFT JOIN (SELECT "_landfall_file" AS url, COUNT(*) AS n FROM "landfall_staging" GROUP BY "_landfall_file") c ON c.url = f.url
LEFT JOIN (SELECT file_url AS url, COUNT(*) AS n FROM "landfall"."load_rejects" WHERE table_name = 'analytics.orders' AND load_id = '0123456789abcdef0123' GROUP BY file_url) r ON r.url = f.url
WHERE NOT EXISTS (SELECT 1 FROM "landfall"."load_ledger" l WHERE l.table_name = 'analytics.orders' AND l.file_id = f.file_id);

