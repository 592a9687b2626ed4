-- Seed E's Glue database and table (shared/seed-workflows/e-athena-queries-via-lambda): the
-- Glue crawler of the upstream stack made `output_crawler.order_details` over the pizza
-- sales CSV. Here the CSV is definitions/data/pizza_sales/order_details (a small sample in
-- the pizza-sales dataset's columns), served by sfnlite.toml as the bucket
-- sfnlite-pizza-sales. sfnlite.toml runs this script before each command, hence IF NOT EXISTS.

CREATE DATABASE IF NOT EXISTS output_crawler;

CREATE EXTERNAL TABLE IF NOT EXISTS output_crawler.order_details (
  order_details_id INT, order_id INT, pizza_id STRING, quantity INT)
ROW FORMAT DELIMITED FIELDS TERMINATED BY ','
LOCATION 's3://sfnlite-pizza-sales/order_details/'
TBLPROPERTIES ('skip.header.line.count'='1');
