-- Seed B's Glue database and table (shared/seed-workflows/b-sfn-athena-cdk-python), as
-- Athena DDL. The table reads the CloudFront access logs in definitions/data/cloudfront-logs,
-- which sfnlite.toml serves as the bucket sfnlite-cloudfront-logs.
-- sfnlite.toml runs this script before each command (athena.init), hence IF NOT EXISTS.

CREATE DATABASE IF NOT EXISTS serverlessland_database;

CREATE EXTERNAL TABLE IF NOT EXISTS serverlessland_database.cf_access_logs (
  `date` DATE, time STRING, location STRING, bytes BIGINT, request_ip STRING, method STRING,
  host STRING, uri STRING, status STRING, referer STRING, user_agent STRING, query_string STRING,
  cookie STRING, result_type STRING, request_id STRING, host_header STRING, request_protocol STRING,
  request_bytes BIGINT, time_taken FLOAT, xforwarded_for STRING, ssl_protocol STRING, ssl_cipher STRING,
  response_result_type STRING, http_version STRING, fle_status STRING, fle_encrypted_fields INT,
  c_port INT, time_to_first_byte FLOAT, x_edge_detailed_result_type STRING, sc_content_type STRING,
  sc_content_len STRING, sc_range_start BIGINT, sc_range_end BIGINT)
ROW FORMAT DELIMITED FIELDS TERMINATED BY '\t'
LOCATION 's3://sfnlite-cloudfront-logs/'
TBLPROPERTIES ('skip.header.line.count'='2');
