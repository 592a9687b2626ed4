-- Seed D's report "test_report": requests per HTTP status in seed B's CloudFront logs.
SELECT status, COUNT(*) AS requests
FROM serverlessland_database.cf_access_logs
GROUP BY status
ORDER BY status
